"""PyTorch Geometric layers with learned widths."""
from awgnn.nn.conv import ActivatedGCNConv, AdaptiveGCNConv, AdaptiveGINConv

__all__ = ["ActivatedGCNConv", "AdaptiveGCNConv", "AdaptiveGINConv"]
