"""Graph-classification datasets with the node features of the fair-comparison protocol.

Layout of a data root (the same as the shared offline data folder)::

    <data_root>/TUDataset/<NAME>/raw/<NAME>_A.txt, ...   PyG's TUDataset layout
    <data_root>/splits/fair_comparison/<VARIANT_DIR>/<NAME>_splits.json
    <data_root>/OGB/ogbg_molhiv/...                      PyG layout of the ogb package
    <data_root>/Planetoid/<Cora|CiteSeer>/raw/ind.*      PyG's Planetoid layout (node classification)

MUTAG's raw files ship inside the package (``awgnn/datasets``): they are the
default when no data root is given and the download cache has no copy, so the
quick benchmark runs offline on any machine.

Node features follow the fair-comparison protocol (Errica et al., ICLR 2020): chemical sets use one-hot node
labels (ENZYMES adds its 18 continuous attributes); social sets have no node
labels and get either a constant 1 or the node degree as one raw scalar, each a
separate experiment with its own official split file. Graphs are never
filtered, so indices are raw TU positions and match the split files.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, Literal, TypeVar

import torch
from torch import Tensor
from torch_geometric.data import Data, Dataset
from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
from torch_geometric.data.storage import GlobalStorage
from torch_geometric.datasets import Planetoid, TUDataset
from torch_geometric.transforms import BaseTransform, Constant
from torch_geometric.utils import degree

from awgnn.harness.splits import Fold

Kind = Literal["chemical", "social"]
FeatureVariant = Literal["labels", "constant", "degree"]
Metric = Literal["accuracy", "rocauc"]

# OGB datasets behind the same interface, with their official metric.
OGB_DATASETS: Mapping[str, Metric] = MappingProxyType({"ogbg-molhiv": "rocauc"})

# Raw TU files shipped inside the package, read when no data root is given and nothing is cached.
EMBEDDED_DATA_ROOT = Path(__file__).resolve().parents[1] / "datasets"
EMBEDDED_TU_DATASETS = ("MUTAG",)

_DatasetT = TypeVar("_DatasetT", bound=Dataset)

_OFFICIAL_SPLITS_DIR = Path("splits", "fair_comparison")
_SOCIAL_SPLIT_DIRS: Mapping[FeatureVariant, str] = MappingProxyType(
    {"constant": "COLLABORATIVE_1", "degree": "COLLABORATIVE_DEGREE"}
)


@dataclass(frozen=True)
class TUDatasetSpec:
    """What the protocol expects of one TU dataset (fair-comparison protocol, Errica et al. 2020).

    ``split_file`` is the gnn-comparison file's name (``None`` for MUTAG, which
    has none); social sets keep one file per feature variant, in
    ``COLLABORATIVE_1`` (constant) and ``COLLABORATIVE_DEGREE`` (degree).
    """

    name: str
    kind: Kind
    num_graphs: int
    num_classes: int
    num_features: int
    split_file: str | None
    use_node_attr: bool = False

    @property
    def feature_variants(self) -> tuple[FeatureVariant, ...]:
        """The node-feature variants this dataset is run with; the first is the default."""
        return ("degree", "constant") if self.kind == "social" else ("labels",)

    def resolve_features(self, features: str | None) -> FeatureVariant:
        """``features`` checked against this dataset, ``None`` meaning the default variant."""
        if features is None:
            return self.feature_variants[0]
        if features not in self.feature_variants:
            raise ValueError(
                f"features for {self.kind} dataset {self.name} must be one of "
                f"{', '.join(map(repr, self.feature_variants))} or None, got {features!r}"
            )
        return features

    def split_path(self, features: FeatureVariant) -> Path | None:
        """The official split file relative to the data root, if the dataset has one."""
        if self.split_file is None:
            return None
        folder = _SOCIAL_SPLIT_DIRS[features] if self.kind == "social" else "CHEMICAL"
        return _OFFICIAL_SPLITS_DIR / folder / self.split_file


TU_DATASETS: Mapping[str, TUDatasetSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            # name, kind, graphs, classes, node-feature columns, official split file
            TUDatasetSpec("MUTAG", "chemical", 188, 2, 7, None),
            TUDatasetSpec("NCI1", "chemical", 4110, 2, 37, "NCI1_splits.json"),
            # PyG's PROTEINS lists the graphs of PROTEINS_full in the same order; node labels only.
            TUDatasetSpec("PROTEINS", "chemical", 1113, 2, 3, "PROTEINS_full_splits.json"),
            TUDatasetSpec("DD", "chemical", 1178, 2, 89, "DD_splits.json"),
            # The only dataset using continuous node attributes: 18 attributes + 3 one-hot labels.
            TUDatasetSpec("ENZYMES", "chemical", 600, 6, 21, "ENZYMES_splits.json", use_node_attr=True),
            TUDatasetSpec("IMDB-BINARY", "social", 1000, 2, 1, "IMDB-BINARY_splits.json"),
            TUDatasetSpec("IMDB-MULTI", "social", 1500, 3, 1, "IMDB-MULTI_splits.json"),
            TUDatasetSpec("REDDIT-BINARY", "social", 2000, 2, 1, "REDDIT-BINARY_splits.json"),
            TUDatasetSpec("COLLAB", "social", 5000, 3, 1, "COLLAB_splits.json"),
            TUDatasetSpec("REDDIT-MULTI-5K", "social", 4999, 5, 1, "REDDIT-MULTI-5K_splits.json"),
        )
    }
)


@dataclass(frozen=True)
class LoadedDataset:
    """A dataset ready for the harness, with what models and metrics need to know.

    ``labels`` are the graph labels in raw order (for stratification and class
    counts). ``predefined_split`` and ``evaluator`` are set for OGB datasets,
    which come with their own scaffold split and metric.
    """

    name: str
    features: str
    dataset: Dataset
    num_features: int
    num_classes: int
    labels: torch.Tensor
    metric: Metric
    predefined_split: Fold | None = None
    evaluator: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class OGBDataset:
    """An OGB graph-property dataset with its scaffold split and official evaluator."""

    dataset: Dataset
    split: Fold
    evaluator: Any


def resolve_data_root(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``cli_value``, else ``$AWGNN_DATA``, else :func:`default_data_root`."""
    if cli_value is not None:
        return Path(cli_value).expanduser()
    if os.environ.get("AWGNN_DATA"):
        return Path(os.environ["AWGNN_DATA"]).expanduser()
    return default_data_root()


