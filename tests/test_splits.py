"""Splits: the official files, their validation, generated stratified splits and the cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from awgnn.harness import splits as splits_module
from awgnn.harness.splits import Fold, Splits, generate_splits, load_or_create_splits, read_official_splits

FAIR = Path("splits", "fair_comparison")


@pytest.mark.parametrize(
    ("relative", "num_graphs", "test_sizes", "validation_sizes"),
    [
        (FAIR / "CHEMICAL" / "NCI1_splits.json", 4110, {410, 411, 412}, {370}),
        (FAIR / "CHEMICAL" / "PROTEINS_full_splits.json", 1113, {111, 112}, {101}),
        (FAIR / "CHEMICAL" / "ENZYMES_splits.json", 600, {60}, {54}),
        (FAIR / "COLLABORATIVE_1" / "IMDB-BINARY_splits.json", 1000, {100}, {90}),
        (FAIR / "COLLABORATIVE_DEGREE" / "IMDB-BINARY_splits.json", 1000, {100}, {90}),
    ],
)
def test_official_files_are_read_with_their_published_sizes(
    data_root, relative, num_graphs, test_sizes, validation_sizes
):
    splits = read_official_splits(data_root / relative, num_graphs)
    assert len(splits) == 10 and splits.num_graphs == num_graphs
    assert splits.source == str(data_root / relative)
    assert {len(fold.test) for fold in splits} == test_sizes
    assert {len(fold.validation) for fold in splits} == validation_sizes
    for fold in splits:
        assert len(fold.train) == num_graphs - len(fold.test) - len(fold.validation)
        assert not set(fold.train) & set(fold.validation)
        assert list(fold.test) == sorted(fold.test)
    tested = sorted(g for fold in splits for g in fold.test)
    assert tested == list(range(num_graphs))


def test_the_two_imdb_binary_variants_are_different_splits(data_root):
    constant = read_official_splits(data_root / FAIR / "COLLABORATIVE_1" / "IMDB-BINARY_splits.json", 1000)
    degree = read_official_splits(data_root / FAIR / "COLLABORATIVE_DEGREE" / "IMDB-BINARY_splits.json", 1000)
    assert len(set(constant[0].test) & set(degree[0].test)) == 11


def test_max_folds_keeps_the_first_folds(data_root):
    path = data_root / FAIR / "CHEMICAL" / "ENZYMES_splits.json"
    full, head = read_official_splits(path, 600), read_official_splits(path, 600, max_folds=3)
    assert head.folds == full.folds[:3]
    with pytest.raises(ValueError, match="max_folds must be at most the 10 folds"):
        read_official_splits(path, 600, max_folds=11)


@pytest.fixture
def imdb_folds(data_root) -> list:
    return json.loads((data_root / FAIR / "COLLABORATIVE_1" / "IMDB-BINARY_splits.json").read_text())


def _write(tmp_path: Path, folds: object) -> Path:
    path = tmp_path / "corrupted_splits.json"
    path.write_text(json.dumps(folds))
    return path


def test_overlapping_test_folds_are_refused(tmp_path, imdb_folds):
    # Swap a graph of fold 1's test set into fold 0's test set, keeping fold 0 itself a partition.
    fold0 = imdb_folds[0]
    stolen = imdb_folds[1]["test"][0]
    given = fold0["test"][0]
    fold0["test"][0] = stolen
    inner = fold0["model_selection"][0]
    part = "train" if stolen in inner["train"] else "validation"
    inner[part][inner[part].index(stolen)] = given
    path = _write(tmp_path, imdb_folds)
    with pytest.raises(ValueError, match=rf"fold 1: test set overlaps the test set of fold 0 \(graph {stolen}\)"):
        read_official_splits(path, 1000)


def test_overlap_within_a_fold_is_refused(tmp_path, imdb_folds):
    imdb_folds[2]["model_selection"][0]["validation"].append(imdb_folds[2]["test"][0])
    with pytest.raises(ValueError, match="fold 2: validation and test share 1 graphs"):
        read_official_splits(_write(tmp_path, imdb_folds), 1000)


@pytest.mark.parametrize(
    ("num_graphs", "problem"),
    [
        (1001, r"fold 0: train, validation and test hold 1000 graphs together, expected all 1001"),
        (999, r"fold 0: .* has indices outside 0..998"),
    ],
)
def test_a_file_for_another_number_of_graphs_is_refused(tmp_path, imdb_folds, num_graphs, problem):
    with pytest.raises(ValueError, match=problem) as error:
        read_official_splits(_write(tmp_path, imdb_folds), num_graphs)
    assert str(tmp_path / "corrupted_splits.json") in str(error.value)


def test_two_model_selection_entries_are_refused(tmp_path, imdb_folds):
    imdb_folds[4]["model_selection"].append(imdb_folds[4]["model_selection"][0])
    with pytest.raises(ValueError, match="fold 4: expected exactly one model_selection element .* got 2"):
        read_official_splits(_write(tmp_path, imdb_folds), 1000)


def test_test_sets_that_do_not_cover_every_graph_are_refused(tmp_path, imdb_folds):
    with pytest.raises(ValueError, match="the 9 test sets cover 900 of 1000 graphs"):
        read_official_splits(_write(tmp_path, imdb_folds[:9]), 1000)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"test": [0]}', "expected a non-empty JSON array of folds"),
        ('[{"test": [0, 0], "model_selection": [{"train": [1], "validation": [2]}]}]', "test: contains duplicate"),
        ('[{"test": [0.5], "model_selection": [{"train": [1], "validation": [2]}]}]', "test: expected integer"),
        ('[{"test": [0], "selection": []}]', "expected an object with keys 'test' and 'model_selection'"),
    ],
)
def test_malformed_files_are_refused(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=problem):
        read_official_splits(path, 3)


def _labels(counts: list[int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))


@pytest.mark.parametrize(
    ("counts", "n_outer"), [([63, 125], 10), ([100] * 6, 10), ([2053, 2057], 10), ([7, 30, 13], 3)]
)
def test_generated_splits_are_stratified_partitions(counts, n_outer):
    labels = _labels(counts)
    splits = generate_splits(labels, n_outer=n_outer, holdout=0.1, seed=3)
    assert len(splits) == n_outer
    Splits.from_json(splits.to_json(), len(labels), "generated")  # every invariant of the split format
    for fold in splits:
        test_counts = np.bincount(labels[list(fold.test)], minlength=len(counts))
        assert np.all(np.abs(test_counts - np.array(counts) / n_outer) < 1)
        pool = np.array(fold.train + fold.validation)
        pool_counts = np.bincount(labels[pool], minlength=len(counts))
        validation_counts = np.bincount(labels[list(fold.validation)], minlength=len(counts))
        assert len(fold.validation) == int(np.ceil(0.1 * len(pool)))
        assert np.all(np.abs(validation_counts - len(fold.validation) * pool_counts / len(pool)) < 1)
    assert max(len(f.test) for f in splits) - min(len(f.test) for f in splits) <= 1


def test_generated_sizes_match_the_gnn_comparison_rule(data_root):
    # Same N as DD: validation is ceil(10%) of each outer training part, 106 or 107 as in the official file.
    official = read_official_splits(data_root / FAIR / "CHEMICAL" / "DD_splits.json", 1178)
    generated = generate_splits(_labels([691, 487]))
    assert {len(f.validation) for f in generated} <= {len(f.validation) for f in official} == {106, 107}


def test_generated_splits_are_deterministic_per_seed():
    labels = _labels([40, 60])
    assert generate_splits(labels, seed=7) == generate_splits(labels, seed=7)
    assert generate_splits(labels, seed=7).folds != generate_splits(labels, seed=8).folds
    assert generate_splits(labels, seed=7).source == "generated seed=7 n_outer=10 holdout=0.1"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"n_outer": 1}, "n_outer must be an integer >= 2"),
        ({"holdout": 1.0}, r"holdout must be a fraction in the open interval \(0, 1\)"),
        ({"holdout": 0}, "holdout must be a fraction"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"labels": np.zeros((4, 2), dtype=int)}, "labels must be a non-empty 1-D sequence of integer"),
        ({"labels": np.array([0.0, 1.0, 1.0])}, "integer class labels"),
        ({"labels": [0, 1], "n_outer": 3}, "n_outer must be at most the number of graphs"),
    ],
)
def test_generation_arguments_are_checked(kwargs, problem):
    arguments = {"labels": _labels([10, 10]), **kwargs}
    with pytest.raises(ValueError, match=problem):
        generate_splits(**arguments)


def test_splits_round_trip_through_the_official_schema(tmp_path):
    splits = generate_splits(_labels([30, 20]), n_outer=5)
    path = tmp_path / "splits.json"
    path.write_text(json.dumps(splits.to_json()))
    assert read_official_splits(path, 50).folds == splits.folds
    assert splits.to_json()[0] == {
        "test": list(splits[0].test),
        "model_selection": [{"train": list(splits[0].train), "validation": list(splits[0].validation)}],
    }


def test_official_file_takes_precedence(data_root, tmp_path):
    path = data_root / FAIR / "CHEMICAL" / "ENZYMES_splits.json"
    splits = load_or_create_splits(_labels([100] * 6), official=path, cache=tmp_path / "cache.json", max_folds=2)
    assert splits.folds == read_official_splits(path, 600).folds[:2]
    assert not (tmp_path / "cache.json").exists()


def test_missing_official_file_falls_back_to_generated_splits_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match="official split file .* not found"):
        splits = load_or_create_splits(_labels([10, 10]), official=tmp_path / "absent.json", cache=None, n_outer=3)
    assert splits.source.startswith("generated seed=0 n_outer=3")


def test_generated_splits_are_cached_and_reused(tmp_path, monkeypatch):
    labels, cache = _labels([30, 20]), tmp_path / "cache" / "splits.json"
    first = load_or_create_splits(labels, official=None, cache=cache, n_outer=3, seed=5)
    assert first.folds == generate_splits(labels, n_outer=3, seed=5).folds
    assert cache.is_file()
    assert [p.name for p in cache.parent.iterdir()] == ["splits.json"]  # no temporary file left behind

    def regenerate(*args, **kwargs):
        pytest.fail("cached splits were regenerated")

    monkeypatch.setattr(splits_module, "generate_splits", regenerate)
    second = load_or_create_splits(labels, official=None, cache=cache, n_outer=3, seed=5)
    assert second.folds == first.folds
    assert f"cached at {cache}" in second.source
    assert len(load_or_create_splits(labels, official=None, cache=cache, n_outer=3, seed=5, max_folds=1)) == 1


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"seed": 6}, "seed: cached 5, requested 6"),
        ({"n_outer": 4}, "n_outer: cached 3, requested 4"),
        ({"holdout": 0.2}, "holdout: cached 0.1, requested 0.2"),
        ({"labels": _labels([30, 21])}, "num_graphs: cached 50, requested 51"),
    ],
)
def test_a_cache_made_with_other_parameters_is_refused(tmp_path, changes, problem):
    cache = tmp_path / "splits.json"
    arguments = {"labels": _labels([30, 20]), "official": None, "cache": cache, "n_outer": 3, "seed": 5}
    load_or_create_splits(**arguments)
    with pytest.raises(ValueError, match=f"cached splits were generated with other parameters.*{problem}"):
        load_or_create_splits(**{**arguments, **changes})


def test_an_official_file_passed_as_cache_is_refused(data_root):
    path = data_root / FAIR / "CHEMICAL" / "ENZYMES_splits.json"
    with pytest.raises(ValueError, match="official split files are passed as official="):
        load_or_create_splits(_labels([100] * 6), official=None, cache=path)


def test_fold_is_serialised_with_one_model_selection_element():
    fold = Fold(test=(2,), train=(0,), validation=(1,))
    assert fold.to_json() == {"test": [2], "model_selection": [{"train": [0], "validation": [1]}]}


def test_a_predefined_split_becomes_a_one_fold_study():
    fold = Fold(test=(4, 5), train=(0, 1, 2), validation=(3,))
    splits = Splits.single(fold, 6, source="ogb scaffold")
    assert len(splits) == 1 and splits[0] == fold and splits.source == "ogb scaffold"
    with pytest.raises(
        ValueError, match="ogb scaffold: fold 0: train, validation and test hold 6 graphs together, expected all 7"
    ):
        Splits.single(fold, 7, source="ogb scaffold")
    with pytest.raises(ValueError, match="fold 0: train and test share 1 graphs"):
        Splits.single(Fold(test=(4, 5), train=(0, 1, 2, 4), validation=(3,)), 6, source="ogb scaffold")
