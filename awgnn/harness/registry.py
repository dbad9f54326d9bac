"""The model classes a configuration may name, and what the harness needs to know of them."""
from __future__ import annotations

import inspect
from dataclasses import dataclass

from awgnn.models import (
    AdaptiveGCNClassifier,
    AdaptiveGINClassifier,
    BlockReadoutClassifier,
    FairGIN,
    GCNClassifier,
    GINClassifier,
)


@dataclass(frozen=True)
class ModelSpec:
    cls: type[BlockReadoutClassifier]
    adaptive: bool

    @property
    def arguments(self) -> tuple[str, ...]:
        """Constructor arguments a grid may set (the data decides the input and output sizes)."""
        parameters = inspect.signature(self.cls.__init__).parameters
        return tuple(name for name in parameters if name not in ("self", "in_channels", "num_classes"))


MODEL_CLASSES: dict[str, ModelSpec] = {
    "AdaptiveGINClassifier": ModelSpec(AdaptiveGINClassifier, adaptive=True),
    "AdaptiveGCNClassifier": ModelSpec(AdaptiveGCNClassifier, adaptive=True),
    "GINClassifier": ModelSpec(GINClassifier, adaptive=False),
    "GCNClassifier": ModelSpec(GCNClassifier, adaptive=False),
    "FairGIN": ModelSpec(FairGIN, adaptive=False),
}