def default_data_root() -> Path:
    """The download cache, the data root when none is given.

    ``$XDG_CACHE_HOME/awgnn/data`` (``~/.cache/awgnn/data`` when unset), where
    PyG downloads missing datasets on machines with network. MUTAG missing
    there is read from the copy shipped in the package instead (see
    :data:`EMBEDDED_TU_DATASETS`).
    """
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home).expanduser() / "awgnn" / "data"


def tu_dataset_spec(name: str) -> TUDatasetSpec:
    """The table entry of a supported TU dataset; ``ValueError`` listing them otherwise."""
    try:
        return TU_DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown TU dataset {name!r}; expected one of {', '.join(TU_DATASETS)} (names are case-sensitive)"
        ) from None


def official_split_path(root: str | os.PathLike[str], name: str, features: str | None = None) -> Path | None:
    """Where the gnn-comparison split file of ``name`` with ``features`` lives under ``root``.

    ``None`` when the protocol has no file for the dataset (MUTAG); the path is
    returned whether or not the file exists.
    """
    spec = tu_dataset_spec(name)
    relative = spec.split_path(spec.resolve_features(features))
    return None if relative is None else Path(root) / relative


def check_finite_features(x: Tensor | None, where: str, ptr: Tensor | None = None) -> None:
    """Raise ``ValueError`` naming ``where`` when node features ``x`` hold NaN or infinite values.

    Unnamed, such a feature makes every loss and gradient NaN, which reads as a
    training that diverged (and a learning rate to lower). ``ptr``, the first
    node of every graph (a batch's ``ptr``, a dataset's ``slices["x"]``),
    locates the first such node by graph.
    """
    if x is None or not x.is_floating_point():
        return
    bad = ~torch.isfinite(x)
    if not bad.any():
        return
    nodes = bad.reshape(x.size(0), -1).any(dim=1).nonzero().view(-1)
    first = int(nodes[0])
    place = f"node {first}"
    if ptr is not None:
        graph = int(torch.searchsorted(ptr, nodes[0], right=True)) - 1
        place = f"graph {graph} (its node {first - int(ptr[graph])})"
    raise ValueError(
        f"{where}: input features contain NaN/inf in {nodes.numel()} node(s) ({int(bad.sum())} value(s)), the "
        f"first in {place}; replace or drop them before training"
    )


