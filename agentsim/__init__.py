"""agentsim: simulate clinical diagnosis with AI agents.

The public library API lives in submodules; importing the package itself stays light (no torch,
no gradio, no chromadb) so the CLI's ``--help`` is instant.
"""

__version__ = "0.1.0"
