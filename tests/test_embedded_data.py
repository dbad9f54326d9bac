"""The MUTAG copy shipped in the package: the offline default of ``awgnn bench``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from torch_geometric.datasets import TUDataset

from awgnn.harness import cli, load_dataset
from awgnn.harness.data import EMBEDDED_DATA_ROOT, default_data_root

OFFLINE_CONFIG = """\
name: offline
dataset: MUTAG
splits: {outer_folds: 2, holdout: 0.1, seed: 0}
protocol: {final_runs: 1, max_epochs: 1, patience: 1, seed: 0}
models:
  awn-gin:
    class: AdaptiveGINClassifier
    grid: {batch_size: 64, num_layers: 2, lr: 0.01}
"""


@pytest.fixture
def no_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AWGNN_DATA, an empty cache, and no network: any download attempt fails the test."""
    monkeypatch.delenv("AWGNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_download(self: TUDataset) -> None:
        raise AssertionError(f"tried to download {self.name}")

    monkeypatch.setattr(TUDataset, "download", no_download)
    return tmp_path


def test_mutag_is_read_from_the_package_without_data_root(no_data_root: Path):
    data = load_dataset("MUTAG")
    assert len(data.dataset) == 188 and data.num_features == 7 and data.num_classes == 2
    assert Path(data.dataset.raw_dir) == EMBEDDED_DATA_ROOT / "TUDataset" / "MUTAG" / "raw"
    assert not default_data_root().exists()  # nothing written into the data root
    assert Path(data.dataset.processed_dir).is_relative_to(no_data_root / "cache")


def test_a_cached_copy_wins_over_the_embedded_one(no_data_root: Path):
    cached = default_data_root() / "TUDataset" / "MUTAG" / "raw"
    shutil.copytree(EMBEDDED_DATA_ROOT / "TUDataset" / "MUTAG" / "raw", cached)
    assert Path(load_dataset("MUTAG").dataset.raw_dir) == cached


def test_a_named_data_root_does_not_fall_back(no_data_root: Path):
    with pytest.raises(FileNotFoundError, match="raw TU files missing in .*empty"):
        load_dataset("MUTAG", no_data_root / "empty", download=False)


def test_awgnn_bench_runs_offline_on_the_embedded_mutag(no_data_root: Path, capsys: pytest.CaptureFixture):
    config = no_data_root / "offline.yaml"
    config.write_text(OFFLINE_CONFIG)
    results = no_data_root / "results"
    code = cli.main(["bench", str(config), "--results", str(results), "--workers", "1", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert (results / "summary.json").is_file() and (results / "report.md").is_file()