class DegreeFeature(BaseTransform):
    """Replace node features by the in-degree as one raw float scalar, shape ``(n, 1)``.

    Not one-hot (fair-comparison protocol, Errica et al. 2020). The TU social graphs store both directions of
    every edge and have no self-loops (checked for IMDB-B, IMDB-M and REDDIT-B),
    so in-degree equals networkx's degree.
    """

    def forward(self, data: Data) -> Data:
        data.x = degree(data.edge_index[1], data.num_nodes, dtype=torch.float).view(-1, 1)
        return data


class OneHotColumns(BaseTransform):
    """Integer categorical node features ``[num_nodes, C]`` to the concatenation of their one-hot codes.

    OGB molecules carry 9 categorical atom features; the classifiers take
    float features, and one-hot codes are what the protocol gives the
    chemical TU sets. ``sizes[c]`` is the number of categories of column ``c``.
    """

    def __init__(self, sizes: Sequence[int]) -> None:
        self.sizes = tuple(int(size) for size in sizes)
        self.offsets = torch.tensor([0, *self.sizes[:-1]]).cumsum(0)

    @property
    def num_features(self) -> int:
        return sum(self.sizes)

    def forward(self, data: Data) -> Data:
        columns = data.x.long()
        if columns.dim() != 2 or columns.size(1) != len(self.sizes):
            raise ValueError(
                f"expected integer node features of shape [num_nodes, {len(self.sizes)}], got {tuple(data.x.shape)}"
            )
        x = torch.zeros(columns.size(0), self.num_features)
        x.scatter_(1, columns + self.offsets, 1.0)
        data.x = x
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sizes={list(self.sizes)})"


def _feature_transform(features: FeatureVariant) -> BaseTransform:
    return DegreeFeature() if features == "degree" else Constant(value=1.0, cat=False)


def processed_cache(root: str | os.PathLike[str]) -> Path:
    """Where the processed tensors of the datasets under ``root`` are kept.

    ``$XDG_CACHE_HOME/awgnn/processed/<hash of root>`` (``~/.cache`` when
    unset): the data root itself is only read, so it may be a shared,
    read-only folder.
    """
    key = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:12]
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home).expanduser() / "awgnn" / "processed" / key


class _CachedTUDataset(TUDataset):
    """A TUDataset reading raw files from the data root, its processed files kept in the cache.

    The processed folder is named per node-feature variant (``processed_labels``,
    ``processed_degree``, ``processed_constant``): PyG only warns when a folder
    was built with another ``pre_transform`` and then reuses it, so separate
    folders make mixing variants impossible.
    """

    def __init__(
        self, root: str, name: str, features: FeatureVariant, use_node_attr: bool, processed_root: Path
    ) -> None:
        self.features = features
        self.processed_root = processed_root
        pre_transform = None if features == "labels" else _feature_transform(features)
        super().__init__(root, name, pre_transform=pre_transform, use_node_attr=use_node_attr)

    @property
    def processed_dir(self) -> str:
        return os.path.join(self.processed_root, self.name, f"processed_{self.features}")


