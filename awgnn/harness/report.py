"""Summaries of an experiment's results: JSON, Markdown, plots and a terminal table.

Everything is rebuilt from the run records in the results folder, so a report
can be made at any time, also of an unfinished experiment.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from awgnn.harness.atomic import write_json_atomically
from awgnn.harness.config import parse_config
from awgnn.harness.protocol import selection_keys, summarise
from awgnn.harness.runner import SHARED_TRAININGS, ExperimentResults
from awgnn.harness.store import EXPERIMENT_FILE, ResultStore

# A fold whose score is within this margin of the majority-class rate is flagged.
CHANCE_MARGIN = 0.01

# What the width columns mean, under every table that shows them: the two are consistent only read this way.
TOTAL_WIDTH_NOTE = "neurons summed over the hidden layers, mean over all final runs"
LEARNED_WIDTHS_NOTE = "mean neurons of each layer over the final runs of each depth (runs of different depth never mix)"

# Line styles that tell the runs of one panel apart in the width plot.
RUN_STYLES = ("-", "--", ":", "-.")


def load_results(folder: str | Path) -> ExperimentResults:
    """The results of the experiment stored in ``folder``."""
    store = ResultStore(folder)
    experiment = store.experiment()
    config = parse_config(experiment["config"], source=experiment["source"])
    return ExperimentResults(config, store, experiment["num_folds"])


def experiment_folders(root: str | Path) -> list[Path]:
    """``root`` itself if it holds an experiment, else every experiment folder below it."""
    root = Path(root)
    if (root / EXPERIMENT_FILE).is_file():
        return [root]
    return sorted(path.parent for path in root.rglob(EXPERIMENT_FILE))


def summary(results: ExperimentResults) -> dict[str, Any]:
    """Mean ± std per model with per-fold details, learned widths and cost."""
    experiment = results.store.experiment()
    config = results.config
    return {
        "experiment": config.name,
        "source": config.source,
        "dataset": {"name": config.dataset.name, "features": config.dataset.features},
        "metric": experiment["metric"],
        "std": "population standard deviation over outer folds (ddof=0)",
        "tie_break": config.protocol.tie_break,
        "splits_source": experiment["splits_source"],
        "chance_level": experiment["chance_level"],
        "shared_trainings": experiment.get(SHARED_TRAININGS, False),
        "versions": experiment["versions"],
        "machine": experiment["machine"],
        "models": {
            model.name: _model_summary(results, model.name, experiment["chance_level"]) for model in config.models
        },
    }


def _model_summary(results: ExperimentResults, name: str, chance_level: float) -> dict[str, Any]:
    model = results.model(name)
    points = model.points()
    folds, fold_results = [], []
    for fold in range(results.num_folds):
        result = results.fold_result(name, fold)
        if result is None:
            continue
        fold_results.append(result)
        finals = [results.store.read(k) for k in results.final_keys(name, fold)]
        selection = [results.store.read(k) for k in selection_keys(name, fold, len(points))]
        folds.append(
            {
                "fold": fold + 1,
                "selected_config": result.selection.config_id + 1,
                "config": points[result.selection.config_id],
                "tied_configs": [i + 1 for i in result.selection.tied],
                "val_score": result.selection.val_score,
                "test_scores": list(result.test_scores),
                "score": result.score,
                "train_score": _mean(r["train_score"] for r in finals),
                "layer_widths": [r["layer_widths"] for r in finals],
                "total_width": _mean(r["total_width"] for r in finals),
                "num_parameters": _mean(r["num_parameters"] for r in finals),
                "seconds": sum(r["seconds"] for r in finals + selection),
                "selection_seconds": sum(r["seconds"] for r in selection),
                "cpu_seconds": sum(map(cpu_seconds, finals + selection)),
                "selection_cpu_seconds": sum(map(cpu_seconds, selection)),
                "failed_runs": sum(r["status"] != "ok" for r in finals + selection),
                "seeds": [r["seed"] for r in finals],
                "at_chance": result.score is not None and result.score <= chance_level + CHANCE_MARGIN,
            }
        )
    widths = [f["total_width"] for f in folds]
    return {
        "class": model.model_class,
        "adaptive": model.spec.adaptive,
        "grows": model.spec.grows,
        "grid_size": len(points),
        **summarise(fold_results),
        "total_width": {"mean": _mean(widths), "std": float(np.std(widths)) if widths else None},
        "num_parameters": _mean(f["num_parameters"] for f in folds),
        "seconds": sum(f["seconds"] for f in folds),
        "selection_seconds": sum(f["selection_seconds"] for f in folds),
        "cpu_seconds": sum(f["cpu_seconds"] for f in folds),
        "selection_cpu_seconds": sum(f["selection_cpu_seconds"] for f in folds),
        "failed_runs": sum(f["failed_runs"] for f in folds),
        "folds_at_chance": [f["fold"] for f in folds if f["at_chance"]],
        "per_fold": folds,
    }


def cpu_seconds(record: dict[str, Any]) -> float:
    """A run's process CPU time; its wall time for records written before runs measured CPU time (2026-12-02).

    Those runs each had a core of their own unless the machine was
    oversubscribed, so their wall time is their CPU time or an overestimate.
    """
    return record.get("cpu_seconds", record["seconds"])


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.fmean(values)) if values else None


def write_report(results: ExperimentResults) -> dict[str, Any]:
    """Write ``summary.json``, ``report.md`` and ``plots/`` into the results folder."""
    content = summary(results)
    root = results.store.root
    write_json_atomically(root / "summary.json", content)
    plots = write_plots(results, content, root / "plots")
    (root / "report.md").write_text(markdown(content, [p.relative_to(root) for p in plots]))
    return content


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def score_text(model: dict[str, Any]) -> str:
    if model["mean"] is None:
        return "-"
    return f"{percent(model['mean'])} ± {percent(model['std'])}"


def markdown(content: dict[str, Any], plots: Sequence[Path]) -> str:
    """The experiment's report in Markdown."""
    dataset = content["dataset"]
    lines = [
        f"# {content['experiment']}: {dataset['name']}"
        + (f" ({dataset['features']} features)" if dataset["features"] else ""),
        "",
        f"Configuration `{content['source']}`; splits: {content['splits_source']}.",
        f"Score: {content['metric']} in %, mean ± {content['std']}; ties in model selection go to the "
        f"{content['tie_break']} configuration in grid order.",
        f"Software: {', '.join(f'{k} {v}' for k, v in content['versions'].items())}; machine: {content['machine']}; "
        f"report written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "Run time: the runs' seconds summed"
        + (
            "; grid points that differ only in the early-stopping monitor share one training, counted once."
            if content["shared_trainings"]
            else "; every grid point has its own training."
        ),
        "",
        f"Total width: {TOTAL_WIDTH_NOTE}; learned widths: {LEARNED_WIDTHS_NOTE}.",
        "",
        "| model | class | score | folds | grid | total width | parameters | run time [s] | failed runs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, model in content["models"].items():
        width = model["total_width"]
        width_text = "-" if width["mean"] is None else f"{width['mean']:.0f} ± {width['std']:.0f}"
        params = "-" if model["num_parameters"] is None else f"{model['num_parameters']:,.0f}"
        lines.append(
            f"| {name} | {model['class']} | {score_text(model)} | {model['folds_scored']}/{model['folds']} "
            f"| {model['grid_size']} | {width_text} | {params} | {model['seconds']:.0f} "
            f"| {model['failed_runs']} |"
        )
    for name, model in content["models"].items():
        lines += [
            "",
            f"## {name}",
            "",
            "| fold | selected config | tied | val | test runs | fold score | train | learned widths "
            "(mean of final runs) | total width | seconds |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for fold in model["per_fold"]:
            widths = widths_by_depth(fold["layer_widths"])
            lines.append(
                f"| {fold['fold']} | {fold['selected_config']}: `{json.dumps(fold['config'])}` "
                f"| {', '.join(map(str, fold['tied_configs']))} | {percent(fold['val_score'])} "
                f"| {', '.join(percent(s) for s in fold['test_scores'])} | {percent(fold['score'])} "
                f"| {percent(fold['train_score'])} | {widths} | {fold['total_width']:.0f} | {fold['seconds']:.0f} |"
            )
        if model["folds_at_chance"]:
            lines += [
                "",
                f"**Folds at chance level** (majority-class rate {percent(content['chance_level'])}%): "
                f"{', '.join(map(str, model['folds_at_chance']))}.",
            ]
    lines += [
        "",
        "Different outer folds may select different configurations: model selection is repeated "
        "inside every fold, and the spread of the winners is part of the risk estimate.",
    ]
    lines += [""] + [f"![{p.stem}]({p.as_posix()})" for p in plots]
    return "\n".join(lines) + "\n"


def widths_by_depth(runs: Sequence[dict[str, int]]) -> str:
    """Mean width of every layer over the runs of each depth, e.g. ``2 layers (4 runs): 17, 16``.

    Runs of different depth are never averaged together: a layer that only the
    deeper runs have would be averaged over fewer runs than the others, and the
    layer means would not add up to the mean total width.
    """
    depths: dict[tuple[str, ...], list[dict[str, int]]] = {}
    for run in runs:
        depths.setdefault(tuple(run), []).append(run)
    if not depths:
        return "-"
    return "; ".join(
        f"{len(layers)} layers ({_count(len(group), 'run')}): "
        + ", ".join(_neurons(statistics.fmean(run[layer] for run in group)) for layer in layers)
        for layers, group in sorted(depths.items(), key=lambda item: len(item[0]))
    )


def _neurons(mean: float) -> str:
    """A mean width to one decimal, ``16`` rather than ``16.0``: rounded to whole neurons, the layers'
    means of a depth would not add up to its mean total width (16.5 + 16.5 shown as 16 + 16)."""
    return f"{mean:.1f}".removesuffix(".0")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def write_plots(results: ExperimentResults, content: dict[str, Any], folder: Path) -> list[Path]:
    """Width per layer over epochs, test score per fold, and score against total width."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, model in content["models"].items():
        if not _widths_change(model) or not model["per_fold"]:
            continue
        runs = [
            (f"fold {key.fold + 1}, run {key.repeat + 1}", results.store.read(key)["history"])
            for fold in range(results.num_folds)
            for key in results.final_keys(name, fold)
            if results.store.has(key)
        ]
        paths.append(save_figure(widths_figure(name, runs), folder / f"widths_{name}.png"))

    paths.append(save_figure(fold_scores_figure(content), folder / "fold_scores.png"))

    figure, axes = plt.subplots(figsize=(6, 4))
    for name, model in content["models"].items():
        marker = "o" if model["adaptive"] else "s"
        axes.scatter(
            [f["total_width"] for f in model["per_fold"]],
            [100 * (f["score"] or 0) for f in model["per_fold"]],
            marker=marker,
            label=f"{name} ({'adaptive' if model['adaptive'] else 'fixed'})",
        )
    axes.set(xlabel="total width", ylabel=f"test {content['metric']} [%]", title="score against total width")
    axes.legend(fontsize="small")
    paths.append(save_figure(figure, folder / "score_vs_width.png"))
    return paths


def widths_figure(name: str, runs: Sequence[tuple[str, list[dict[str, Any]]]]):
    """The width of every layer over epochs: one panel per depth, a colour per layer, a line style per run.

    ``runs`` are ``(label, history)`` pairs. Runs of different depth share no
    panel, so that a layer is never compared with another depth's; the width
    axis starts at 0, so that a jitter of a neuron or two looks as small as it is.
    Runs past the number of line styles are drawn solid and not labelled one by one.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    depths: dict[tuple[str, ...], list[tuple[str, list[dict[str, Any]]]]] = {}
    for label, history in runs:
        if history:
            depths.setdefault(tuple(history[0]["widths"]), []).append((label, history))
    panels = sorted(depths.items(), key=lambda item: len(item[0]))
    figure, axes_row = plt.subplots(
        1, max(len(panels), 1), figsize=(1 + 5 * max(len(panels), 1), 4), sharey=True, squeeze=False
    )
    widths = [w for _, group in panels for _, history in group for entry in history for w in entry["widths"].values()]
    widest = max(widths, default=1)
    for axes, (layers, group) in zip(axes_row[0], panels):
        labelled = len(group) <= len(RUN_STYLES)
        for index, (_, history) in enumerate(group):
            epochs = [entry["epoch"] for entry in history]
            style = RUN_STYLES[index] if labelled else "-"
            for layer_index, layer in enumerate(layers):
                layer_widths = [entry["widths"][layer] for entry in history]
                axes.plot(epochs, layer_widths, color=f"C{layer_index}", linestyle=style, alpha=0.7)
        handles = [Line2D([], [], color=f"C{i}", label=layer) for i, layer in enumerate(layers)]
        if labelled:
            handles += [Line2D([], [], color="grey", linestyle=s, label=run) for s, (run, _) in zip(RUN_STYLES, group)]
        axes.legend(handles=handles, fontsize="small", loc="lower right")
        axes.set(xlabel="epoch", title=f"{_count(len(layers), 'layer')}: {_count(len(group), 'final run')}")
    axes_row[0][0].set(ylabel="width [neurons]", ylim=(0, 1.2 * widest))
    figure.suptitle(f"{name}: learned width per layer")
    return figure


def fold_scores_figure(content: dict[str, Any]):
    """Each model's test score per outer fold, with a tick at every fold (folds are whole numbers)."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for name, model in content["models"].items():
        folds = [f["fold"] for f in model["per_fold"]]
        axes.plot(folds, [100 * (f["score"] or 0) for f in model["per_fold"]], "o-", label=name)
    axes.set_xticks(sorted({f["fold"] for model in content["models"].values() for f in model["per_fold"]}))
    axes.set(xlabel="outer fold", ylabel=f"test {content['metric']} [%]", title="test score per fold")
    axes.legend(fontsize="small")
    return figure


def _widths_change(model: dict[str, Any]) -> bool:
    """Whether a model's widths change while it trains: learned (adaptive) or grown."""
    return model["adaptive"] or model.get("grows", False)


def save_figure(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def table(contents: Sequence[dict[str, Any]]) -> str:
    """One line per model and dataset: the terminal summary of ``awgnn report``."""
    rows = [("dataset", "model", "score (%)", "folds", "total width", "learned widths", "params")]
    for content in contents:
        dataset = content["dataset"]["name"] + (
            f" [{content['dataset']['features']}]" if content["dataset"]["features"] else ""
        )
        for name, model in content["models"].items():
            width = model["total_width"]["mean"]
            learned = "-"
            if _widths_change(model) and model["per_fold"]:
                learned = widths_by_depth([w for fold in model["per_fold"] for w in fold["layer_widths"]])
            params = "-" if model["num_parameters"] is None else f"{model['num_parameters']:,.0f}"
            rows.append(
                (
                    dataset,
                    name,
                    score_text(model),
                    f"{model['folds_scored']}/{model['folds']}",
                    "-" if width is None else f"{width:.0f}",
                    learned,
                    params,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [f"total width: {TOTAL_WIDTH_NOTE}", f"learned widths: {LEARNED_WIDTHS_NOTE}"]
    return "\n".join(lines)
