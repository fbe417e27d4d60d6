"""moorage: a self-hosted container registry with built-in image security."""

__version__ = "0.1.0"
