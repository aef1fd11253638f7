"""The ``agentsim`` command line: a thin shell over the library API."""
