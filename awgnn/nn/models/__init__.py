"""PyG's ``BasicGNN`` models with learned widths: same constructor, same forward; frozen, PyG's own models
or a :class:`StaticBasicGNN` of upstream layers."""

from awgnn.nn.models.basic_gnn import AdaptiveBasicGNN, ConcatLinear, PyGFrozenForm, follow_norm
from awgnn.nn.models.gcn import AdaptiveGCN
from awgnn.nn.models.gin import AdaptiveGIN, AdaptiveGINMLP
from awgnn.nn.models.static import StaticBasicGNN

__all__ = [
    "AdaptiveBasicGNN",
    "AdaptiveGCN",
    "AdaptiveGIN",
    "AdaptiveGINMLP",
    "ConcatLinear",
    "PyGFrozenForm",
    "StaticBasicGNN",
    "follow_norm",
]
