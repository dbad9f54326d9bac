"""Outer cross-validation folds with one inner hold-out each (fair-comparison protocol, Errica et al. 2020).

A study reads the official gnn-comparison split file of its dataset and feature
variant when there is one, and otherwise generates stratified splits from a
seed and caches them, so that a rerun (or another model compared against it)
uses exactly the same graphs in every fold.

Indices are 0-based positions in raw dataset order. Every fold is validated on
load, because a broken split silently leaks test graphs into training.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import torch

from awgnn.harness.atomic import write_json_atomically
from awgnn.width.validation import check_int_at_least

Indices = tuple[int, ...]

# Written into cached generated splits; bump it if generate_splits ever changes its
# output for the same parameters, so that old caches are refused instead of mixed.
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class Fold:
    """One outer fold: its test set and the inner hold-out of its training part.

    ``train`` ∪ ``validation`` is the outer training part. Model selection and
    the final runs train on ``train`` and early-stop on ``validation``
    (fair-comparison protocol, Errica et al. 2020).
    """

    test: Indices
    train: Indices
    validation: Indices

    def to_json(self) -> dict[str, Any]:
        """This fold in the gnn-comparison schema (one ``model_selection`` element)."""
        return {
            "test": list(self.test),
            "model_selection": [{"train": list(self.train), "validation": list(self.validation)}],
        }


@dataclass(frozen=True)
class Splits:
    """The outer folds of one dataset, with where they came from.

    ``source`` is the official file's path or a description of the generator
    and its parameters; reports print it so that results state their splits.
    """

    folds: tuple[Fold, ...]
    num_graphs: int
    source: str

    def __len__(self) -> int:
        return len(self.folds)

    def __getitem__(self, k: int) -> Fold:
        return self.folds[k]

    def __iter__(self) -> Iterator[Fold]:
        return iter(self.folds)

    def to_json(self) -> list[dict[str, Any]]:
        """The folds in the gnn-comparison JSON schema (fair-comparison protocol, Errica et al. 2020)."""
        return [fold.to_json() for fold in self.folds]

    @classmethod
    def from_json(cls, data: Any, num_graphs: int, source: str) -> Splits:
        """Parse and validate folds in the gnn-comparison schema.

        ``source`` names the data in error messages (usually a file path).
        Raises ``ValueError`` naming the source, the fold and the problem when
        the schema or an invariant of the fair-comparison protocol (Errica et al., ICLR 2020) does not hold.
        """
        num_graphs = check_int_at_least("num_graphs", num_graphs, 1)
        if not isinstance(data, list) or not data:
            raise ValueError(f"{source}: expected a non-empty JSON array of folds, got {type(data).__name__}")
        folds = tuple(_parse_fold(entry, source, k) for k, entry in enumerate(data))
        _check_invariants(folds, num_graphs, source)
        return cls(folds, num_graphs, source)

    @classmethod
    def single(cls, fold: Fold, num_graphs: int, source: str) -> Splits:
        """A predefined train/validation/test split (such as OGB's scaffold split) as a one-fold study.

        The fold must partition the ``num_graphs`` graphs; test sets need not
        cover them, as there is no cross-validation.
        """
        num_graphs = check_int_at_least("num_graphs", num_graphs, 1)
        _check_partition(fold, num_graphs, f"{source}: fold 0")
        return cls((fold,), num_graphs, source)

    def head(self, max_folds: int | None) -> Splits:
        """The first ``max_folds`` folds (all when ``None``), for quick runs."""
        if max_folds is None:
            return self
        max_folds = check_int_at_least("max_folds", max_folds, 1)
        if max_folds > len(self.folds):
            raise ValueError(f"max_folds must be at most the {len(self.folds)} folds of {self.source}, got {max_folds}")
        return Splits(self.folds[:max_folds], self.num_graphs, f"{self.source} (first {max_folds} folds)")


def _parse_fold(entry: Any, source: str, k: int) -> Fold:
    where = f"{source}: fold {k}"
    if not isinstance(entry, dict) or set(entry) != {"test", "model_selection"}:
        keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
        raise ValueError(f"{where}: expected an object with keys 'test' and 'model_selection', got {keys}")
    selection = entry["model_selection"]
    if not isinstance(selection, list) or len(selection) != 1:
        count = len(selection) if isinstance(selection, list) else type(selection).__name__
        raise ValueError(f"{where}: expected exactly one model_selection element (one inner hold-out), got {count}")
    inner = selection[0]
    if not isinstance(inner, dict) or set(inner) != {"train", "validation"}:
        keys = sorted(inner) if isinstance(inner, dict) else type(inner).__name__
        raise ValueError(f"{where}: expected model_selection[0] with keys 'train' and 'validation', got {keys}")
    return Fold(
        test=_parse_indices(entry["test"], f"{where}: test"),
        train=_parse_indices(inner["train"], f"{where}: train"),
        validation=_parse_indices(inner["validation"], f"{where}: validation"),
    )


def _parse_indices(values: Any, where: str) -> Indices:
    if not isinstance(values, list) or not values:
        raise ValueError(f"{where}: expected a non-empty list of graph indices")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{where}: expected integer graph indices")
    if len(set(values)) != len(values):
        raise ValueError(f"{where}: contains duplicate indices")
    return tuple(values)


def _check_invariants(folds: Sequence[Fold], num_graphs: int, source: str) -> None:
    """the fair-comparison protocol (Errica et al., ICLR 2020): each fold partitions 0..N-1, and so do the test sets."""
    tested: dict[int, int] = {}
    for k, fold in enumerate(folds):
        _check_partition(fold, num_graphs, f"{source}: fold {k}")
        for g in fold.test:
            if g in tested:
                raise ValueError(f"{source}: fold {k}: test set overlaps the test set of fold {tested[g]} (graph {g})")
            tested[g] = k
    if len(tested) != num_graphs:
        missing = min(set(range(num_graphs)) - tested.keys())
        raise ValueError(
            f"{source}: the {len(folds)} test sets cover {len(tested)} of {num_graphs} graphs (graph {missing} "
            f"is never tested); expected them to cover every graph"
        )


def _check_partition(fold: Fold, num_graphs: int, where: str) -> None:
    """Train, validation and test of ``fold`` are disjoint and together hold every graph."""
    parts = {"test": set(fold.test), "train": set(fold.train), "validation": set(fold.validation)}
    for name, part in parts.items():
        outside = [g for g in part if not 0 <= g < num_graphs]
        if outside:
            raise ValueError(
                f"{where}: {name} has indices outside 0..{num_graphs - 1} (e.g. {min(outside)}); "
                f"the split is for another dataset or a filtered one"
            )
    for a, b in (("train", "validation"), ("train", "test"), ("validation", "test")):
        shared = parts[a] & parts[b]
        if shared:
            raise ValueError(f"{where}: {a} and {b} share {len(shared)} graphs (e.g. {min(shared)})")
    covered = sum(len(part) for part in parts.values())
    if covered != num_graphs:
        raise ValueError(
            f"{where}: train, validation and test hold {covered} graphs together, expected all {num_graphs} "
            f"of the dataset"
        )


def read_official_splits(path: str | os.PathLike[str], num_graphs: int, max_folds: int | None = None) -> Splits:
    """Read and validate a gnn-comparison split file (fair-comparison protocol, Errica et al. 2020).

    The whole file is validated against ``num_graphs`` (the dataset's size)
    before the first ``max_folds`` folds are kept.
    """
    path = Path(path)
    return Splits.from_json(_read_json(path), num_graphs, str(path)).head(max_folds)


def _read_json(path: Path) -> Any:
    try:
        with path.open() as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def generate_splits(
    labels: Sequence[int] | np.ndarray | torch.Tensor,
    n_outer: int = 10,
    holdout: float = 0.1,
    seed: int = 0,
) -> Splits:
    """Stratified ``n_outer``-fold CV with a stratified hold-out in each training part.

    Outer folds: the members of each class are shuffled and dealt round-robin
    to the folds, continuing the deal across classes, so every fold receives
    ``floor`` or ``ceil`` of ``n_c / n_outer`` graphs of each class ``c`` and
    fold sizes differ by at most one. Inner hold-out: ``ceil(holdout * n)`` of
    the ``n`` training graphs go to validation (the gnn-comparison sizes),
    shared among classes in proportion to their counts by largest remainder.

    Deterministic for a seed; uses numpy only. All index lists are sorted.
    """
    y = _check_labels(labels)
    n_outer = check_int_at_least("n_outer", n_outer, 2)
    holdout = _check_holdout(holdout)
    seed = check_int_at_least("seed", seed, 0)
    if n_outer > len(y):
        raise ValueError(f"n_outer must be at most the number of graphs ({len(y)}), got {n_outer}")
    rng = np.random.default_rng(seed)
    dealt = np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)])
    fold_of = np.empty(len(y), dtype=np.int64)
    fold_of[dealt] = np.arange(len(y)) % n_outer
    folds = []
    for k in range(n_outer):
        outer_train = np.flatnonzero(fold_of != k)
        validation = _stratified_holdout(outer_train, y[outer_train], holdout, rng)
        folds.append(
            Fold(
                test=_as_indices(np.flatnonzero(fold_of == k)),
                train=_as_indices(np.setdiff1d(outer_train, validation)),
                validation=_as_indices(validation),
            )
        )
    source = f"generated seed={seed} n_outer={n_outer} holdout={holdout}"
    return Splits(tuple(folds), len(y), source)


def _stratified_holdout(pool: np.ndarray, y: np.ndarray, holdout: float, rng: np.random.Generator) -> np.ndarray:
    classes, counts = np.unique(y, return_counts=True)
    n_validation = math.ceil(holdout * len(pool))
    if n_validation >= len(pool):
        raise ValueError(f"holdout={holdout} leaves no training graphs out of {len(pool)}; expected a smaller holdout")
    ideal = n_validation * counts / len(pool)
    share = np.floor(ideal).astype(np.int64)
    # Largest remainder; the stable sort breaks ties by class order, keeping the result seed-free.
    share[np.argsort(share - ideal, kind="stable")[: n_validation - share.sum()]] += 1
    chosen = [rng.choice(pool[y == c], size=s, replace=False) for c, s in zip(classes, share)]
    return np.sort(np.concatenate(chosen))


def _check_labels(labels: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    y = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.ndim != 1 or len(y) == 0 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"labels must be a non-empty 1-D sequence of integer class labels, got shape {y.shape} and dtype {y.dtype}"
        )
    return y


def _check_holdout(holdout: object) -> float:
    if isinstance(holdout, bool) or not isinstance(holdout, Real) or not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be a fraction in the open interval (0, 1), got {holdout!r}")
    return float(holdout)


def _as_indices(values: np.ndarray) -> Indices:
    return tuple(int(v) for v in values)


def load_or_create_splits(
    labels: Sequence[int] | np.ndarray | torch.Tensor,
    *,
    official: str | os.PathLike[str] | None,
    cache: str | os.PathLike[str] | None,
    n_outer: int = 10,
    holdout: float = 0.1,
    seed: int = 0,
    max_folds: int | None = None,
) -> Splits:
    """The splits a study uses: the official file if present, else cached generated splits.

    - ``official`` (see :func:`awgnn.harness.data.official_split_path`): read
      and validated when the file exists; ``n_outer``, ``holdout`` and
      ``seed`` are then unused. A path that does not exist falls back to
      generated splits with a warning, since results on them are not
      comparable with published ones.
    - ``cache``: generated splits are saved there (atomically) on first use
      and read back on later runs. A cache made with other parameters
      (``n_outer``, ``holdout``, ``seed``, number of graphs) is refused rather
      than mixed with new ones. ``None`` generates without saving.
    - ``max_folds`` keeps only the first folds, for quick runs.
    """
    y = _check_labels(labels)
    n_outer = check_int_at_least("n_outer", n_outer, 2)
    holdout = _check_holdout(holdout)
    seed = check_int_at_least("seed", seed, 0)
    if official is not None:
        official = Path(official)
        if official.is_file():
            return read_official_splits(official, len(y), max_folds)
        warnings.warn(
            f"official split file {official} not found; generating stratified splits with seed={seed} instead, "
            f"so results are not comparable with published ones",
            stacklevel=2,
        )
    parameters = {
        "n_outer": n_outer,
        "holdout": holdout,
        "seed": seed,
        "num_graphs": len(y),
        "generator_version": GENERATOR_VERSION,
    }
    if cache is None:
        return generate_splits(y, n_outer, holdout, seed).head(max_folds)
    cache = Path(cache)
    if cache.is_file():
        return _read_cached_splits(cache, parameters).head(max_folds)
    splits = generate_splits(y, n_outer, holdout, seed)
    write_json_atomically(cache, {"parameters": parameters, "folds": splits.to_json()})
    return Splits(splits.folds, splits.num_graphs, f"{splits.source}, cached at {cache}").head(max_folds)


def _read_cached_splits(path: Path, parameters: dict[str, Any]) -> Splits:
    content = _read_json(path)
    if not isinstance(content, dict) or set(content) != {"parameters", "folds"}:
        raise ValueError(
            f"{path}: expected a cached splits object with keys 'parameters' and 'folds'; "
            f"official split files are passed as official=, not cache="
        )
    cached = content["parameters"]
    if cached != parameters:
        keys = parameters.keys() | cached.keys()
        differing = sorted(key for key in keys if cached.get(key) != parameters.get(key))
        details = ", ".join(
            f"{key}: cached {cached.get(key)!r}, requested {parameters.get(key)!r}" for key in differing
        )
        raise ValueError(
            f"{path}: cached splits were generated with other parameters ({details}); "
            f"pass the cached parameters or another cache path"
        )
    source = (
        f"generated seed={cached['seed']} n_outer={cached['n_outer']} holdout={cached['holdout']}, cached at {path}"
    )
    return Splits.from_json(content["folds"], parameters["num_graphs"], source)
