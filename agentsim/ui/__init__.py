"""The Gradio app: a thin shell over :mod:`agentsim.live` and the library API."""
