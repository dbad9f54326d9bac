"""Graph classifiers: the AWN paper's GIN, an adaptive GCN, their fixed-width
counterparts, and the GIN of the fair-comparison protocol."""

from awgnn.models.base import BlockReadoutClassifier, StaticClassifier
from awgnn.models.fair_gin import AdaptiveFairGIN, FairGIN
from awgnn.models.gcn import AdaptiveGCNClassifier, GCNClassifier
from awgnn.models.gin import AdaptiveGINClassifier, GINClassifier
from awgnn.models.growing import GrowingFairGIN, GrowingGINClassifier

__all__ = [
    "AdaptiveFairGIN",
    "AdaptiveGCNClassifier",
    "AdaptiveGINClassifier",
    "BlockReadoutClassifier",
    "FairGIN",
    "GCNClassifier",
    "GINClassifier",
    "GrowingFairGIN",
    "GrowingGINClassifier",
    "StaticClassifier",
]
