"""The fair-comparison protocol as data: which runs exist, who wins, what is reported.

For every model and outer fold ``k`` (fair-comparison protocol, Errica et al. 2020):

1. *model selection*: each grid configuration is trained once on fold k's
   inner-train part and scored on its validation part (the score at the
   early-stopping epoch); a grid of one configuration has nothing to select,
   so it trains no selection run (PyDGN skips it too);
2. the configuration with the highest validation score wins (ties: the first
   in grid order, or the last with ``tie_break="last"``, the reference code's
   rule); failed (NaN) runs never win;
3. *risk assessment*: the winner is retrained ``final_runs`` times from scratch
   on the same inner-train/validation split, and the fold score is the mean of
   their test scores at their best-validation epochs.

Grid points that differ only in the early-stopping monitor (the fair GIN
grid's ``monitor`` axis) train the same model from the same seed, so their
selection runs share one training (:func:`shared_trainings`).

The reported number is the mean and population standard deviation (ddof=0)
of the fold scores. Everything here is pure: it plans runs and reduces their
records, so it is tested on fake scores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SELECTION = "selection"
FINAL = "final"


@dataclass(frozen=True)
class RunKey:
    """Identifies one training run of an experiment."""

    model: str
    fold: int
    kind: str  # SELECTION or FINAL
    config_id: int  # index of the grid point
    repeat: int = 0  # final run index

    @property
    def relative_path(self) -> str:
        """Where the run's record lives, close to PyDGN's results layout."""
        fold = f"{self.model}/OUTER_FOLD_{self.fold + 1}"
        if self.kind == SELECTION:
            return f"{fold}/MODEL_SELECTION/config_{self.config_id + 1}.json"
        return f"{fold}/final_run_{self.repeat + 1}.json"

    def seed(self, base_seed: int) -> int:
        """A per-run seed derived from the experiment's seed and the run's identity."""
        words = [base_seed, self.fold, 0 if self.kind == SELECTION else 1, self.config_id, self.repeat]
        words += [ord(c) for c in self.model]
        return int(np.random.SeedSequence(words).generate_state(1)[0]) & 0x7FFFFFFF


def selection_keys(model: str, fold: int, num_configs: int) -> list[RunKey]:
    """The fold's model-selection runs: none for a single configuration, which wins unopposed."""
    if num_configs == 1:
        return []
    return [RunKey(model, fold, SELECTION, config_id) for config_id in range(num_configs)]


def final_keys(model: str, fold: int, config_id: int, final_runs: int) -> list[RunKey]:
    return [RunKey(model, fold, FINAL, config_id, repeat) for repeat in range(final_runs)]


def shared_trainings(points: Sequence[dict[str, Any]]) -> list[tuple[int, ...]]:
    """Config ids of grid points grouped by what they train: equal points but for ``monitor``.

    Each group's selection runs are one training, seeded by the group's first
    config id (:meth:`RunKey.seed`), so a point without a twin keeps its own
    seed. Groups and their members are in grid order.
    """
    groups: dict[str, list[int]] = {}
    for config_id, point in enumerate(points):
        trained = {key: value for key, value in point.items() if key != "monitor"}
        groups.setdefault(json.dumps(trained, sort_keys=True, default=str), []).append(config_id)
    return [tuple(group) for group in groups.values()]


@dataclass(frozen=True)
class Selection:
    """Outcome of model selection in one fold (``val_score`` ``None``: the grid's only configuration)."""

    config_id: int
    val_score: float | None
    tied: tuple[int, ...]  # every config id that reached the winning score


UNOPPOSED = Selection(0, None, (0,))


def select_best(val_scores: Sequence[float | None], tie_break: str = "first") -> Selection:
    """The winning configuration among validation scores (``None``: a failed run)."""
    if tie_break not in ("first", "last"):
        raise ValueError(f"tie_break must be 'first' or 'last', got {tie_break!r}")
    valid = [(i, s) for i, s in enumerate(val_scores) if s is not None and not math.isnan(s)]
    if not valid:
        raise ValueError("every configuration of this fold failed: no model can be selected")
    best = max(s for _, s in valid)
    tied = tuple(i for i, s in valid if s == best)
    return Selection(tied[0] if tie_break == "first" else tied[-1], best, tied)


@dataclass(frozen=True)
class FoldResult:
    fold: int
    selection: Selection
    test_scores: tuple[float | None, ...]

    @property
    def score(self) -> float | None:
        """Mean test score of the final runs; ``None`` if any failed."""
        if not self.test_scores or any(s is None for s in self.test_scores):
            return None
        return float(np.mean(self.test_scores))


def summarise(folds: Sequence[FoldResult]) -> dict[str, Any]:
    """Mean and population standard deviation (ddof=0) of the fold scores."""
    scores = [f.score for f in folds if f.score is not None]
    return {
        "mean": float(np.mean(scores)) if scores else None,
        "std": float(np.std(scores, ddof=0)) if scores else None,
        "folds_scored": len(scores),
        "folds": len(folds),
    }
