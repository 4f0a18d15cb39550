"""PyTorch ViTPose and its checkpoint layouts (needs torch)."""

from .loading import DEFAULT_MODEL, load_model

__all__ = ["DEFAULT_MODEL", "load_model"]
