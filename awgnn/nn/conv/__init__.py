from awgnn.nn.conv.gcn_conv import ActivatedGCNConv, AdaptiveGCNConv
from awgnn.nn.conv.gin_conv import AdaptiveGINConv

__all__ = ["ActivatedGCNConv", "AdaptiveGCNConv", "AdaptiveGINConv"]
