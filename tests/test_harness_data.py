"""Datasets: the protocol's node features, sizes and class counts, and clear errors."""

from __future__ import annotations

import shutil
import sys
import urllib.error
from pathlib import Path

import pytest
import torch
from torch_geometric.datasets import TUDataset
from torch_geometric.utils import to_networkx

from awgnn.harness.data import (
    TU_DATASETS,
    load_dataset,
    load_ogb_dataset,
    load_tu_dataset,
    official_split_path,
    processed_cache,
    resolve_data_root,
)
from awgnn.harness.splits import read_official_splits


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if anything reaches PyG's download (there is no network here)."""

    def refuse(self: TUDataset) -> None:
        pytest.fail(f"attempted to download {self.name}")

    monkeypatch.setattr(TUDataset, "download", refuse)


@pytest.mark.parametrize(
    ("name", "features", "num_features", "class_counts"),
    [
        ("MUTAG", None, 7, [63, 125]),
        ("NCI1", "labels", 37, [2053, 2057]),
        ("PROTEINS", None, 3, [663, 450]),
        ("ENZYMES", None, 21, [100] * 6),
        ("IMDB-BINARY", "constant", 1, [500, 500]),
        ("IMDB-BINARY", "degree", 1, [500, 500]),
        ("IMDB-MULTI", None, 1, [500] * 3),
    ],
)
def test_features_and_class_counts_follow_the_protocol(
    data_root, no_download, name, features, num_features, class_counts
):
    data = load_dataset(name, data_root, features)
    assert len(data.dataset) == TU_DATASETS[name].num_graphs == sum(class_counts)
    assert data.num_features == data.dataset.num_features == num_features
    assert data.dataset[0].x.shape[1] == num_features
    assert data.num_classes == len(class_counts)
    assert torch.bincount(data.labels).tolist() == class_counts
    assert data.labels.shape == (len(data.dataset),)
    assert data.metric == "accuracy"
    assert data.features == (features or TU_DATASETS[name].feature_variants[0])


def test_social_sets_default_to_degree_features(data_root, no_download):
    assert load_dataset("IMDB-MULTI", data_root).features == "degree"


def test_constant_feature_is_a_float_one_per_node(data_root, no_download):
    dataset = load_tu_dataset("IMDB-BINARY", data_root, "constant")
    for i in (0, 1, 999):
        graph = dataset[i]
        assert graph.x.dtype == torch.float
        assert torch.equal(graph.x, torch.ones(graph.num_nodes, 1))


def test_degree_feature_is_the_raw_networkx_degree(data_root, no_download):
    dataset = load_tu_dataset("IMDB-BINARY", data_root, "degree")
    for i in (0, 1, 500, 999):
        graph = dataset[i]
        degrees = dict(to_networkx(graph, to_undirected=True).degree())
        expected = torch.tensor([degrees[v] for v in range(graph.num_nodes)], dtype=torch.float).view(-1, 1)
        assert graph.x.dtype == torch.float
        assert torch.equal(graph.x, expected)
        assert graph.x.max() > 1  # a raw count, not one-hot


def test_feature_variants_never_share_a_processed_cache(data_root, no_download):
    degree = load_tu_dataset("IMDB-MULTI", data_root, "degree")
    constant = load_tu_dataset("IMDB-MULTI", data_root, "constant")
    degree_again = load_tu_dataset("IMDB-MULTI", data_root, "degree")
    assert Path(degree.processed_dir) != Path(constant.processed_dir)
    assert torch.all(constant[0].x == 1)
    assert torch.equal(degree_again[0].x, degree[0].x)
    assert not torch.equal(degree[0].x, constant[0].x)


def test_graphs_are_in_raw_tu_order(data_root, no_download):
    # Graph 1 of NCI1_graph_indicator.txt has 21 nodes; the first label in NCI1_graph_labels.txt is 1.
    dataset = load_tu_dataset("NCI1", data_root)
    raw = data_root / "TUDataset" / "NCI1" / "raw"
    indicator = [int(line) for line in (raw / "NCI1_graph_indicator.txt").read_text().split()]
    labels = [int(line) for line in (raw / "NCI1_graph_labels.txt").read_text().split()]
    assert [dataset[i].num_nodes for i in (0, 4109)] == [indicator.count(1), indicator.count(4110)]
    assert dataset.y[:20].tolist() == [label - min(labels) for label in labels[:20]]


def test_unknown_dataset_is_refused_with_the_supported_names(tmp_path):
    with pytest.raises(ValueError, match=r"unknown TU dataset 'nci1'.*NCI1.*IMDB-BINARY"):
        load_tu_dataset("nci1", tmp_path)


@pytest.mark.parametrize(
    ("name", "features", "expected"),
    [
        ("NCI1", "degree", r"chemical dataset NCI1 must be one of 'labels'"),
        ("IMDB-BINARY", "labels", r"social dataset IMDB-BINARY must be one of 'degree', 'constant'"),
        ("IMDB-BINARY", "one-hot-degree", r"got 'one-hot-degree'"),
    ],
)
def test_wrong_feature_variant_is_refused(tmp_path, name, features, expected):
    with pytest.raises(ValueError, match=expected):
        load_tu_dataset(name, tmp_path, features)


