"""The results folder of one experiment: written once per run, atomically.

Layout (close to PyDGN's)::

    <results>/experiment.json                           configuration and its fingerprint
    <results>/splits.json                               generated splits (when no official file)
    <results>/<model>/OUTER_FOLD_<k>/MODEL_SELECTION/config_<i>.json
    <results>/<model>/OUTER_FOLD_<k>/final_run_<r>.json
    <results>/summary.json, report.md, plots/           rebuilt from the run records

A run's record is written to a temporary file and renamed into place, so a
crash never leaves half a record; an existing record is never rewritten, so a
rerun reuses finished runs untouched and only runs what is missing. Selection
runs of grid points that differ only in the early-stopping monitor share one
training: their records are written when it ends, each with its share of the
training's time in ``seconds``, so the records' seconds add up to the time spent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from awgnn.harness.atomic import write_json_atomically
from awgnn.harness.config import ExperimentConfig
from awgnn.harness.protocol import RunKey

EXPERIMENT_FILE = "experiment.json"


class ResultsConflict(RuntimeError):
    """The results folder belongs to a different experiment."""


class ResultStore:
    """Run records of one experiment under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._scores: dict[RunKey, dict[str, Any]] = {}

    def check(self, config: ExperimentConfig) -> None:
        """Refuse a folder that holds another experiment's results."""
        path = self.root / EXPERIMENT_FILE
        if not path.exists():
            return
        existing = json.loads(path.read_text())
        if existing.get("fingerprint") != config.fingerprint():
            raise ResultsConflict(
                f"{self.root} holds results of a different configuration "
                f"({existing.get('source', '?')}, fingerprint {existing.get('fingerprint')}); "
                f"{config.source} has fingerprint {config.fingerprint()}. "
                "Choose another --results folder instead of mixing results."
            )

    def claim(self, config: ExperimentConfig, details: dict[str, Any]) -> None:
        """Make ``root`` this experiment's folder (recording ``details``), or refuse."""
        self.check(config)
        if not (self.root / EXPERIMENT_FILE).exists():
            write_json_atomically(
                self.root / EXPERIMENT_FILE,
                {
                    "name": config.name,
                    "source": config.source,
                    "fingerprint": config.fingerprint(),
                    "config": config.to_dict(),
                    **details,
                },
            )

    def experiment(self) -> dict[str, Any]:
        return json.loads((self.root / EXPERIMENT_FILE).read_text())

    def path(self, key: RunKey) -> Path:
        return self.root / key.relative_path

    def has(self, key: RunKey) -> bool:
        return self.path(key).is_file()

    def read(self, key: RunKey) -> dict[str, Any]:
        return json.loads(self.path(key).read_text())

    def scores(self, key: RunKey) -> dict[str, Any]:
        """The run's validation and test scores, read once (records never change)."""
        if key not in self._scores:
            record = self.read(key)
            self._scores[key] = {"val_score": record["val_score"], "test_score": record["test_score"]}
        return self._scores[key]

    def write(self, key: RunKey, record: dict[str, Any]) -> None:
        """Store a finished run's record, unless one is already there."""
        if not self.has(key):
            write_json_atomically(self.path(key), record)
