"""privevo: differentially private synthetic images with Private Evolution."""

__version__ = "0.1.0"
