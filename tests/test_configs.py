"""Every shipped configuration is valid and runs the published protocol's grids."""

from pathlib import Path

import pytest

from awgnn.harness.config import load_config, model_arguments
from awgnn.harness.data import TU_DATASETS
from awgnn.harness.presets import PRESETS as PRESET_VALUES

ROOT = Path(__file__).resolve().parents[1].joinpath("configs")
CONFIGS = sorted(ROOT.rglob("*.yaml"))
DATASETS = {
    "NCI1",
    "PROTEINS",
    "DD",
    "ENZYMES",
    "IMDB-BINARY",
    "IMDB-MULTI",
    "REDDIT-BINARY",
    "COLLAB",
    "REDDIT-MULTI-5K",
}
GRID_SIZES = {"gin_fixed": 128, "awn_gin": 6, "awn_gin_paper": 6, "gcn_adaptive": 6, "gcn_fixed": 12}
PRESETS = {"awn_gin": "awgnn", "awn_gin_paper": "paper"}
# The reproduction table's reduced budget (benchmarks/reproduction.py): the same for every model.
REPRODUCTION_MODELS = {
    "gin",
    "awn_gin",
    "awn_gin_paper",
    "awn_fair_gin",
    "awn_gin_single",
    "awn_gin_marginal",
    "awn_fair_gin_marginal",
    "awn_gin_marginal_refit",
    "awn_fair_gin_marginal_refit",
    "awn_gin_gates",
    "awn_fair_gin_gates",
}
# A single configuration with widths set from the data (the folder's preset): the twin's first grid point, the
# width keys aside.
MARGINAL_TWINS = {
    "reproduction/awn_gin_marginal": ("awn_gin_single", "marginal"),
    "reproduction/awn_fair_gin_marginal": ("awn_fair_gin", "marginal"),
    "reproduction/awn_gin_marginal_refit": ("awn_gin_single", "marginal_refit"),
    "reproduction/awn_fair_gin_marginal_refit": ("awn_fair_gin", "marginal_refit"),
    "reproduction/awn_gin_gates": ("awn_gin_single", "gates"),
    "reproduction/awn_fair_gin_gates": ("awn_fair_gin", "gates"),
}
REPRODUCTION_DATASETS = {"MUTAG", "PROTEINS", "NCI1", "ENZYMES", "DD", "IMDB-BINARY", "IMDB-MULTI", "REDDIT-BINARY"}
# The growing baselines (issue #10) on the reproduction table's budget, on the AWN paper's GIN classifier
# (growth/) and on FairGIN's architecture (growth_fair_gin/).
GROWTH_FAMILIES = ("growth", "growth_fair_gin")
GROWTH_METHODS = {"s2d", "s2d_fast", "firefly", "tiny"}
# The ablation of S2D's and Firefly's global selection (growth_selection: per_layer), on the AWN paper's classifier.
SELECTION_ABLATIONS = {"s2d_per_layer", "firefly_per_layer"}
# Every dataset of the reproduction table and of the protocol's grids (COLLAB and REDDIT-MULTI-5K: the grids only).
GROWTH_DATASETS = REPRODUCTION_DATASETS | DATASETS


def family(path: Path) -> str:
    """``gin_fixed``, ``awn_gin``, ... for the protocol's configs; ``reproduction/<model>``, ``growth/<method>``,
    ``growth_fair_gin/<method>``."""
    parts = path.relative_to(ROOT).parts
    return "/".join(parts[:2]) if parts[0] in ("reproduction", *GROWTH_FAMILIES) else parts[0]


def is_growth(path: Path) -> bool:
    return family(path).split("/")[0] in GROWTH_FAMILIES


def reproduction_twin(model: str, path: Path) -> Path:
    """``reproduction/<model>/`` on ``path``'s dataset; a dataset outside the reproduction table (COLLAB,
    REDDIT-MULTI-5K) takes REDDIT-BINARY's, whose grid and recipe are every dataset's."""
    dataset = path.name if path.stem in REPRODUCTION_DATASETS else "REDDIT-BINARY.yaml"
    return ROOT / "reproduction" / model / dataset


