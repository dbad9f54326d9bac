"""PyTorch Geometric layers and models with learned widths."""

from awgnn.nn.conv import ActivatedGCNConv, AdaptiveGCNConv, AdaptiveGINConv
from awgnn.nn.models import AdaptiveGCN, AdaptiveGIN

__all__ = ["ActivatedGCNConv", "AdaptiveGCN", "AdaptiveGCNConv", "AdaptiveGIN", "AdaptiveGINConv"]
