"""Where tensors live: the GPU if there is one, else the CPU (one place for the whole package)."""
from __future__ import annotations


def device():
    """The GPU if there is one, else the CPU, as a ``torch.device``."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
