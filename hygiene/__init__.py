"""hygiene: clean huge personal photo archives on your own machine."""

__version__ = "0.1.0"
