"""PyG's ``BasicGNN`` models with learned widths: same constructor, same forward."""

from awgnn.nn.models.basic_gnn import AdaptiveBasicGNN, ConcatLinear, follow_norm
from awgnn.nn.models.gcn import AdaptiveGCN
from awgnn.nn.models.gin import AdaptiveGIN, AdaptiveGINMLP

__all__ = ["AdaptiveBasicGNN", "AdaptiveGCN", "AdaptiveGIN", "AdaptiveGINMLP", "ConcatLinear", "follow_norm"]
