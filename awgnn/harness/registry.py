"""The model classes a configuration may name, and what the harness needs to know of them."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from awgnn.models import (
    AdaptiveFairGIN,
    AdaptiveGCNClassifier,
    AdaptiveGINClassifier,
    BlockReadoutClassifier,
    FairGIN,
    GCNClassifier,
    GINClassifier,
    GrowingFairGIN,
    GrowingGINClassifier,
)


@dataclass(frozen=True)
class ModelSpec:
    """A model class and how the harness trains it.

    ``adaptive``: its widths are learned (ELBO by default, width updates after
    every step, presets allowed). ``grows``: its hidden widths are fixed and
    change only by the growth steps of the ``growth*`` training keys.
    ``controllable``: an adaptive class whose hidden MLP widths the training
    key ``width_control`` may set instead of the rates.
    """

    cls: type[BlockReadoutClassifier]
    adaptive: bool
    grows: bool = False
    controllable: bool = False

    @property
    def arguments(self) -> tuple[str, ...]:
        """Constructor arguments a grid may set (the data decides the input and output sizes)."""
        parameters = inspect.signature(self.cls.__init__).parameters
        return tuple(name for name in parameters if name not in ("self", "in_channels", "num_classes"))


MODEL_CLASSES: dict[str, ModelSpec] = {
    "AdaptiveGINClassifier": ModelSpec(AdaptiveGINClassifier, adaptive=True, controllable=True),
    "AdaptiveGCNClassifier": ModelSpec(AdaptiveGCNClassifier, adaptive=True),
    "GINClassifier": ModelSpec(GINClassifier, adaptive=False),
    "GCNClassifier": ModelSpec(GCNClassifier, adaptive=False),
    "FairGIN": ModelSpec(FairGIN, adaptive=False),
    "AdaptiveFairGIN": ModelSpec(AdaptiveFairGIN, adaptive=True, controllable=True),
    "GrowingGINClassifier": ModelSpec(GrowingGINClassifier, adaptive=False, grows=True),
    "GrowingFairGIN": ModelSpec(GrowingFairGIN, adaptive=False, grows=True),
}