def load_tu_dataset(
    name: str,
    root: str | os.PathLike[str],
    features: str | None = None,
    *,
    download: bool = True,
) -> TUDataset:
    """A TU dataset from ``<root>/TUDataset/<name>`` with the protocol's node features.

    The raw files are only read; processed tensors go to :func:`processed_cache`.

    ``features``: ``None`` or ``"labels"`` for chemical sets; ``"degree"``
    (default) or ``"constant"`` for social sets. The raw files are read
    without network when present; otherwise PyG downloads them when
    ``download`` is true. When ``root`` is :func:`default_data_root` and
    lacks them, a dataset of :data:`EMBEDDED_TU_DATASETS` (MUTAG) is read from
    the copy shipped in the package. The number of graphs, classes and feature
    columns is checked against :data:`TU_DATASETS`.

    Raises ``ValueError`` for an unknown dataset or feature variant, a
    dataset that does not match the table or NaN or infinite node features,
    and ``FileNotFoundError`` when the raw files are missing and cannot be
    downloaded.
    """
    spec = tu_dataset_spec(name)
    resolved = spec.resolve_features(features)
    root = _tu_source_root(name, Path(root))
    tu_root = root / "TUDataset"
    raw_dir = tu_root / name / "raw"
    dataset = _read_raw_files(
        lambda: _CachedTUDataset(str(tu_root), name, resolved, spec.use_node_attr, processed_cache(root)),
        f"{name}: raw TU files",
        root,
        raw_dir,
        _required_tu_files(name, raw_dir),
        download,
    )
    _check_against_spec(dataset, spec, raw_dir)
    check_finite_features(dataset.x, f"{name} (read from {raw_dir})", dataset.slices["x"])
    return dataset


def _read_raw_files(
    build: Callable[[], _DatasetT], what: str, root: Path, raw_dir: Path, required: Sequence[Path], download: bool
) -> _DatasetT:
    """``build()`` a PyG dataset whose raw files belong in ``raw_dir``; PyG downloads them if missing and ``download``.

    Raises one ``FileNotFoundError`` naming the folder and how to point at
    another when ``required`` files are missing and cannot be downloaded.
    The download's own error is only quoted: its traceback runs to some 90
    lines of fsspec and aiohttp and would bury the message.
    """
    if not download and not all(path.is_file() for path in required):
        raise _missing_files_error(what, root, raw_dir, required, "download not allowed")
    try:
        return build()
    except Exception as error:  # PyG downloads through fsspec and aiohttp, whose errors are not all OSErrors
        if all(path.is_file() for path in required):
            raise  # the files are there: the failure is not the download's
        raise _missing_files_error(what, root, raw_dir, required, f"the download failed: {error}") from None


def _missing_files_error(
    what: str, root: Path, raw_dir: Path, required: Sequence[Path], reason: str
) -> FileNotFoundError:
    return FileNotFoundError(
        f"{what} missing in {raw_dir} ({reason}); expected {', '.join(p.name for p in required)} there. "
        f"Copy them there, or {_data_root_hint(raw_dir.relative_to(root))}"
    )


def _data_root_hint(folder: Path) -> str:
    """How to read a dataset from another data root, for every error about missing files."""
    return (
        f"point awgnn at a data folder holding {folder.as_posix()}/: set the AWGNN_DATA environment variable "
        "or pass --data-root (root= from Python)"
    )


def _required_tu_files(name: str, raw_dir: Path) -> list[Path]:
    return [raw_dir / f"{name}_{part}.txt" for part in ("A", "graph_indicator", "graph_labels")]


def _tu_source_root(name: str, root: Path) -> Path:
    """``root``, or the package's embedded copy for a shipped dataset that the default root lacks.

    Only the default root falls back: a data root the user names is used as it is.
    """
    if name not in EMBEDDED_TU_DATASETS or root.resolve() != default_data_root().resolve():
        return root
    if all(path.is_file() for path in _required_tu_files(name, root / "TUDataset" / name / "raw")):
        return root
    return EMBEDDED_DATA_ROOT