def test_missing_raw_files_are_reported_without_downloading(tmp_path, no_download):
    expected = str(tmp_path / "TUDataset" / "PROTEINS" / "raw")
    with pytest.raises(FileNotFoundError, match=r"PROTEINS: raw TU files missing in .*PROTEINS_A.txt") as error:
        load_tu_dataset("PROTEINS", tmp_path, download=False)
    assert expected in str(error.value)


def test_failed_download_is_reported_with_the_expected_folder(tmp_path, monkeypatch):
    def unreachable(self: TUDataset) -> None:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(TUDataset, "download", unreachable)
    with pytest.raises(FileNotFoundError, match="download failed.*Name or service not known") as error:
        load_tu_dataset("MUTAG", tmp_path)
    assert str(tmp_path / "TUDataset" / "MUTAG" / "raw") in str(error.value)


def test_files_of_another_dataset_are_refused(data_root, tmp_path, no_download):
    # MUTAG's files under NCI1's names: right layout, wrong content.
    raw = tmp_path / "TUDataset" / "NCI1" / "raw"
    raw.mkdir(parents=True)
    for source in (data_root / "TUDataset" / "MUTAG" / "raw").glob("MUTAG_*.txt"):
        shutil.copy(source, raw / source.name.replace("MUTAG", "NCI1"))
    with pytest.raises(ValueError, match=r"NCI1 loaded from .* has 188 graphs \(expected 4110\)"):
        load_tu_dataset("NCI1", tmp_path)


def test_official_split_paths_follow_the_feature_variant(data_root):
    fair = data_root / "splits" / "fair_comparison"
    assert official_split_path(data_root, "NCI1") == fair / "CHEMICAL" / "NCI1_splits.json"
    assert official_split_path(data_root, "PROTEINS") == fair / "CHEMICAL" / "PROTEINS_full_splits.json"
    assert official_split_path(data_root, "IMDB-BINARY", "constant") == (
        fair / "COLLABORATIVE_1" / "IMDB-BINARY_splits.json"
    )
    assert official_split_path(data_root, "IMDB-BINARY") == (fair / "COLLABORATIVE_DEGREE" / "IMDB-BINARY_splits.json")
    assert official_split_path(data_root, "MUTAG") is None


def test_table_sizes_agree_with_every_official_split_file(data_root):
    for spec in TU_DATASETS.values():
        for features in spec.feature_variants:
            path = official_split_path(data_root, spec.name, features)
            if path is not None:
                assert len(read_official_splits(path, spec.num_graphs)) == 10


def test_data_root_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("AWGNN_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_root(str(tmp_path / "cli")) == tmp_path / "cli"
    assert resolve_data_root(None) == tmp_path / "env"
    monkeypatch.delenv("AWGNN_DATA")
    assert resolve_data_root(None) == tmp_path / "xdg" / "awgnn" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_root(None) == tmp_path / "home" / ".cache" / "awgnn" / "data"


def test_ogb_without_the_extra_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ogb", None)
    monkeypatch.setitem(sys.modules, "ogb.graphproppred", None)
    with pytest.raises(ImportError, match=r"pip install awgnn\[ogb\]"):
        load_ogb_dataset(root=tmp_path)


def test_ogb_missing_files_name_the_expected_folder(tmp_path):
    pytest.importorskip("ogb")
    with pytest.raises(FileNotFoundError, match="ogbg-molhiv: dataset folder .* not found") as error:
        load_ogb_dataset(root=tmp_path, download=False)
    assert str(tmp_path / "OGB" / "ogbg_molhiv") in str(error.value)


def test_ogb_failed_download_names_the_expected_folder(monkeypatch, tmp_path):
    graphproppred = pytest.importorskip("ogb.graphproppred")

    def unreachable(name: str, root: str) -> None:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(graphproppred, "PygGraphPropPredDataset", unreachable)
    with pytest.raises(FileNotFoundError, match="download failed") as error:
        load_dataset("ogbg-molhiv", tmp_path)
    assert str(tmp_path / "OGB" / "ogbg_molhiv") in str(error.value)


def test_unknown_ogb_dataset_and_ogb_feature_variants_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown OGB dataset 'ogbg-molpcba'"):
        load_ogb_dataset("ogbg-molpcba", root=tmp_path)
    with pytest.raises(ValueError, match="features must be None for OGB dataset ogbg-molhiv"):
        load_dataset("ogbg-molhiv", tmp_path, "degree")


def test_data_root_is_only_read(data_root, no_download):
    before = sorted((p.relative_to(data_root), p.stat().st_mtime_ns) for p in data_root.rglob("*"))
    dataset = load_tu_dataset("PROTEINS", data_root)
    after = sorted((p.relative_to(data_root), p.stat().st_mtime_ns) for p in data_root.rglob("*"))
    assert before == after
    assert Path(dataset.processed_dir).is_relative_to(processed_cache(data_root))
