"""Shared fixtures: a writable copy of the offline graph-classification data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

# Small enough to copy and process in seconds; DD and REDDIT-BINARY are left out on purpose.
TEST_DATASETS = ("MUTAG", "NCI1", "PROTEINS", "ENZYMES", "IMDB-BINARY", "IMDB-MULTI")


def shared_data_dir() -> Path:
    """``$AWGNN_TEST_DATA``, else ``shared/data`` beside the repository."""
    configured = os.environ.get("AWGNN_TEST_DATA")
    return Path(configured) if configured else Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def single_thread():
    """Tests use one CPU thread: tiny models gain nothing from more, and CI shares 2 cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def processed_cache_home(tmp_path_factory: pytest.TempPathFactory):
    """Processed datasets go to a per-session cache, not the user's ~/.cache (subprocesses inherit it)."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root with the test datasets and all split files, copied once per session.

    PyG writes ``processed/`` folders next to the raw files, so tests never
    load from the shared (read-only) folder itself.
    """
    source = shared_data_dir()
    missing = [name for name in TEST_DATASETS if not (source / "TUDataset" / name / "raw").is_dir()]
    if missing or not (source / "splits").is_dir():
        pytest.skip(
            f"offline test data not found in {source} (set AWGNN_TEST_DATA to a folder with "
            f"TUDataset/<NAME>/raw and splits/ for {', '.join(TEST_DATASETS)})"
        )
    root = tmp_path_factory.mktemp("data")
    for name in TEST_DATASETS:
        shutil.copytree(source / "TUDataset" / name, root / "TUDataset" / name)
    shutil.copytree(source / "splits", root / "splits")
    return root