def _check_against_spec(dataset: TUDataset, spec: TUDatasetSpec, raw_dir: Path) -> None:
    found = {"graphs": len(dataset), "classes": dataset.num_classes, "node-feature columns": dataset.num_features}
    expected = {"graphs": spec.num_graphs, "classes": spec.num_classes, "node-feature columns": spec.num_features}
    wrong = [f"{found[key]} {key} (expected {expected[key]})" for key in found if found[key] != expected[key]]
    if dataset.y is None or wrong:
        problem = "no graph labels" if dataset.y is None else ", ".join(wrong)
        raise ValueError(
            f"{spec.name} loaded from {raw_dir} has {problem}; the raw files may be incomplete or another "
            f"dataset's, or {Path(dataset.processed_dir)} is stale (delete it to rebuild)"
        )


@dataclass(frozen=True)
class PlanetoidSpec:
    """The expected size of a Planetoid citation graph (public split)."""

    name: str
    num_nodes: int
    num_features: int
    num_classes: int
    num_train: int


PLANETOID_DATASETS: Mapping[str, PlanetoidSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            PlanetoidSpec("Cora", 2708, 1433, 7, 140),
            PlanetoidSpec("CiteSeer", 3327, 3703, 6, 120),
            PlanetoidSpec("PubMed", 19717, 500, 3, 60),
        )
    }
)


class _CachedPlanetoid(Planetoid):
    """A Planetoid graph reading raw files from the data root, its processed file kept in the cache."""

    def __init__(self, root: str, name: str, processed_root: Path) -> None:
        self.processed_root = processed_root
        super().__init__(root, name, split="public")

    @property
    def processed_dir(self) -> str:
        return os.path.join(self.processed_root, "Planetoid", self.name, "processed_public")


