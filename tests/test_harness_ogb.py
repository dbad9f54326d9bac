"""OGB graph property prediction behind the harness interface, on a small fake ogbg-molhiv.

The real files are not available offline, so these tests write a dataset in
the raw layout of the ``ogb`` package (``<root>/OGB/ogbg_molhiv/raw``,
``split/scaffold``) and let ``ogb`` process it as it processes the real one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from awgnn.harness import cli
from awgnn.harness.data import OneHotColumns, load_dataset
from awgnn.harness.train import score

pytest.importorskip("ogb")
pandas = pytest.importorskip("pandas")
from ogb.utils.features import get_atom_feature_dims  # noqa: E402

NUM_GRAPHS = 40
SPLIT = {"train": range(0, 28), "valid": range(28, 34), "test": range(34, 40)}


def write_csv(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pandas.DataFrame(np.asarray(rows)).to_csv(path, header=False, index=False, compression="gzip")


def fake_molhiv(root: Path) -> list[np.ndarray]:
    """Path graphs whose first atom feature gives the label away; returns each graph's atom features."""
    rng = np.random.default_rng(0)
    folder = root / "OGB" / "ogbg_molhiv"
    folder.mkdir(parents=True)
    (folder / "RELEASE_v1.txt").write_text("fake ogbg-molhiv for the tests\n")
    nodes, edges, edge_features, atoms = [], [], [], []
    for graph in range(NUM_GRAPHS):
        label, n = graph % 2, int(rng.integers(3, 8))
        nodes.append(n)
        edges += [(i, i + 1) for i in range(n - 1)]
        edge_features += [(int(rng.integers(0, 4)), 0, 0) for _ in range(n - 1)]
        features = np.zeros((n, 9), dtype=np.int64)
        features[:, 0] = rng.integers(0, 5, size=n) + 5 * label
        features[:, 1] = rng.integers(0, 3, size=n)
        atoms.append(features)
    raw = folder / "raw"
    write_csv(raw / "edge.csv.gz", edges)
    write_csv(raw / "edge-feat.csv.gz", edge_features)
    write_csv(raw / "node-feat.csv.gz", np.concatenate(atoms))
    write_csv(raw / "num-node-list.csv.gz", nodes)
    write_csv(raw / "num-edge-list.csv.gz", [n - 1 for n in nodes])
    write_csv(raw / "graph-label.csv.gz", [graph % 2 for graph in range(NUM_GRAPHS)])
    for part, indices in SPLIT.items():
        write_csv(folder / "split" / "scaffold" / f"{part}.csv.gz", list(indices))
    return atoms


@pytest.fixture()
def ogb_root(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    return tmp_path, fake_molhiv(tmp_path)


def test_molhiv_loads_with_one_hot_atoms_labels_and_the_scaffold_split(ogb_root):
    root, atoms = ogb_root
    data = load_dataset("ogbg-molhiv", root)
    assert (data.name, data.features, data.metric, data.num_classes) == ("ogbg-molhiv", "ogb", "rocauc", 2)
    assert data.num_features == sum(get_atom_feature_dims())
    assert torch.equal(data.labels, torch.arange(NUM_GRAPHS) % 2)
    assert data.predefined_split.train == tuple(SPLIT["train"])
    assert data.predefined_split.validation == tuple(SPLIT["valid"])
    assert data.predefined_split.test == tuple(SPLIT["test"])
    graph = data.dataset[3]
    assert graph.x.dtype == torch.float and graph.x.shape == (len(atoms[3]), data.num_features)
    offsets = np.cumsum([0, *get_atom_feature_dims()[:-1]])
    expected = torch.zeros_like(graph.x)
    for node, row in enumerate(atoms[3]):
        expected[node, torch.as_tensor(row + offsets)] = 1.0
    assert torch.equal(graph.x, expected)
    assert graph.edge_index.size(1) == 2 * (len(atoms[3]) - 1)  # ogb adds the inverse edges


def test_rocauc_is_the_official_evaluator_and_matches_the_closed_form(ogb_root):
    data = load_dataset("ogbg-molhiv", ogb_root[0])
    target = torch.tensor([0, 0, 1, 1, 0, 1])
    logits = torch.tensor([[0.0, 0.1], [0.0, 0.4], [0.0, 0.35], [0.0, 0.8], [0.0, -1.0], [0.0, 2.0]])
    # Positive-class probabilities rank the pairs (negative, positive): 8 of the 9 are ordered.
    assert score(logits, target, data) == pytest.approx(8 / 9)


def test_one_hot_columns_refuses_features_of_the_wrong_shape():
    from torch_geometric.data import Data

    with pytest.raises(ValueError, match=r"expected integer node features of shape \[num_nodes, 2\], got \(3, 5\)"):
        OneHotColumns([4, 3])(Data(x=torch.zeros(3, 5, dtype=torch.long)))


def test_bench_runs_the_predefined_split_and_scores_rocauc(ogb_root, tmp_path):
    config = tmp_path / "ogb.yaml"
    config.write_text(
        "name: ogb_tiny\ndataset: ogbg-molhiv\nprotocol: {final_runs: 1, max_epochs: 3, patience: 3}\n"
        "models:\n  awn-gin:\n    class: AdaptiveGINClassifier\n    grid: {batch_size: 8, num_layers: 2}\n"
    )
    results = tmp_path / "results"
    code = cli.main(
        [
            "bench",
            str(config),
            "--data-root",
            str(ogb_root[0]),
            "--results",
            str(results),
            "--workers",
            "1",
            "--no-progress",
        ]
    )
    assert code == 0
    summary = json.loads((results / "summary.json").read_text())
    assert summary["metric"] == "rocauc"
    model = summary["models"]["awn-gin"]
    assert model["folds_scored"] == 1 and 0.0 <= model["mean"] <= 1.0
