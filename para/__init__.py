"""para: parallel development sessions of one git repository, on the host or in containers."""

__version__ = "0.1.0"