def load_planetoid(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> Planetoid:
    """A Planetoid citation graph (Cora, CiteSeer, PubMed) with its public split.

    Read from ``<root>/Planetoid/<name>/raw/ind.<name>.*``, the layout PyG's
    :class:`~torch_geometric.datasets.Planetoid` downloads; ``root`` defaults
    to :func:`resolve_data_root` (``$AWGNN_DATA``, else the download cache).
    The raw files are only read; the processed file goes to
    :func:`processed_cache`. Without the files PyG downloads them when
    ``download`` is true. The graph's size and split are checked against
    :data:`PLANETOID_DATASETS`.

    Raises ``ValueError`` for an unknown name, a graph that does not match
    the table or NaN or infinite node features, ``FileNotFoundError`` when
    the files are missing and cannot be downloaded.
    """
    if name not in PLANETOID_DATASETS:
        raise ValueError(
            f"unknown Planetoid dataset {name!r}; expected one of {', '.join(PLANETOID_DATASETS)} "
            "(names are case-sensitive)"
        )
    root = resolve_data_root(root)
    raw_dir = root / "Planetoid" / name / "raw"
    parts = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
    required = [raw_dir / f"ind.{name.lower()}.{part}" for part in parts]
    dataset = _read_raw_files(
        lambda: _CachedPlanetoid(str(root / "Planetoid"), name, processed_cache(root)),
        f"{name}: Planetoid files",
        root,
        raw_dir,
        required,
        download,
    )
    _check_planetoid(dataset, PLANETOID_DATASETS[name], raw_dir)
    check_finite_features(dataset.x, f"{name} (read from {raw_dir})")
    return dataset


def _check_planetoid(dataset: Planetoid, spec: PlanetoidSpec, raw_dir: Path) -> None:
    data = dataset[0]
    found = {
        "nodes": data.num_nodes,
        "feature columns": dataset.num_features,
        "classes": dataset.num_classes,
        "training nodes": int(data.train_mask.sum()),
    }
    expected = {
        "nodes": spec.num_nodes,
        "feature columns": spec.num_features,
        "classes": spec.num_classes,
        "training nodes": spec.num_train,
    }
    wrong = [f"{found[key]} {key} (expected {expected[key]})" for key in found if found[key] != expected[key]]
    if wrong:
        raise ValueError(
            f"{spec.name} loaded from {raw_dir} has {', '.join(wrong)}; the raw files may be another "
            f"dataset's, or {Path(dataset.processed_dir)} is stale (delete it to rebuild)"
        )


# The classes a pickled PyG InMemoryDataset refers to (the same list PyG allows for its own files).
_PYG_DATA_CLASSES = [DataEdgeAttr, DataTensorAttr, GlobalStorage]


def load_ogb_dataset(
    name: str = "ogbg-molhiv",
    *,
    root: str | os.PathLike[str],
    download: bool = True,
) -> OGBDataset:
    """An OGB graph-property dataset from ``<root>/OGB``, with its scaffold split and evaluator.

    Needs the optional ``ogb`` package (``pip install awgnn[ogb]``), imported
    only here. Raises ``FileNotFoundError`` naming the expected folder when the
    files are absent and ``download`` is false or the download fails.
    """
    if name not in OGB_DATASETS:
        raise ValueError(f"unknown OGB dataset {name!r}; expected one of {', '.join(OGB_DATASETS)}")
    graphproppred = _import_ogb_graphproppred()
    ogb_root = Path(root) / "OGB"
    folder = ogb_root / name.replace("-", "_")
    if not folder.is_dir() and not download:
        raise FileNotFoundError(
            f"{name}: dataset folder {folder} not found; expected the OGB files there (or allow download). "
            f"Copy them there, or {_data_root_hint(folder.relative_to(root))}"
        )
    try:
        # ogb reads back its processed file with torch.load, which since torch 2.6 refuses
        # PyG's data classes unless they are allow-listed.
        with torch.serialization.safe_globals(_PYG_DATA_CLASSES):
            dataset = graphproppred.PygGraphPropPredDataset(name=name, root=str(ogb_root))
    except OSError as exc:
        raise FileNotFoundError(
            f"{name}: dataset folder {folder} not found and the download failed ({exc}); expected the OGB files "
            f"there. Copy them there, or {_data_root_hint(folder.relative_to(root))}"
        ) from None
    dataset.transform = OneHotColumns(_atom_feature_dims())
    split = dataset.get_idx_split()
    fold = Fold(
        test=_index_tuple(split["test"]), train=_index_tuple(split["train"]), validation=_index_tuple(split["valid"])
    )
    return OGBDataset(dataset, fold, graphproppred.Evaluator(name))


def _atom_feature_dims() -> list[int]:
    """The number of categories of each of OGB's atom features."""
    return importlib.import_module("ogb.utils.features").get_atom_feature_dims()


def _import_ogb_graphproppred() -> ModuleType:
    try:
        return importlib.import_module("ogb.graphproppred")
    except ImportError as exc:
        raise ImportError("OGB datasets need the optional ogb package: pip install awgnn[ogb]") from exc


def _index_tuple(indices: torch.Tensor) -> tuple[int, ...]:
    return tuple(indices.tolist())


def load_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    features: str | None = None,
    *,
    download: bool = True,
) -> LoadedDataset:
    """Load a TU or OGB dataset (names starting with ``ogbg-``) behind one interface.

    ``root`` defaults to :func:`resolve_data_root` (``$AWGNN_DATA``, else the cache folder).
    """
    root = resolve_data_root(root)
    if name.startswith("ogbg-"):
        if features is not None:
            raise ValueError(
                f"features must be None for OGB dataset {name}, which has its own atom features, got {features!r}"
            )
        ogb = load_ogb_dataset(name, root=root, download=download)
        labels = ogb.dataset.y.view(-1).clone().long()
        return LoadedDataset(
            name,
            "ogb",
            ogb.dataset,
            ogb.dataset.transform.num_features,
            ogb.dataset.num_classes,
            labels,
            OGB_DATASETS[name],
            ogb.split,
            ogb.evaluator,
        )
    spec = tu_dataset_spec(name)
    resolved = spec.resolve_features(features)
    dataset = load_tu_dataset(name, root, resolved, download=download)
    labels = dataset.y.clone()  # a copy, so that no caller can edit the dataset's targets through it
    return LoadedDataset(name, resolved, dataset, spec.num_features, spec.num_classes, labels, "accuracy")