def test_one_config_per_model_and_dataset():
    names = {(family(path), path.stem) for path in CONFIGS if family(path) in GRID_SIZES}
    assert names == {(model, dataset) for model in GRID_SIZES for dataset in DATASETS}
    reproduction = {(family(path), path.stem) for path in CONFIGS if family(path).startswith("reproduction/")}
    assert reproduction == {(f"reproduction/{m}", d) for m in REPRODUCTION_MODELS for d in REPRODUCTION_DATASETS}
    growth = {(family(path), path.stem) for path in CONFIGS if is_growth(path)}
    assert growth == {(f"{f}/{m}", d) for f in GROWTH_FAMILIES for m in GROWTH_METHODS for d in GROWTH_DATASETS} | {
        (f"growth/{m}", d) for m in SELECTION_ABLATIONS for d in GROWTH_DATASETS
    }


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: "/".join(p.relative_to(ROOT).parts))
def test_config_is_valid_and_every_grid_point_builds(path):
    config = load_config(path)
    spec = TU_DATASETS[config.dataset.name]
    if family(path) in GRID_SIZES:
        assert len(config.models) == 1
        assert len(config.models[0].points()) == GRID_SIZES[family(path)]
        assert (config.splits.outer_folds, config.protocol.final_runs) == (10, 3)
        assert (config.protocol.max_epochs, config.protocol.patience) == (1000, 500)
    if family(path) == "reproduction/awn_gin_single":  # awn_gin's first grid point (the defaults), alone
        reference = load_config(ROOT / "reproduction" / "awn_gin" / path.name)
        assert config.models[0].points() == reference.models[0].points()[:1]
        assert config.models[0].points()[0]["num_layers"] == 3 and config.models[0].points()[0]["batch_size"] == 32
        assert (reference.protocol, reference.splits, reference.dataset) == (
            config.protocol,
            config.splits,
            config.dataset,
        )
    elif family(path) in MARGINAL_TWINS:
        twin, preset = MARGINAL_TWINS[family(path)]
        reference = load_config(ROOT / "reproduction" / twin / path.name)
        (point,) = config.models[0].points()
        width_keys = set(PRESET_VALUES["awgnn"]) | set(PRESET_VALUES[preset])
        assert config.models[0].preset == preset
        assert {k: v for k, v in point.items() if k not in width_keys} == {
            k: v for k, v in reference.models[0].points()[0].items() if k not in width_keys
        }
        assert (reference.protocol, reference.splits, reference.dataset) == (
            config.protocol,
            config.splits,
            config.dataset,
        )
    elif family(path).startswith("reproduction/") or is_growth(path):
        assert len(config.models) == 1 and len(config.models[0].points()) == 4
        assert (config.splits.outer_folds, config.protocol.final_runs) == (10, 2)
        assert (config.protocol.max_epochs, config.protocol.patience) == (150, 40)
    if is_growth(path):
        method, ablation, _ = path.parent.name.partition("_per_layer")
        for point in config.models[0].points():
            selection = point.get("growth_selection", "global")
            assert (point["growth"], selection, point["start_width"]) == (
                method,
                "per_layer" if ablation else "global",
                8,
            )
            # Growth stops early enough that the last architecture gets a full patience window.
            assert point["growth_stop"] + config.protocol.patience <= config.protocol.max_epochs
        # The dataset and splits of its non-growth twin: the reproduction table's, or the protocol's outside it.
        twin = load_config(
            ROOT / ("reproduction/awn_gin" if path.stem in REPRODUCTION_DATASETS else "awn_gin") / path.name
        )
        assert (config.dataset, config.splits) == (twin.dataset, twin.splits)
    if path.parent.name in SELECTION_ABLATIONS:  # the global selection's configuration, selection aside
        reference = load_config(path.parents[1] / path.parent.name.removesuffix("_per_layer") / path.name)
        assert [{**p, "growth_selection": "per_layer"} for p in reference.models[0].points()] == config.models[
            0
        ].points()
        assert (reference.protocol, reference.splits) == (config.protocol, config.splits)
    if family(path).startswith("growth_fair_gin/"):  # FairGIN's grid and recipe, as AdaptiveFairGIN gets them
        recipe = (
            "num_layers",
            "dropout",
            "pooling",
            "train_eps",
            "batch_size",
            "lr",
            "scheduler_step",
            "scheduler_gamma",
            "monitor",
        )
        reference = load_config(reproduction_twin("awn_fair_gin", path)).models[0].points()
        assert [{k: p[k] for k in recipe} for p in config.models[0].points()] == [
            {k: p[k] for k in recipe} for p in reference
        ]
    for model in config.models:
        for point in model.points():
            model.spec.build(spec.num_features, spec.num_classes, model_arguments(point))


@pytest.mark.parametrize(
    "path",
    [p for p in CONFIGS if p.parent.name in PRESETS or p.stem == "quick"],
    ids=lambda p: "/".join(p.relative_to(ROOT).parts),
)
def test_adaptive_gin_configs_use_their_preset(path):
    model = next(m for m in load_config(path).models if m.model_class == "AdaptiveGINClassifier")
    assert model.preset == PRESETS.get(path.parent.name, "awgnn")
