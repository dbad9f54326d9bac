"""The numbers that benchmarks/RESULTS.md quotes in prose, recomputed from the committed records.

Every check below reads one record (a JSON or JSONL file under ``benchmarks/output/``, a harness results folder
under ``benchmarks/reproduction/`` or ``benchmarks/diagnostics/``), recomputes a number that the goals table or
the commentary of sections 1-11 quotes, rounds it as the prose does and asserts that the passage contains it.
Verdicts ("within one standard deviation", "met") are recomputed with the rule the section states, and
"within one standard deviation" always with :func:`common.within_one_std`. A number that no record in the
working tree supports is either marked in the prose as coming from an older record (checked against that
record's committed version where git can read it) or from a record that is not in the repository.

Costs: records written before 2026-12-02 06:10 UTC hold wall time only (``seconds``); later ones also hold
process CPU time (``cpu_seconds``). Comparisons of cost across cells that ran under different loads are
checked in epochs, which the load does not change.

Section 12 and the goals row "width the data sets" are left out here (they are being rewritten). Only records are
read, no training; the older versions of rerun records come from ``git show`` and their checks are skipped where
git cannot read them.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
OUTPUT = BENCHMARKS / "output"
RECORDS = BENCHMARKS / "reproduction"
DIAGNOSTICS = BENCHMARKS / "diagnostics"
RESULTS = (BENCHMARKS / "RESULTS.md").read_text()

sys.path.insert(0, str(BENCHMARKS))
import common  # noqa: E402
import growth  # noqa: E402
import reproduction  # noqa: E402
import speed  # noqa: E402
import truncation  # noqa: E402
import width_convergence  # noqa: E402
import width_vs_difficulty  # noqa: E402

from awgnn.harness.presets import PRESETS  # noqa: E402
from awgnn.harness.report import load_results, summary  # noqa: E402

within_one_std = common.within_one_std
TU = ("MUTAG", "PROTEINS", "IMDB-BINARY", "IMDB-MULTI", "ENZYMES", "NCI1")  # the datasets with finished cells
REAL = ("MUTAG", "PROTEINS", "NCI1", "IMDB-BINARY")  # the width-convergence study's real datasets
GROWTH_AWN = ("growth_s2d", "growth_s2d_fast", "growth_firefly", "growth_tiny")  # grown on the AWN classifier


# -- reading RESULTS.md ---------------------------------------------------------------------------------------------


def flat(text: str) -> str:
    """``text`` with every run of white space (line breaks included) as one space."""
    return " ".join(text.split())


def section(number: int) -> str:
    """Section ``number`` of RESULTS.md, from its heading to the next section's."""
    start = RESULTS.index(f"\n## {number}. ")
    end = RESULTS.find("\n## ", start + 1)
    return RESULTS[start : None if end == -1 else end]


def subsection(heading: str) -> str:
    """From the heading line that starts with ``heading`` (``#`` marks included) to the next heading."""
    start = RESULTS.index(f"\n{heading}")
    match = re.compile(r"\n#{2,4} ").search(RESULTS, start + 1)
    return RESULTS[start : match.start() if match else None]


def table_row(text: str, first_cell: str) -> list[str]:
    """The cells of the one Markdown table row of ``text`` whose first cell starts with ``first_cell``."""
    rows = [line for line in text.splitlines() if line.startswith(f"| {first_cell}")]
    assert len(rows) == 1, f"{len(rows)} rows start with {first_cell!r}"
    return [flat(cell) for cell in rows[0].strip().strip("|").split(" | ")]


def goals(study: str) -> tuple[str, str]:
    """The measured and met cells of the goals table's row for ``study``."""
    block = RESULTS[RESULTS.index("## Goals at a glance") : RESULTS.index("\n## 1. ")]
    cells = table_row(block, f"{study} |")
    return cells[2], cells[3]


def passage(text: str, opening: str) -> str:
    """The paragraph or list item of ``text`` that contains ``opening``, flattened."""
    chunks = re.split(r"\n\s*\n|\n(?=- )", text)
    found = [flat(chunk) for chunk in chunks if flat(opening) in flat(chunk)]
    assert len(found) == 1, f"{len(found)} passages contain {opening!r}"
    return found[0]


def assert_quoted(text: str, *phrases: str) -> None:
    """Every phrase appears in ``text`` (white space flattened on both sides)."""
    text = flat(text)
    missing = [phrase for phrase in phrases if flat(phrase) not in text]
    assert not missing, f"not quoted: {missing}\nin: {text}"


# -- formatting as the prose does -----------------------------------------------------------------------------------


def pct(value: float, digits: int = 1) -> str:
    """A fraction as a percentage with ``digits`` decimals, no sign."""
    return f"{100 * value:.{digits}f}"


def pm(cell: Mapping[str, Any], digits: int = 1) -> str:
    """``mean ± std`` of a cell's accuracy in percent."""
    return f"{pct(cell['mean'], digits)} ± {pct(cell['std'], digits)}"


def signed(value: float, digits: int = 2) -> str:
    """A number with the prose's minus sign (U+2212) when negative."""
    return f"{value:.{digits}f}".replace("-", "−")


def plus(value: float, digits: int = 1) -> str:
    """A signed number with the prose's minus sign."""
    return f"{value:+.{digits}f}".replace("-", "−")


def span(values: Iterable[float], fmt: Callable[[float], str] = lambda v: f"{v:.1f}") -> str:
    """``low–high`` of ``values`` as formatted (one value when both ends format alike)."""
    values = list(values)
    low, high = fmt(min(values)), fmt(max(values))
    return low if low == high else f"{low}–{high}"


def whole(value: float) -> str:
    return f"{value:.0f}"


def two(value: float) -> str:
    return f"{value:.2f}"


def percent(fraction: float) -> str:
    return f"{100 * fraction:.0f}"


def thousands(value: float) -> str:
    return f"{value:,.0f}"


WORDS = dict(enumerate(("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")))


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


# -- reading the records --------------------------------------------------------------------------------------------


def output_json(name: str) -> Any:
    return json.loads((OUTPUT / name).read_text())


@functools.cache
def jsonl_runs(path: str) -> tuple[dict[str, Any], ...]:
    """The finished runs of a benchmark's JSONL record (a rerun replaces a run with the same key)."""
    return tuple(common.ResultsFile(OUTPUT / path).load().values())


@functools.cache
def cell(model: str, dataset: str) -> dict[str, Any]:
    """A finished reproduction cell, summarised by the harness as the section-10 table is."""
    found = reproduction.cell_summary(RECORDS, model, dataset)
    assert found is not None, f"{model}/{dataset} is not finished"
    return found


@functools.cache
def cell_runs(model: str, dataset: str) -> tuple[dict[str, Any], ...]:
    """Every stored run (model selection and final) of a reproduction cell."""
    results = load_results(reproduction.records_folder(RECORDS, model, dataset))
    return tuple(results.store.read(key) for key in results.stored_keys())


def epochs(model: str, dataset: str) -> int:
    """Epochs trained by every run of a cell: its cost in units that the machine's load does not change."""
    return sum(run["epochs"] for run in cell_runs(model, dataset))


def wall_seconds_per_epoch(model: str, dataset: str) -> float:
    return sum(run["seconds"] for run in cell_runs(model, dataset)) / epochs(model, dataset)


def wall_time_only(model: str, dataset: str) -> bool:
    """Whether no run of the cell recorded process CPU time (its CPU-hours are wall time)."""
    return not any("cpu_seconds" in run for run in cell_runs(model, dataset))


def params(model: str, dataset: str) -> float:
    return cell(model, dataset)["num_parameters"]


def param_ratio(model: str, dataset: str, reference: str = "gin") -> float:
    return params(model, dataset) / params(reference, dataset)


def width_of(model: str, dataset: str) -> str:
    """A cell's mean total width as the prose quotes it."""
    return f"{cell(model, dataset)['total_width']['mean']:.0f}"


def ratio_of(model: str, dataset: str, reference: str = "gin") -> str:
    """A cell's parameters relative to the reference cell's, as the prose quotes them."""
    return f"{param_ratio(model, dataset, reference):.2f}"


def hours(model: str, dataset: str) -> str:
    """A cell's CPU-hours as the tables give them (wall time for runs that did not record CPU time)."""
    return f"{cell(model, dataset)['cpu_seconds'] / 3600:.2f}"


def within_grid(model: str, dataset: str, reference: str = "gin") -> bool:
    """The section-10 verdict: a cell's mean within one standard deviation of the reference cell's."""
    grid = cell(reference, dataset)
    return within_one_std(cell(model, dataset)["mean"], grid["mean"], grid["std"])


def per_fold(model: str, dataset: str, key: str = "score") -> list[float]:
    return [fold[key] for fold in cell(model, dataset)["per_fold"]]


def train_accuracy(model: str, dataset: str) -> float:
    """Mean training accuracy of a cell's final runs (the harness's per-fold ``train_score``)."""
    return statistics.fmean(per_fold(model, dataset, "train_score"))


def widths_of(summarised: Mapping[str, Any]) -> list[int]:
    """Every hidden layer's width in every final run of a summarised model."""
    return [w for fold in summarised["per_fold"] for run in fold["layer_widths"] for w in run.values()]


def block_means_of(summarised: Mapping[str, Any]) -> dict[str, float]:
    """Each block's mean width over a summarised model's final runs."""
    widths: dict[str, list[int]] = {}
    for fold in summarised["per_fold"]:
        for run in fold["layer_widths"]:
            for block, width in run.items():
                widths.setdefault(block, []).append(width)
    return {block: statistics.fmean(values) for block, values in widths.items()}


def layer_widths(model: str, dataset: str) -> list[int]:
    return widths_of(cell(model, dataset))


def block_means(model: str, dataset: str) -> dict[str, float]:
    return block_means_of(cell(model, dataset))


@functools.cache
def diagnostic(name: str, model: str) -> dict[str, Any]:
    """One model of a diagnostic under ``benchmarks/diagnostics/``, summarised by the harness."""
    return summary(load_results(DIAGNOSTICS / name))["models"][model]


@functools.cache
def diagnostic_runs(name: str) -> tuple[dict[str, Any], ...]:
    results = load_results(DIAGNOSTICS / name)
    return tuple(results.store.read(key) for key in results.stored_keys())


def committed(commit: str, path: str) -> Any:
    """A record as committed at ``commit`` (an older version of a file that has since been rerun)."""
    try:
        text = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:{path}"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git cannot read {path} at {commit} here")
    return json.loads(text)


def test_prose_helpers_find_what_they_are_asked_for():
    assert goals("collation")[1] == "yes"
    assert table_row(section(6), "InMemoryLoader")[3] == "8.5%"
    assert "Every table below" in passage(RESULTS[:2000], "verbatim output")
    with pytest.raises(AssertionError):
        assert_quoted("a b", "c")
    assert span([1.04, 1.02]) == "1.0" and span([1.04, 1.02], two) == "1.02–1.04"
    assert signed(-0.09) == "−0.09"


# -- section 1: width follows difficulty ----------------------------------------------------------------------------


def convergence(task: str, setting: str, start: int | None = None, path: str = "width_convergence.jsonl") -> list:
    return [
        r
        for r in jsonl_runs(path)
        if r["study"] == "convergence"
        and r["task"] == task
        and r["setting"] == setting
        and (start is None or r["start"] == start)
    ]


def spread(task: str, setting: str, path: str = "width_convergence.jsonl") -> float:
    """Final total width from the widest start over that from the narrowest (the study's own function)."""
    by_start = width_convergence.group(convergence(task, setting, path=path), "start")
    return width_convergence.spread({start: runs for (start,), runs in by_start.items()})


def ladder_runs(setting: str) -> list[dict[str, Any]]:
    return [r for r in jsonl_runs("width_convergence.jsonl") if r["study"] == "ladder" and r["setting"] == setting]


def ladder_rho(setting: str) -> float:
    runs = ladder_runs(setting)
    levels = [int(r["task"].removeprefix(common.LADDER_PREFIX)) for r in runs]
    return width_convergence.spearmanr(levels, [r["final_total_width"] for r in runs]).statistic


def ladder_levels(setting: str) -> dict[int, list[dict[str, Any]]]:
    levels: dict[int, list[dict[str, Any]]] = {}
    for run in ladder_runs(setting):
        levels.setdefault(int(run["task"].removeprefix(common.LADDER_PREFIX)), []).append(run)
    return dict(sorted(levels.items()))


def kendall(setting: str) -> tuple[float, float, int]:
    """Mean and least Kendall's tau between the real datasets' orders by final width, and the number of pairs."""
    orders = []
    for _, runs in width_convergence.group([r for t in REAL for r in convergence(t, setting)], "seed", "start").items():
        by_task = {r["task"]: r["final_total_width"] for r in runs}
        if set(by_task) == set(REAL):
            orders.append([by_task[t] for t in REAL])
    taus = [width_convergence.kendalltau(a, b).statistic for a, b in itertools.combinations(orders, 2)]
    taus = [t for t in taus if t == t]
    return statistics.fmean(taus), min(taus), len(taus)


SPREAD_TARGET = 1.25  # issue #9: final widths from starts 8 and 320 within ±25%
LADDER_TASKS = ("ladder-0", "ladder-2", "ladder-4")
LONG = "width_convergence_long/width_convergence.jsonl"


def test_goals_width_follows_difficulty():
    measured, met = goals("width follows difficulty")
    levels = ladder_levels("awgnn")
    accuracy = [statistics.fmean(100 * r["test_accuracy"] for r in runs) for runs in levels.values()]
    rho = ladder_rho("awgnn")
    assert_quoted(
        measured,
        f"rho {rho:.2f} over {len(ladder_runs('awgnn'))} runs",
        f"accuracy {span(accuracy, whole)}% at every level",
    )
    assert met == yes_no(rho >= 0.8 and min(len(runs) for runs in levels.values()) >= 10)


def test_goals_same_width_from_any_start():
    measured, met = goals("same width from any start")
    long_spreads = [spread(task, "awgnn", LONG) for task in LADDER_TASKS]
    paper = [spread(task, "paper") for task in (*LADDER_TASKS, *REAL)]
    assert_quoted(
        measured,
        ", ".join(f"{task} {spread(task, 'awgnn'):.2f}" for task in REAL),
        f"ladder {span(long_spreads, two)} at 300 epochs",
        f"(paper's setting: {span(paper, whole)})",
    )
    real_met = sum(spread(task, "awgnn") <= SPREAD_TARGET for task in REAL) >= 3
    assert met == f"real data {yes_no(real_met)}; ladder {yes_no(max(long_spreads) <= SPREAD_TARGET)}"


def test_goals_real_datasets_ranked_alike():
    measured, met = goals("real datasets ranked alike")
    awgnn, paper = kendall("awgnn")[0], kendall("paper")[0]
    assert_quoted(measured, f"{signed(awgnn)} (preset awgnn), {signed(paper)} (paper)")
    # No threshold in issue #9; "weakly" is a positive tau below section 12's target of 0.7.
    assert met == ("weakly" if 0 < awgnn < 0.7 else yes_no(awgnn >= 0.7))


def test_section_1_paper_setting_has_no_equilibrium():
    paper = [spread(task, "paper") for task in (*LADDER_TASKS, *REAL)]
    text = passage(section(1), "Why the paper's setting has no equilibrium")
    assert_quoted(text, f"spreads of {span(paper, whole)}× between the 8- and 320-neuron starts")


def test_section_1_presets_quoted():
    text = passage(section(1), "`awgnn` = the width prior")
    awgnn = PRESETS["awgnn"]
    assert_quoted(
        text,
        f"(centre {awgnn['width_prior_centre']}, s = {awgnn['width_prior_std']})",
        f"`rate_lr` {awgnn['rate_lr']}",
    )


def test_section_1_targets_of_issue_9():
    table = subsection("#### Targets of issue #9")
    real = table_row(table, "from starts 8 and 320")
    met_real = [task for task in REAL if spread(task, "awgnn") <= SPREAD_TARGET]
    paper_real = [spread(task, "paper") for task in REAL]
    assert_quoted(
        real[1],
        ", ".join(f"{task} {spread(task, 'awgnn'):.2f}" for task in met_real),
        f"IMDB-BINARY {spread('IMDB-BINARY', 'awgnn'):.2f} (paper's setting: {span(paper_real, whole)})",
    )
    assert real[2] == f"{yes_no(len(met_real) >= 3)} ({len(met_real)} of {len(REAL)})"

    ladder = table_row(table, "the same on every ladder level")
    long_spreads = [spread(task, "awgnn", LONG) for task in LADDER_TASKS]
    paper_ladder = [spread(task, "paper") for task in LADDER_TASKS]
    assert_quoted(
        ladder[1],
        ", ".join(f"{spread(task, 'awgnn'):.2f}" for task in LADDER_TASKS) + " at 100 epochs",
        ", ".join(f"{value:.2f}" for value in long_spreads) + " at 300 epochs",
        f"(paper's setting: {span(paper_ladder, whole)})",
    )
    assert ladder[2] == yes_no(max(long_spreads) <= SPREAD_TARGET)

    rho = table_row(table, "Spearman's ρ")
    assert_quoted(
        rho[1],
        f"preset awgnn {ladder_rho('awgnn'):.2f} ({len(ladder_runs('awgnn'))} runs",
        f"paper's setting {ladder_rho('paper'):.2f}",
    )
    assert rho[2] == yes_no(ladder_rho("awgnn") >= 0.8)

    tau = table_row(table, "real datasets ranked")
    mean, least, pairs = kendall("awgnn")
    assert_quoted(
        tau[1],
        f"τ {mean:.2f} on average over {pairs} pairs of runs (min {signed(least)})",
        f"paper's setting {signed(kendall('paper')[0])}",
    )


QUICK = output_json("quick_summary.json")["models"]


def quick_verdict() -> tuple[float, bool]:
    adaptive, fixed = QUICK["awn-gin"], QUICK["gin"]
    gap = 100 * (fixed["mean"] - adaptive["mean"])
    return gap, within_one_std(adaptive["mean"], fixed["mean"], fixed["std"])


def test_section_1_mutag_under_the_protocol():
    adaptive, fixed = QUICK["awn-gin"], QUICK["gin"]
    table = subsection("#### Under the protocol: MUTAG")
    widths = [w for fold in adaptive["per_fold"] for run in fold["layer_widths"] for w in run.values()]
    assert table_row(table, "awn-gin")[1:] == [
        pm(adaptive),
        f"{adaptive['total_width']['mean']:.0f} ± {adaptive['total_width']['std']:.0f} "
        f"({statistics.fmean(widths):.0f} a block)",
        thousands(adaptive["num_parameters"]),
        f"{adaptive['seconds']:.0f}",
    ]
    assert table_row(table, "gin, fixed grid")[1:] == [
        pm(fixed),
        f"{fixed['total_width']['mean']:.0f} ± {fixed['total_width']['std']:.0f}",
        thousands(fixed["num_parameters"]),
        f"{fixed['seconds']:.0f}",
    ]
    gap, within = quick_verdict()
    assert not within and gap <= 100 * adaptive["std"]
    assert adaptive["folds"] == fixed["folds"] == 3
    assert_quoted(table, f"{adaptive['folds']} outer folds")
    text = passage(table, "The adaptive GIN is")
    assert_quoted(
        text,
        f"{gap:.1f} points below the fixed grid, outside the grid's standard deviation and within its own",
        f"{adaptive['num_parameters'] / fixed['num_parameters']:.2f}× the parameters",
    )
    # The run of 2026-12-01 04:17 is the record as committed then.
    older = committed("acc5565", "benchmarks/output/quick_summary.json")["models"]["awn-gin"]
    assert_quoted(text, f"{pm(older)}% ({thousands(older['num_parameters'])} parameters)", "commit acc5565")
    assert_quoted(text, "31,459 parameters (3.2×; a record not in the repository)")


def test_section_1_proteins_under_the_protocol():
    text = subsection("#### Under the protocol: PROTEINS")
    awn, gin = cell("awn_gin", "PROTEINS"), cell("gin", "PROTEINS")
    gap = 100 * (gin["mean"] - awn["mean"])
    within = within_grid("awn_gin", "PROTEINS")
    assert_quoted(
        passage(text, "The adaptive GIN with `preset: awgnn` reaches"),
        f"**{pm(awn)}%** with {thousands(params('awn_gin', 'PROTEINS'))} parameters against the fixed GIN's "
        f"**{pm(gin)}%** with {thousands(params('gin', 'PROTEINS'))} "
        f"({ratio_of('awn_gin', 'PROTEINS')}× the parameters)",
        f"{gap:.1f} points below, {'within' if within else 'outside'} one standard deviation of the fixed grid "
        f"({pct(gin['std'])})",
        f"this target is **{'met' if within else 'not met'}**",
    )

    pooling = passage(text, "not the pooling")
    mean, total = diagnostic("PROTEINS_pooling", "awn-gin-mean"), diagnostic("PROTEINS_pooling", "awn-gin-sum")
    folds = {fold["fold"] for fold in total["per_fold"]}
    gin_folds = [fold for fold in gin["per_fold"] if fold["fold"] in folds]
    assert_quoted(
        pooling,
        f"{pm(mean)}% with the AWN paper's mean pooling and {pm(total)}% with FairGIN's sum pooling",
        f"on those three folds the fixed GIN scored {pct(statistics.fmean(f['score'] for f in gin_folds))}%",
    )

    narrow = passage(text, "not the preset's narrow layers as such")
    paper = convergence("PROTEINS", "paper")
    by_start = [statistics.fmean(r["final_total_width"] for r in convergence("PROTEINS", "paper", s)) for s in (8, 320)]
    preset = convergence("PROTEINS", "awgnn")
    assert_quoted(
        narrow,
        f"{by_start[0]:.1f} to {by_start[1]:,.0f} neurons in total on average",
        f"(about {statistics.fmean(r['final_total_width'] for r in preset):.0f})",
        f"({common.mean_std([100 * r['test_accuracy'] for r in paper])}% and "
        f"{common.mean_std([100 * r['test_accuracy'] for r in preset])}%)",
    )

    folds_text = passage(text, "the 10-fold gap comes mostly from two folds")
    awn_scores, gin_scores = per_fold("awn_gin", "PROTEINS"), per_fold("gin", "PROTEINS")
    assert_quoted(
        folds_text,
        f"(5 and 6: {pct(awn_scores[4])}% and {pct(awn_scores[5])}% against {pct(gin_scores[4])}% and "
        f"{pct(gin_scores[5])}%)",
        f"({pct(train_accuracy('awn_gin', 'PROTEINS'))}% mean training accuracy against "
        f"{pct(train_accuracy('gin', 'PROTEINS'))}%)",
        f"Every layer sits at {span(layer_widths('awn_gin', 'PROTEINS'), whole)} neurons "
        f"(block means {span(block_means('awn_gin', 'PROTEINS').values(), whole)})",
    )

    wide = passage(text, "not the width either")
    centre = diagnostic("PROTEINS_width_prior", "awn-gin-centre-64")
    gin_train = statistics.fmean(f["train_score"] for f in gin_folds)
    assert_quoted(
        wide,
        f"the layers grow to {span(block_means_of(centre).values(), whole)} neurons on average "
        f"({span(widths_of(centre), whole)} in single runs; "
        f"total {centre['total_width']['mean']:.0f}, against {total['total_width']['mean']:.0f} at the preset's",
        f"training accuracy moves from {pct(statistics.fmean(f['train_score'] for f in total['per_fold']))}% to "
        f"{pct(statistics.fmean(f['train_score'] for f in centre['per_fold']))}% (the fixed GIN: {pct(gin_train)}%)",
        f"test accuracy from {pct(total['mean'])}% to {pct(centre['mean'])}% (the fixed GIN on those folds: "
        f"{pct(statistics.fmean(f['score'] for f in gin_folds))}%)",
    )

    architecture = passage(text, "the architecture, not the width method")
    learners = ("awn_gin", "awn_gin_paper", *GROWTH_AWN, "growth_s2d_per_layer")
    fixed64 = diagnostic("PROTEINS_fixed_awn_architecture", "gin-classifier-64")
    scheduled = diagnostic("PROTEINS_lr_schedule", "awn-gin-schedule")
    scheduled_fixed = diagnostic("PROTEINS_lr_schedule", "gin-classifier-64-schedule")
    fixed_scores = [f["score"] for f in fixed64["per_fold"]]
    learned = [(awn["total_width"]["mean"], params("awn_gin", "PROTEINS"))]
    learned.append((scheduled["total_width"]["mean"], scheduled["num_parameters"]))
    dropout = sum(fold["config"]["dropout"] == 0.5 for fold in gin["per_fold"])
    assert max(layer_widths("awn_gin", "PROTEINS")) < 64  # "wider than any layer that `preset: awgnn` learns"
    assert_quoted(
        architecture,
        f"scores {span(cell(m, 'PROTEINS')['mean'] * 100 for m in learners)}% on PROTEINS",
        f"one configuration without a grid {pct(cell('awn_gin_single', 'PROTEINS')['mean'])}%",
        f"{thousands(fixed64['num_parameters'])} parameters): **{pm(fixed64)}%**",
        f"(5 and 6: {pct(fixed_scores[4])}% and {pct(fixed_scores[5])}%)",
        f"the adaptive GIN scores {pm(scheduled)}% with it, its fixed-width counterpart {pm(scheduled_fixed)}%",
        f"which {dropout} of its 10 folds select",
        f"the {gap:.1f}-point gap to FairGIN",
        f"the learned width ({span([w for w, _ in learned], whole)} in total, "
        f"{span([p for _, p in learned], lambda v: f'{round(v, -2):,.0f}')} parameters)",
        f"(about {round(fixed64['num_parameters'], -3):,.0f} parameters)",
    )

    fair = passage(text, "with FairGIN's architecture, the gap closes")
    fair_cell, fair_scores = cell("awn_fair_gin", "PROTEINS"), per_fold("awn_fair_gin", "PROTEINS")
    fair_within = within_grid("awn_fair_gin", "PROTEINS")
    assert_quoted(
        fair,
        f"scores **{pm(fair_cell)}%** with {thousands(params('awn_fair_gin', 'PROTEINS'))} parameters against the "
        f"fixed grid's {pm(gin)}% with {thousands(params('gin', 'PROTEINS'))}: "
        f"{'within' if fair_within else 'outside'} one standard deviation at "
        f"{ratio_of('awn_fair_gin', 'PROTEINS')}× the parameters",
        f"this target is **{'met' if fair_within else 'not met'} on PROTEINS**",
        f"Folds 5 and 6 score {pct(fair_scores[4])}% and {pct(fair_scores[5])}%",
        f"its blocks settle at {span(block_means('awn_fair_gin', 'PROTEINS').values(), whole)} neurons on average",
    )


def settling_epoch(task: str) -> int:
    """The first epoch after which the mean total widths from every start are within ±25% of each other."""
    starts = sorted({r["start"] for r in convergence(task, "awgnn")})
    curves = [
        [statistics.fmean(e) for e in zip(*(r["total_width_per_epoch"] for r in convergence(task, "awgnn", s)))]
        for s in starts
    ]
    return next(i + 1 for i, widths in enumerate(zip(*curves)) if max(widths) / min(widths) <= SPREAD_TARGET)


def test_section_1_commentary():
    text = passage(section(1), "The paper's setting has no width equilibrium")
    settled = ("MUTAG", "PROTEINS", "NCI1")
    below = [
        statistics.fmean(100 * r["test_accuracy"] for r in convergence(t, "paper"))
        - statistics.fmean(100 * r["test_accuracy"] for r in convergence(t, "awgnn"))
        for t in settled
    ]
    spreads = [statistics.pstdev([100 * r["test_accuracy"] for r in convergence(t, "awgnn")]) for t in settled]
    assert all(0 < b <= s for b, s in zip(below, spreads))  # below the paper's setting, within the seeds' spread
    narrower = [
        statistics.fmean(r["final_total_width"] for r in convergence(t, "paper", 117))
        / statistics.fmean(r["final_total_width"] for r in convergence(t, "awgnn"))
        for t in settled
    ]

    def mean_width(task: str, start: int, path: str = "width_convergence.jsonl") -> str:
        return f"{statistics.fmean(r['final_total_width'] for r in convergence(task, 'awgnn', start, path)):.0f}"

    second_block = [r["final_widths"]["block1"] for r in convergence("ladder-4", "awgnn", path=LONG)]
    levels = ladder_levels("awgnn")
    widths = [statistics.fmean(r["final_total_width"] for r in runs) for runs in levels.values()]
    accuracy = [statistics.fmean(100 * r["test_accuracy"] for r in runs) for runs in levels.values()]
    long_spreads = [spread(task, "awgnn", LONG) for task in LADDER_TASKS]
    assert_quoted(
        text,
        f"within ±25% of the others' after {span(map(settling_epoch, settled), whole)} epochs",
        f"({span(below, lambda v: f'{v:.1f}')} points below it, within the seeds' spread)",
        f"networks {span(narrower, whole)}× narrower than the paper's setting from its 117-neuron start",
        f"({mean_width('ladder-4', 8)} vs {mean_width('ladder-4', 320)} neurons at level 4 after 100 epochs, "
        f"{mean_width('ladder-4', 8, LONG)} vs {mean_width('ladder-4', 320, LONG)} after 300)",
        f"the last factor of {max(long_spreads):.1f}",
        f"the learned second block settles at {span(second_block, whole)} after 300 epochs",
        f"({' → '.join(f'{w:.0f}' for w in widths)} total, ρ = {ladder_rho('awgnn'):.2f})",
        f"accuracy stays at {span(accuracy, whole)}%",
    )

    limits = passage(section(1), "Where the claim stops")
    start_means = [
        statistics.fmean(r["final_total_width"] for r in convergence(t, "awgnn", s))
        for t in settled
        for s in (8, 32, 117, 320)
    ]
    blocks = []
    for task in settled:
        for block in ("block0", "block1", "block2"):
            blocks.append(statistics.fmean(r["final_widths"][block] for r in convergence(task, "awgnn")))
    imdb = convergence("IMDB-BINARY", "awgnn")
    wide_inputs = sorted(r["final_widths"]["block0"] for r in convergence("IMDB-BINARY", "awgnn", 320))
    others = [w for r in imdb for block, w in r["final_widths"].items() if block != "block0"]
    assert_quoted(
        limits,
        f"settle at {span(start_means)} neurons in total on average from each start "
        f"(block means {span(blocks, whole)}, 3 blocks)",
        f"(τ = {kendall('awgnn')[0]:.2f})",
        f"(one seed from 320 ends at {wide_inputs[1]} neurons, the other at {wide_inputs[0]})",
        f"the other blocks settle at {span(others, whole)}",
        f"(N = {round(0.8 * imdb[0]['num_graphs'])}) does not overcome in {imdb[0]['epochs']} epochs",
    )


def test_section_1_proteins_fit_is_lower_on_every_fold():
    assert all(
        a < g
        for a, g in zip(per_fold("awn_gin", "PROTEINS", "train_score"), per_fold("gin", "PROTEINS", "train_score"))
    )
    assert_quoted(subsection("#### Under the protocol: PROTEINS"), "training set less well on every fold")


def fewer_parameters(model: str, dataset: str) -> bool:
    """Issue #9's protocol target: within one std of the fixed grid with at most 1.5× its parameters."""
    return within_grid(model, dataset) and param_ratio(model, dataset) <= 1.5


def test_goals_accuracy_at_fewer_parameters():
    measured, met = goals("accuracy at fewer parameters")
    adaptive, fixed = QUICK["awn-gin"], QUICK["gin"]
    gap, quick_within = quick_verdict()
    older = committed("acc5565", "benchmarks/output/quick_summary.json")["models"]["awn-gin"]
    close = ("IMDB-BINARY", "IMDB-MULTI")
    fair_others = ("MUTAG", "IMDB-BINARY", "IMDB-MULTI")
    assert_quoted(
        measured,
        f"MUTAG (quick.yaml, 3 folds): {pm(adaptive)}% vs {pm(fixed)}%, "
        f"{adaptive['num_parameters'] / fixed['num_parameters']:.2f}× the parameters, {gap:.1f} points below "
        f"({gap / (100 * fixed['std']):.1f} of the grid's std; {pm(older)}% with the code of 2026-12-01 04:17",
        f"MUTAG {pct(cell('awn_gin', 'MUTAG')['mean'])} vs {pct(cell('gin', 'MUTAG')['mean'])}% "
        f"({ratio_of('awn_gin', 'MUTAG')}×)",
        ", ".join(f"{d} {pct(cell('awn_gin', d)['mean'])} vs {pct(cell('gin', d)['mean'])}%" for d in close)
        + f" ({span([param_ratio('awn_gin', d) for d in close], two)}×)",
        f"NCI1 {pct(cell('awn_gin', 'NCI1')['mean'])} vs {pct(cell('gin', 'NCI1')['mean'])}% "
        f"({ratio_of('awn_gin', 'NCI1')}×)",
        f"PROTEINS {pm(cell('awn_gin', 'PROTEINS'))}% vs {pm(cell('gin', 'PROTEINS'))}% "
        f"({ratio_of('awn_gin', 'PROTEINS')}×; the AWN classifier at a fixed width of 64 scores "
        f"{pct(diagnostic('PROTEINS_fixed_awn_architecture', 'gin-classifier-64')['mean'])}%",
        f"(`AdaptiveFairGIN`) {pm(cell('awn_fair_gin', 'PROTEINS'))}% ({ratio_of('awn_fair_gin', 'PROTEINS')}×)",
        f"ENZYMES {pm(cell('awn_gin', 'ENZYMES'))}% vs {pm(cell('gin', 'ENZYMES'))}%",
        f"with `AdaptiveFairGIN` {pm(cell('awn_fair_gin', 'ENZYMES'))}% ({ratio_of('awn_fair_gin', 'ENZYMES')}×)",
        "`AdaptiveFairGIN` on MUTAG, IMDB-BINARY and IMDB-MULTI "
        + ", ".join(pct(cell("awn_fair_gin", d)["mean"]) for d in fair_others)
        + f"% ({span([param_ratio('awn_fair_gin', d) for d in fair_others], two)}×)",
        f"on NCI1 {pm(cell('awn_fair_gin', 'NCI1'))}% ({ratio_of('awn_fair_gin', 'NCI1')}×)",
    )
    awn = [f"{d} {yes_no(fewer_parameters('awn_gin', d))}" for d in TU]
    awn[0] += f" (quick.yaml: {yes_no(quick_within)})"
    fair = [f"{d} {yes_no(fewer_parameters('awn_fair_gin', d))}" for d in TU]
    assert met == f"AWN classifier: {', '.join(awn)}; `AdaptiveFairGIN`: {', '.join(fair)}"


def test_section_1_targets_of_issue_9_protocol_row():
    row = table_row(subsection("#### Targets of issue #9"), "protocol: within 1 std")
    adaptive, fixed = QUICK["awn-gin"], QUICK["gin"]
    gap, quick_within = quick_verdict()
    protein_gap = 100 * (cell("gin", "PROTEINS")["mean"] - cell("awn_gin", "PROTEINS")["mean"])
    assert_quoted(
        row[1],
        f"MUTAG (quick.yaml): {pm(adaptive)}% vs {pm(fixed)}%, "
        f"{adaptive['num_parameters'] / fixed['num_parameters']:.2f}× the parameters",
        f"{pm(cell('awn_gin', 'PROTEINS'))}% vs {pm(cell('gin', 'PROTEINS'))}%, "
        f"{ratio_of('awn_gin', 'PROTEINS')}× the parameters",
        f"`AdaptiveFairGIN`: {pm(cell('awn_fair_gin', 'PROTEINS'))}%, {ratio_of('awn_fair_gin', 'PROTEINS')}×",
    )
    assert_quoted(
        row[2],
        f"MUTAG {yes_no(quick_within)} on quick.yaml ({gap:.1f} points, {gap / (100 * fixed['std']):.1f} of the "
        f"grid's std), {yes_no(fewer_parameters('awn_gin', 'MUTAG'))} on section 10's budget "
        f"({pct(cell('awn_gin', 'MUTAG')['mean'])} vs {pm(cell('gin', 'MUTAG'))}%, "
        f"{ratio_of('awn_gin', 'MUTAG')}×)",
        f"PROTEINS {yes_no(fewer_parameters('awn_gin', 'PROTEINS'))} with the AWN classifier "
        f"({protein_gap:.1f} points, {protein_gap / (100 * cell('gin', 'PROTEINS')['std']):.1f} of the fixed grid's",
        f"{yes_no(fewer_parameters('awn_fair_gin', 'PROTEINS'))} with `AdaptiveFairGIN`",
    )


def test_section_1_what_makes_a_ladder_level_difficult():
    runs = output_json("ladder_fixed_curves.json")["runs"]
    by_width = {
        width: width_vs_difficulty.mean_accuracy_per_level([r for r in runs if r["hidden_channels"] == width])
        for width in (8, 16, 32, 64)
    }
    first, last = width_vs_difficulty.level_columns(0), width_vs_difficulty.level_columns(4)
    seconds = [
        statistics.fmean(r["seconds"] for r in runs if r["level"] == level and r["hidden_channels"] == width)
        for level in range(5)
        for width in by_width
    ]
    eight = list(by_width[8].values())
    assert all(b < a for a, b in zip(eight, eight[1:]))
    text = passage(section(1), "The ladder was redesigned on 2026-12-01")
    assert_quoted(
        text,
        f"({first[2]} with {first[1]} types up to {last[2]} with {last[1]};",
        f"falls at every level, from {eight[0]:.1f}% to {eight[-1]:.1f}%",
        f"with 64 it stays at {min(by_width[64].values()):.1f}% or more at every level",
        f"16 neurons hold {min(list(by_width[16].values())[:4]):.0f}% or more up to level 3 and drop to "
        f"{by_width[16][4]:.0f}% at level 4, 32 neurons drop to {by_width[32][4]:.1f}% at level 4 only",
        "whose record `benchmarks/output/ladder_long/` is not in the repository",
        "(load average 4–8 as observed then; not recorded)",
        f"({span(seconds, whole)} s a 60-epoch run on one thread; wall time under load)",
    )


# -- section 2: truncation and online compression -------------------------------------------------------------------


TRUNCATION = output_json("truncation.json")


def pooled(task: str) -> list[dict[str, Any]]:
    return truncation.by_fraction(TRUNCATION["sweeps"][task])


def random_loss_at_90(task: str) -> float:
    """Points of accuracy that removing 10% of the neurons at random costs against the full model."""
    full, cut = pooled(task)[0], next(p for p in pooled(task) if round(p["fraction"], 2) == 0.9)
    return 100 * (statistics.fmean(full["tail"]) - statistics.fmean(cut["random"]))


def compression() -> dict[bool, dict[str, Any]]:
    """Per training (annealed or not): the selected epochs' test scores and widths, late test scores."""
    first = round(float(TRUNCATION["arguments"]["epochs"]) * json.loads(TRUNCATION["arguments"]["anneal_window"])[1])
    found = {}
    for annealed in (False, True):
        curves = [r["curve"] for r in TRUNCATION["compression"] if r["annealed"] == annealed]
        chosen = [truncation.selected_epoch(curve, first) for curve in curves]
        late = max(1, len(curves[0]) // 10)
        found[annealed] = {
            "test": [p["test_score"] for p in chosen],
            "width": statistics.fmean(p["total_width"] for p in chosen),
            "parameters": statistics.fmean(p["num_parameters"] for p in chosen),
            "late": statistics.fmean(statistics.fmean(p["test_score"] for p in c[-late:]) for c in curves),
        }
    return found


def test_goals_truncation():
    measured, met = goals("truncation")
    flat_at = {task: truncation.flat_region(pooled(task)) for task in TRUNCATION["sweeps"]}
    losses = [random_loss_at_90(task) for task in flat_at]
    assert_quoted(
        measured,
        f"within 1 point of the full model down to {flat_at['NCI1']:.0%} (NCI1), {flat_at['PROTEINS']:.0%} "
        f"(PROTEINS, ladder-4)",
        f"random removal loses {span(losses, whole)} points at 90%",
    )
    assert flat_at["PROTEINS"] == flat_at["ladder-4"]
    assert met == yes_no(all(loss > 1 for loss in losses) and all(f <= 0.8 for f in flat_at.values()))


def test_goals_online_compression():
    measured, met = goals("online compression")
    plain, annealed = (compression()[flag] for flag in (False, True))
    cost = 100 * (statistics.fmean(plain["test"]) - statistics.fmean(annealed["test"]))
    within = within_one_std(
        statistics.fmean(annealed["test"]), statistics.fmean(plain["test"]), statistics.pstdev(plain["test"])
    )
    assert_quoted(
        measured,
        f"total width {plain['width']:.0f} → {annealed['width']:.0f} "
        f"({signed(100 * (annealed['width'] / plain['width'] - 1), 0)}%)",
        f"test accuracy {pct(statistics.fmean(plain['test']))} → {pct(statistics.fmean(annealed['test']))}%",
        f"(late-epoch test accuracy {pct(plain['late'])} → {pct(annealed['late'])}%)",
    )
    assert met == (
        f"yes, at a cost of {cost:.1f} points at the selected epoch ({'within' if within else 'outside'} one std "
        f"of the uncompressed runs; {100 * (annealed['late'] - plain['late']):+.1f} late)"
    )


def test_section_2_commentary():
    text = passage(section(2), "Cutting the tail of every adaptive layer")
    flat_at = {task: truncation.flat_region(pooled(task)) for task in TRUNCATION["sweeps"]}
    ladder = pooled("ladder-4")
    half = next(p for p in pooled("NCI1") if round(p["fraction"], 2) == 0.5)
    assert all(statistics.fmean(p["tail"]) == 1 for p in ladder if p["fraction"] >= flat_at["ladder-4"])
    assert_quoted(
        text,
        f"down to {flat_at['NCI1']:.0%} of the width on NCI1 and {flat_at['PROTEINS']:.0%} on PROTEINS",
        f"on the ladder 100% down to {flat_at['ladder-4']:.0%}",
        f"costs {span(map(random_loss_at_90, flat_at), whole)} points already at 90%",
        f"({pooled('NCI1')[0]['tail_speed'] / 1000:.0f} k → {half['tail_speed'] / 1000:.0f} k graphs/s on NCI1 at 50%)",
    )
    plain, annealed = (compression()[flag] for flag in (False, True))
    cost = 100 * (statistics.fmean(plain["test"]) - statistics.fmean(annealed["test"]))
    assert not within_one_std(
        statistics.fmean(annealed["test"]), statistics.fmean(plain["test"]), statistics.pstdev(plain["test"])
    )
    online = passage(section(2), "The online compression")
    arguments = TRUNCATION["arguments"]
    window = [round(float(arguments["epochs"]) * f) for f in json.loads(arguments["anneal_window"])]
    assert round(cost / (100 * statistics.pstdev(plain["test"]))) == 2  # "about twice"
    assert_quoted(
        online,
        f"annealed from epoch {window[0]} to {window[1]} towards a rate of {float(arguments['anneal_mean'])}",
    )
    assert_quoted(
        online,
        f"from {plain['width']:.0f} to {annealed['width']:.0f} neurons ({annealed['width'] / plain['width'] - 1:.0%}, "
        f"and {1 - annealed['parameters'] / plain['parameters']:.0%} fewer parameters)".replace("-", "−"),
        f"a cost of {cost:.1f} points of test accuracy at the selected epoch",
        f"the uncompressed runs' standard deviation ({pct(statistics.pstdev(plain['test']))} points over "
        f"{len(plain['test'])} seeds)",
        f"the compressed model's test accuracy is in fact {100 * (annealed['late'] - plain['late']):.1f} points higher",
    )


# -- section 3: speed -----------------------------------------------------------------------------------------------


SPEED = output_json("speed.json")


def speed_result(record: Mapping[str, Any], model: str, batch: int) -> Mapping[str, Any]:
    (found,) = [r for r in record["throughput"] if r["model"] == model and r["batch_size"] == batch]
    return found


def step_ratio(result: Mapping[str, Any]) -> float:
    return statistics.fmean(speed.ratios(speed.step_totals(result, speed.FULL), speed.step_totals(result, speed.FIXED)))


def inference_ratio(result: Mapping[str, Any]) -> float:
    adaptive, fixed = ([s[side] for s in result["inference"]] for side in ("adaptive", "fixed"))
    return statistics.fmean(speed.ratios(adaptive, fixed))


def operators(result: Mapping[str, Any], contender: str = speed.FULL) -> int:
    return round(sum(result["operators_per_step"][contender].values()))


def resize_ms_per_layer(cost: Mapping[str, Any]) -> float:
    no_change = statistics.fmean(1e3 * u["seconds"] for u in cost["no_change"])
    resize = statistics.fmean(1e3 * u["seconds"] for u in cost["resize"])
    return (resize - no_change) / statistics.fmean(u["layers"] for u in cost["resize"])


def hook_share(run: Mapping[str, Any]) -> float:
    return sum(run["hook_seconds"].values()) / run["seconds"]


CASES = (("GIN", 32), ("GIN", 128), ("GCN", 32), ("GCN", 128))
BEFORE_ISSUE_12 = "a759218"  # speed.json of 2026-12-01 02:25, before issue #12's changes (under load)
LOADED_0510 = "f499dfa"  # speed.json of 2026-12-01 05:16, after the batched importances (under load)


def test_goals_speed_rows():
    results = {case: speed_result(SPEED, *case) for case in CASES}
    before = committed(BEFORE_ISSUE_12, "benchmarks/output/speed.json")
    loaded = committed(LOADED_0510, "benchmarks/output/speed.json")

    measured, met = goals("training throughput")
    steps = {case: step_ratio(r) for case, r in results.items()}
    assert_quoted(
        measured,
        f"GIN {steps['GIN', 32]:.2f} (batch 32), {steps['GIN', 128]:.2f} (batch 128); GCN {steps['GCN', 32]:.2f}, "
        f"{steps['GCN', 128]:.2f}",
    )
    assert met == yes_no(all(ratio <= speed.step_target(batch) for (_, batch), ratio in steps.items()))

    measured, met = goals("aten operators per training step")
    old = {model: speed_result(before, model, 32) for model in ("GIN", "GCN")}
    no_resize = [
        operators(results[m, 32], speed.NO_UPDATE) / operators(results[m, 32], speed.FIXED) for m in ("GIN", "GCN")
    ]
    assert_quoted(
        measured,
        f"GIN {operators(results['GIN', 32])} vs {operators(results['GIN', 32], speed.FIXED)} "
        f"({speed.operator_ratio(results['GIN', 32]['operators_per_step']):.2f}×; "
        f"{speed.operator_ratio(old['GIN']['operators_per_step']):.2f}× before issue #12, commit a759218's record)",
        f"GCN {operators(results['GCN', 32])} vs {operators(results['GCN', 32], speed.FIXED)} "
        f"({speed.operator_ratio(results['GCN', 32]['operators_per_step']):.2f}×; "
        f"{speed.operator_ratio(old['GCN']['operators_per_step']):.2f}×)",
        f"without resizes {no_resize[0]:.2f}×, {no_resize[1]:.2f}×",
    )
    ratios = [speed.operator_ratio(r["operators_per_step"]) for r in results.values()]
    assert met.startswith(yes_no(all(r <= speed.OPERATOR_TARGET for r in ratios)))

    measured, met = goals("inference")
    inference = {case: inference_ratio(r) for case, r in results.items()}
    old_inference = [inference_ratio(speed_result(before, *case)) for case in CASES]
    assert_quoted(
        measured,
        f"GIN {inference['GIN', 32]:.2f} (batch 32), {inference['GIN', 128]:.2f} (128); "
        f"GCN {inference['GCN', 32]:.2f}, {inference['GCN', 128]:.2f} "
        f"(was {span(old_inference, two)}, commit a759218's record)",
    )
    assert met == yes_no(all(r <= speed.INFERENCE_TARGET for r in inference.values()))

    measured, met = goals("resize cost")
    shares = {run["model"]: hook_share(run) for run in SPEED["training_run"]}
    old_shares = {run["model"]: hook_share(run) for run in loaded["training_run"]}
    assert_quoted(
        measured,
        f"{shares['GIN']:.1%} (GIN), {shares['GCN']:.1%} (GCN) on the idle machine of 2026-12-01 12:21 "
        f"({old_shares['GIN']:.1%}, {old_shares['GCN']:.1%} under heavy load that morning, commit f499dfa's record)",
    )
    assert met == yes_no(all(share < speed.TARGET_SHARE for share in shares.values()))


def test_section_3_commentary():
    text = section(3)
    loaded = committed(LOADED_0510, "benchmarks/output/speed.json")
    before = committed(BEFORE_ISSUE_12, "benchmarks/output/speed.json")
    gin, gcn = speed_result(SPEED, "GIN", 32), speed_result(SPEED, "GCN", 32)
    old_gin, old_gcn = speed_result(loaded, "GIN", 32), speed_result(loaded, "GCN", 32)
    first_gin, first_gcn = speed_result(before, "GIN", 32), speed_result(before, "GCN", 32)

    def step_span(result: Mapping[str, Any]) -> str:
        return span([speed.step_ms(result, speed.FIXED), speed.step_ms(result, speed.FULL)])

    assert_quoted(
        passage(text, "Parts 1–2 were rerun on 2026-12-01 12:21 UTC"),
        f"takes {step_span(gin)} ms here (fixed and adaptive) against {step_span(old_gin)} ms in the loaded 05:10 "
        "run (`speed.json` as of commit f499dfa)",
        "as of commits a759218 (02:25) and f499dfa",
    )
    assert_quoted(
        passage(text, "2026-12-01 early:"),
        f"GIN operators per step {operators(first_gin)} → {operators(old_gin)}, "
        f"GCN {operators(first_gcn)} → {operators(old_gcn)}",
    )
    assert_quoted(
        passage(text, "2026-12-01 late:"),
        f"GIN {operators(old_gin)} → {operators(gin)} (ratio {speed.operator_ratio(old_gin['operators_per_step']):.2f}"
        f" → {speed.operator_ratio(gin['operators_per_step']):.2f}), GCN {operators(old_gcn)} → {operators(gcn)} "
        f"({speed.operator_ratio(old_gcn['operators_per_step']):.2f} → "
        f"{speed.operator_ratio(gcn['operators_per_step']):.2f})",
        f"without width updates GIN {operators(old_gin, speed.NO_UPDATE)} → {operators(gin, speed.NO_UPDATE)}",
        "0.45 to 0.34 ms in a same-process A/B against the session's first commit (a measurement not kept in the "
        "repository)",
    )
    assert_quoted(passage(text, "Tried and reverted"), "(these A/B figures are not kept in the repository)")

    results = {case: speed_result(SPEED, *case) for case in CASES}
    targets = {m: int(speed.OPERATOR_TARGET * operators(results[m, 32], speed.FIXED)) for m in ("GIN", "GCN")}
    full, no_update, no_prior, fixed = (
        operators(gin, c) for c in (speed.FULL, speed.NO_UPDATE, speed.NO_PRIOR, speed.FIXED)
    )
    counts = gin["operators_per_step"]
    parameters = counts[speed.FIXED]["lerp_"]  # Adam's step: one lerp_ per parameter
    rate_adam = counts[speed.FULL]["lerp_"] - parameters
    per_rate = 9
    run = next(r for r in SPEED["training_run"] if r["model"] == "GIN")
    targets_text = passage(text, "Targets not met, and why.")
    assert_quoted(
        targets_text,
        f"GIN {full} against a target of {targets['GIN']} ({speed.OPERATOR_TARGET} × {fixed}), "
        f"GCN {operators(gcn)} against {targets['GCN']}",
        f"Step time at batch 32: {span([step_ratio(results[m, 32]) for m in ('GIN', 'GCN')], two)}×"
        f" for both (target {speed.step_target(32):.2f}); at batch 128 "
        f"{span([step_ratio(results[m, 128]) for m in ('GIN', 'GCN')], two)}× "
        f"(target {speed.step_target(128):.2f})",
        f"is {span([inference_ratio(r) for r in results.values()], two)}×, within its "
        f"{speed.INFERENCE_TARGET:.2f} target in all four cases",
        f"The remaining {full - fixed} extra operators",
        '(the per-phase figures, "about" below, are not kept in the records)',
    )
    assert all(inference_ratio(r) <= speed.INFERENCE_TARGET for r in results.values())
    assert_quoted(
        passage(text, "- width updates,"),
        f"width updates, {full - no_update} ({full} − {no_update})",
        f"({run['resize_events']} of {run['steps']} steps resize in part 2)",
    )
    assert_quoted(
        passage(text, "- the weight prior,"),
        f"the weight prior, {no_update - no_prior} ({no_update} − {no_prior})",
        f"`add` per parameter ({parameters:.0f})",
    )
    assert_quoted(
        passage(text, "- the adaptive layers,"),
        f"the adaptive layers, {no_prior - fixed} ({no_prior} − {fixed})",
        f"({rate_adam * per_rate:.0f}: about {per_rate} operators each",
    )
    floor = no_update - no_prior + rate_adam * per_rate
    assert_quoted(
        passage(text, "So the weight prior and the rates' own Adam updates"),
        f"alone are {floor:.0f} operators, {floor / fixed:.0%} of the fixed step",
    )

    overhead = [
        speed.step_ms(gin, speed.NO_PRIOR) - speed.step_ms(gin, speed.FIXED),
        speed.step_ms(gin, speed.NO_UPDATE) - speed.step_ms(gin, speed.NO_PRIOR),
        speed.step_ms(gin, speed.FULL) - speed.step_ms(gin, speed.NO_UPDATE),
    ]
    shares = {r["model"]: hook_share(r) for r in SPEED["training_run"]}
    compiled = {c["option"]: c for c in committed("39e5d92", "benchmarks/output/speed.json")["compile"]}
    symbolic = compiled["(b) + allow_unspec_int_on_nn_module=True"]
    per_resize = next(c for option, c in compiled.items() if option.startswith("(c)"))
    assert_quoted(
        passage(text, "A forced resize costs"),
        f"{span(map(resize_ms_per_layer, SPEED['resize_cost']), two)} ms per layer resized on the "
        f"idle machine ({span(map(resize_ms_per_layer, loaded['resize_cost']), lambda v: f'{v:.1f}')} ms in the "
        "loaded 05:10 run)",
        f"takes {shares['GIN']:.1%} (GIN) and {shares['GCN']:.1%} (GCN)",
        f"spends its {sum(overhead):.2f} ms of overhead about equally on the adaptive layers ({overhead[0]:.2f} ms), "
        f"the weight prior ({overhead[1]:.2f}) and the width updates ({overhead[2]:.2f})",
        f"need {symbolic['compilations']} compilations for {symbolic['resize_events']} resizes",
        f"({statistics.median(per_resize['step_seconds']):.1f} s a step)",
    )


# -- section 4: optimizer state -------------------------------------------------------------------------------------


def optimizer_pairs(task: str) -> list[dict[str, dict[str, Any]]]:
    """Per seed, the carry and the reset run of ``task``."""
    by_seed: dict[int, dict[str, dict[str, Any]]] = {}
    for run in output_json("optimizer_state.json")["runs"]:
        if run["task"] == task:
            by_seed.setdefault(run["seed"], {})[run["optimizer_state"]] = run
    return list(by_seed.values())


def carry_gain(task: str, measure: Callable[[dict[str, Any]], float]) -> list[float]:
    return [measure(pair["carry"]) - measure(pair["reset"]) for pair in optimizer_pairs(task)]


def test_section_4_optimizer_state():
    def test_score(run: dict[str, Any]) -> float:
        return run["record"]["test_score"]

    def best_val(run: dict[str, Any]) -> float:
        return run["record"]["val_score"]

    def mean_val(run: dict[str, Any]) -> float:
        return statistics.fmean(e["val_score"] for e in run["record"]["history"])

    nci1 = carry_gain("NCI1", test_score)
    ladder = ("ladder-0", "ladder-2", "ladder-4")
    ladder_val = [gain for task in ladder for gain in carry_gain(task, mean_val)]
    level2 = carry_gain("ladder-2", test_score)
    resizes = [
        statistics.fmean(p["reset"]["resize_events"] for p in optimizer_pairs(task))
        / statistics.fmean(p["carry"]["resize_events"] for p in optimizer_pairs(task))
        for task in ladder
    ]
    measured, met = goals("optimizer state")
    assert_quoted(
        measured,
        f"carry {100 * statistics.fmean(nci1):+.1f} points test accuracy ({sum(g > 0 for g in nci1)}/{len(nci1)} "
        f"seeds), {100 * statistics.fmean(carry_gain('NCI1', mean_val)):+.1f} points mean validation accuracy",
    )
    assert all(gain >= 0 for task in ladder for gain in carry_gain(task, test_score))  # "ties or carry ahead"
    assert met == "carry is better" and statistics.fmean(nci1) > 0
    text = passage(section(4), "Carrying Adam's moments")
    assert_quoted(
        text,
        f"on NCI1 in every seed: {100 * statistics.fmean(nci1):+.1f} points of test accuracy, "
        f"{100 * statistics.fmean(carry_gain('NCI1', best_val)):+.0f} points of best validation accuracy",
        f"({100 * statistics.fmean(level2):+.0f} points of test accuracy on level 2, "
        f"{sum(g > 0 for g in level2)}/{len(level2)} seeds)",
        f"higher in {sum(g > 0 for g in ladder_val)} of {len(ladder_val)} paired seeds",
        f"reset resizes {span(resizes, whole)} times as often",
    )
    assert all(g > 0 for g in nci1)


# -- section 5: model-selection cost --------------------------------------------------------------------------------


SELECTION = output_json("selection_cost.json")
ADAPTIVE, SHARED, SEPARATE = (
    "awn-gin (adaptive)",
    "gin (fixed, protocol grid)",
    "gin (fixed, one training per grid point)",
)


def test_section_5_model_selection_cost():
    adaptive, shared, separate = (SELECTION[name] for name in (ADAPTIVE, SHARED, SEPARATE))
    idle = committed("39e5d92", "benchmarks/output/selection_cost.json")
    finals = separate["trainings"] - shared["grid"] * shared["folds"]  # final runs: trained alone in both grids
    shared_per_fold = (shared["trainings"] - finals) // shared["folds"]
    assert within_one_std(adaptive["mean"], shared["mean"], shared["std"])

    measured, met = goals("model-selection cost")
    assert_quoted(
        measured,
        f"{shared['epochs'] / adaptive['epochs']:.1f}× fewer epochs than the fixed grid on MUTAG "
        f"({shared['folds']} folds), {pm(adaptive)}% vs {pm(shared)}%",
    )
    measured, met = goals("never train the same thing twice")
    assert_quoted(
        measured,
        f"{shared_per_fold} trainings per fold for {shared['grid']} grid points; "
        f"{shared['epochs'] / separate['epochs']:.2f}× the epochs "
        f"({shared['cpu_seconds'] / separate['cpu_seconds']:.2f}× the CPU-seconds, wall time under load) of one "
        "training per point",
    )
    assert met == yes_no(shared["trainings"] < separate["trainings"])

    text = passage(section(5), "The protocol's fixed GIN grid has a `monitor` axis")
    assert_quoted(
        text,
        f"in {shared['trainings']} trainings instead of {separate['trainings']} ({shared_per_fold} instead of "
        f"{shared['grid']} per fold, plus {finals // shared['folds']} final runs)",
        f"{shared['epochs'] / separate['epochs']:.2f}× the epochs and "
        f"{shared['cpu_seconds'] / separate['cpu_seconds']:.2f}× the CPU-seconds (wall time under load)",
    )
    text = passage(section(5), "Against the shared fixed grid")
    assert_quoted(
        text,
        f"trains {shared['epochs'] / adaptive['epochs']:.1f}× fewer epochs",
        f"({pm(adaptive)}% vs {pm(shared)}%)",
        f"Its CPU-seconds ratio ({shared['cpu_seconds'] / adaptive['cpu_seconds']:.0f}×; wall time under load)",
        f"({span([1e3 * g['cpu_seconds'] / g['epochs'] for g in (shared, separate)], whole)} ms per epoch)",
        f"({1e3 * adaptive['cpu_seconds'] / adaptive['epochs']:.0f} ms per epoch",
        f"{adaptive['cpu_seconds'] / idle[ADAPTIVE]['cpu_seconds']:.1f}× its CPU-seconds on the idle machine of "
        f"2026-11-22 ({idle[ADAPTIVE]['cpu_seconds']:.0f} s",
        f"{separate['cpu_seconds'] / idle[SHARED]['cpu_seconds']:.1f}× ({idle[SHARED]['cpu_seconds']:.0f} s; "
        f"{idle[SHARED]['cpu_seconds'] / idle[ADAPTIVE]['cpu_seconds']:.1f}× apart then",
        "`selection_cost.json` as of commit 39e5d92",
        f"({adaptive['total_width']:.0f} vs {span([shared['total_width'], separate['total_width']], whole)}"
        " neurons in total)",
    )


# -- section 6: collation -------------------------------------------------------------------------------------------


def test_section_6_collation():
    epochs_by_loader = output_json("collation.json")["epochs"]
    share = {
        loader: statistics.fmean(e["collation_s"] for e in runs) / statistics.fmean(e["epoch_s"] for e in runs)
        for loader, runs in epochs_by_loader.items()
    }
    collation = {loader: statistics.fmean(e["collation_s"] for e in runs) for loader, runs in epochs_by_loader.items()}
    measured, met = goals("collation")
    assert measured == (
        f"{share['InMemoryLoader']:.1%} with `InMemoryLoader` (PyG `DataLoader`: {share['PyG DataLoader']:.1%})"
    )
    assert met == yes_no(share["InMemoryLoader"] < 0.15)
    assert round(4 * collation["InMemoryLoader"] / collation["PyG DataLoader"]) == 1  # "at a quarter of the cost"
    text = passage(section(6), "The in-memory batcher")
    assert_quoted(
        text,
        f"collation falls from {share['PyG DataLoader']:.0%} to {share['InMemoryLoader']:.1%} of a GIN-64 epoch",
        f"PyG's collation share is {share['PyG DataLoader']:.0%}, not the 60% measured when the issue was filed on "
        "another machine (the issue's figure; no record of it here)",
    )


# -- section 7: scaling ---------------------------------------------------------------------------------------------


SCALING = output_json("scaling_part1/scaling.json")["steps"]
SCALING_LOADED = output_json("scaling.json")  # the 2026-12-01 02:17 run under load, with the harness table


def sweep_ratios(rows: Sequence[Mapping[str, Any]], model: str) -> tuple[list[float], list[float]]:
    """Time and operator ratios (adaptive / fixed) along one sweep of ``model``."""
    mine = [r for r in rows if r["model"] == model]
    times = [
        statistics.fmean(speed.ratios(*([s[n] for s in r["seconds"]] for n in (speed.FULL, speed.FIXED)))) for r in mine
    ]
    return times, [speed.operator_ratio(r["operators_per_step"]) for r in mine]


def arrow(values: Sequence[float], digits: int = 2) -> str:
    return f"{values[0]:.{digits}f} → {values[-1]:.{digits}f}"


def test_goals_and_section_7_scaling():
    width = {m: sweep_ratios(SCALING["width"], m) for m in ("GIN", "GCN")}
    batch = {m: sweep_ratios(SCALING["batch"], m) for m in ("GIN", "GCN")}
    large = {m: sweep_ratios(SCALING["large graphs"], m)[0][0] for m in ("GIN", "GCN")}
    measured, met = goals("cost as the work grows")
    assert_quoted(
        measured,
        f"time ratio falls with width (GIN {arrow(width['GIN'][0])}, GCN {arrow(width['GCN'][0])}), "
        f"batch ({arrow(batch['GIN'][0])}, {arrow(batch['GCN'][0])}) and on REDDIT-BINARY ({large['GIN']:.2f}, "
        f"{large['GCN']:.2f})",
        f"operator ratio rises with width ({arrow(width['GIN'][1])}, {arrow(width['GCN'][1])})",
    )
    falls = all(times[-1] < times[0] - 0.02 for times, _ in (*width.values(), *batch.values()))
    rises = all(ops[-1] > ops[0] for _, ops in width.values())
    assert met == f"time: {yes_no(falls)}; operators: {yes_no(not rises)}"

    older = committed("d04f90b", "benchmarks/output/scaling_part1/scaling.json")["steps"]
    assert_quoted(
        passage(section(7), "Part 1 was rerun on 2026-12-01 10:37 UTC"),
        f"(GIN at 1,024 neurons a block: {sweep_ratios(older['width'], 'GIN')[1][-1]:.2f} → {width['GIN'][1][-1]:.2f}",
        "`scaling_part1/scaling.json` as of commit d04f90b",
    )
    slower = [
        (sum(s[speed.FULL] for s in old["seconds"]) / old["steps"])
        / (sum(s[speed.FULL] for s in new["seconds"]) / new["steps"])
        for key in ("width", "batch", "large graphs")
        for old, new in zip(older[key], SCALING[key])
    ]
    first_ops = {m: sweep_ratios(SCALING_LOADED["steps"]["width"], m)[1] for m in ("GIN", "GCN")}
    nodes = statistics.fmean(r["nodes_per_batch"] for r in SCALING["large graphs"])
    small_end = [width[m][0][0] for m in width] + [batch[m][0][0] for m in batch]
    assert_quoted(
        passage(section(7), "The adaptive step adds a nearly constant cost per step"),
        f"(GIN {arrow(width['GIN'][0])} from 16 to 1,024 neurons a block; GCN {arrow(width['GCN'][0])})",
        f"(GIN {arrow(batch['GIN'][0])} from 16 to 512 graphs; GCN {arrow(batch['GCN'][0])}, within noise of 1)",
        f"(about {round(nodes, -2):,.0f} nodes a batch: GIN {large['GIN']:.2f}, GCN {large['GCN']:.2f})",
        f"the ratio is worst, {span(small_end)}",
        f"about {span(slower, whole)} times shorter than the loaded 05:47 run's",
        f"(GIN {span(first_ops['GIN'], two)} → {span(width['GIN'][1], two)}, "
        f"GCN {span(first_ops['GCN'], two)} → {span(width['GCN'][1], two)})",
    )
    harness = SCALING_LOADED["harness"]
    assert_quoted(
        passage(section(7), "The harness table shows no speed-up"),
        "(" + " → ".join(f"{r['wall_seconds']:.1f}" for r in harness) + " s of wall time)",
        f"grew from {harness[0]['run_seconds']:.0f} to {harness[1]['run_seconds']:.0f} and "
        f"{harness[2]['run_seconds']:.0f} s",
    )


# -- sections 8 and 9: the prepared GPU run, Planetoid --------------------------------------------------------------


def test_section_8_gpu_script():
    script = (BENCHMARKS / "gpu.sh").read_text()
    budget = re.search(r"GPU_BUDGET_S:-(\d+)", script).group(1)
    minutes = re.search(r"in under (\d+) minutes", script).group(1)
    size = re.search(r"about (\d+) MB", script).group(1)
    assert_quoted(
        passage(section(8), "No GPU figure exists yet"),
        f"in under {minutes} minutes",
        f"within a {budget} s budget",
        f"about {size} MB of raw TU files",
    )
    measured, met = goals("GPU figures")
    assert "none lent" in measured and met == "not run"


def test_section_9_planetoid():
    import planetoid

    runs = output_json("planetoid.json")["runs"]

    def chosen(dataset: str, model: str) -> list[dict[str, Any]]:
        return [r for r in runs if r["dataset"] == dataset and r["model"] == model]

    def accuracy(dataset: str, model: str) -> list[float]:
        return [100 * r["test"] for r in chosen(dataset, model)]

    def mean(dataset: str, model: str) -> float:
        return statistics.fmean(accuracy(dataset, model))

    def std(dataset: str, model: str) -> float:
        return statistics.pstdev(accuracy(dataset, model))

    def pm_(dataset: str, model: str) -> str:
        return f"{mean(dataset, model):.1f} ± {std(dataset, model):.1f}"

    def width(dataset: str) -> str:
        widths = [r["widths"]["layer0"] for r in chosen(dataset, "AdaptiveGCN")]
        return f"{statistics.fmean(widths):.0f} ± {statistics.pstdev(widths):.0f}"

    data = ("Cora", "CiteSeer")
    wall = re.search(r"Wall time of the whole command: (\d+) min (\d+) s", section(9))
    minutes = int(wall.group(1)) + int(wall.group(2)) / 60
    seeds = int(output_json("planetoid.json")["arguments"]["seeds"])
    multiples = [
        statistics.fmean(r["parameters"] for r in chosen(d, f"Adaptive{kind}"))
        / statistics.fmean(r["parameters"] for r in chosen(d, f"{kind}-16"))
        for d in data
        for kind in ("GCN", "GIN")
    ]
    for d in data:
        assert within_one_std(mean(d, "AdaptiveGCN"), mean(d, "GCN-16"), std(d, "GCN-16"))
    text = passage(section(9), "The run took")
    assert_quoted(
        text,
        f"The run took {minutes:.0f} minutes of wall time",
        "wall time under load",
        f"`--seeds 3` would take about {minutes * 3 / seeds:.0f} minutes (not measured)",
        f"reaches {pm_('Cora', 'GCN-16')}% on Cora and {pm_('CiteSeer', 'GCN-16')}% on CiteSeer, "
        + " and ".join(f"{planetoid.PAPER[d] - mean(d, 'GCN-16'):.1f}" for d in data)
        + f" points under the GCN paper's {planetoid.PAPER['Cora']}% and {planetoid.PAPER['CiteSeer']}%",
        f"{pm_('Cora', 'AdaptiveGCN')}% and {pm_('CiteSeer', 'AdaptiveGCN')}%, within one standard deviation",
        "by "
        + " and ".join(f"{mean(d, 'AdaptiveGIN') - mean(d, 'GIN-16'):.1f}" for d in data)
        + " points ("
        + ", ".join(f"{mean(d, 'AdaptiveGIN'):.1f} vs {mean(d, 'GIN-16'):.1f}%" for d in data)
        + ")",
        f"({width('Cora')} on Cora, {width('CiteSeer')} on CiteSeer for the GCN)",
        f"takes only {output_json('planetoid.json')['arguments']['epochs']} optimizer steps",
        f"carry {span(multiples, whole)} times the parameters of the width-16 models",
    )


# -- section 10: the reproduction table -----------------------------------------------------------------------------


PUBLISHED = reproduction.PUBLISHED
SINGLE = "awn_gin_single"


def published_pm(dataset: str) -> str:
    mean, std = PUBLISHED[dataset]
    return f"{mean:.1f} ± {std:.1f}"


def within_published(model: str, dataset: str) -> bool:
    return within_one_std(100 * cell(model, dataset)["mean"], *PUBLISHED[dataset])


def epoch_ratio(model: str, dataset: str, reference: str = "gin") -> float:
    return epochs(model, dataset) / epochs(reference, dataset)


def cpu_hour_ratio(model: str, dataset: str, reference: str = "gin") -> float:
    """The tables' cost ratio: the cells' CPU-hours as the harness reports them (wall time before 2026-12-02)."""
    return cell(model, dataset)["cpu_seconds"] / cell(reference, dataset)["cpu_seconds"]


def test_section_10_budget_and_protocol():
    for model in (*reproduction.TABLE_MODELS, SINGLE):
        for dataset in TU:
            experiment = json.loads((RECORDS / model / dataset / "experiment.json").read_text())
            protocol = experiment["config"]["protocol"]
            assert (protocol["max_epochs"], protocol["patience"], protocol["final_runs"]) == (150, 40, 2)
            assert experiment["num_folds"] == 10
            assert cell(model, dataset)["grid_size"] == (1 if model == SINGLE else 4)
    grid_epochs = [epochs(m, d) for m in reproduction.TABLE_MODELS for d in TU]
    text = passage(section(10), "The reduced budget, and why.")
    assert_quoted(
        text,
        f"{span(grid_epochs, lambda v: f'{round(v, -2):,.0f}')} training epochs per cell "
        f"(60 runs), about 1/{round(0.7e6 / max(grid_epochs), -1):.0f} to 1/{round(1.3e6 / min(grid_epochs), -1):.0f}"
        " of the published budget",
        f"**{pm(cell('gin', 'PROTEINS'))}%** against the published {published_pm('PROTEINS')}% "
        f"({'within' if within_published('gin', 'PROTEINS') else 'outside'} one standard deviation, "
        f"{cell('gin', 'PROTEINS')['cpu_seconds'] / 3600:.2f} CPU-hours of wall time)",
    )


def test_goals_reproduction_of_published_rows():
    measured, met = goals("reproduction of published rows")
    finished = [d for d in TU if d in PUBLISHED]
    longer = diagnostic("NCI1_longer_budget", "gin")
    assert_quoted(
        measured,
        *(f"{d} {pm(cell('gin', d))}% ({published_pm(d)}" for d in finished),
        f"{pm(longer)}% at 400 epochs, "
        f"{'within' if within_one_std(100 * longer['mean'], *PUBLISHED['NCI1']) else 'still outside'}",
        f"the adaptive GIN with the paper's setting reaches {pm(cell('awn_gin_paper', 'NCI1'))}% there, at "
        f"{param_ratio('awn_gin_paper', 'NCI1'):.0f}× the fixed GIN's parameters",
    )
    assert met == f"{sum(within_published('gin', d) for d in finished)} of {len(finished)} finished"


def test_section_10_fixed_rows_against_published():
    finished = [d for d in TU if d in PUBLISHED]
    inside = [d for d in finished if within_published("gin", d)]
    outside = [d for d in finished if not within_published("gin", d)]
    assert outside == ["NCI1"]
    text = passage(section(10), "Four of the five finished fixed-GIN rows")
    longer = diagnostic("NCI1_longer_budget", "gin")
    longer_finals = [r for r in diagnostic_runs("NCI1_longer_budget") if r["kind"] == "final"]
    selected = [f for f in cell("gin", "NCI1")["per_fold"] if f["config"]["hidden_units"] == [32, 32]]
    chosen_runs = [
        r
        for r in cell_runs("gin", "NCI1")
        if r["kind"] == "selection" and r["config"]["hidden_units"] == [32, 32] and r["config"]["dropout"] == 0
    ]
    finals = [r for r in cell_runs("gin", "NCI1") if r["kind"] == "final"]
    assert all(f["config"]["dropout"] == 0 for f in selected)
    assert_quoted(
        text,
        f"{WORDS[len(inside)].capitalize()} of the {WORDS[len(finished)]} finished fixed-GIN rows",
        *(f"{pm(cell('gin', d))}% ({'published ' if d == 'PROTEINS' else ''}{published_pm(d)}%)" for d in inside),
        f"NCI1 is not: {pm(cell('gin', 'NCI1'))}% against {published_pm('NCI1')}%",
        f"the final runs fit only {pct(statistics.fmean(r['train_score'] for r in finals), 0)}% of the training set",
        f"selected on {len(selected)} of 10 folds ([32, 32], no dropout) found its best epoch at "
        f"{statistics.fmean(r['best_epoch'] for r in chosen_runs):.0f} of at most 150 on average",
        f"{longer['cpu_seconds'] / 3600:.2f} CPU-hours of wall time) gives **{pm(longer)}%**: "
        f"{100 * (longer['mean'] - cell('gin', 'NCI1')['mean']):.1f} points more, best epoch "
        f"{statistics.fmean(r['best_epoch'] for r in longer_finals):.0f} of "
        f"{statistics.fmean(r['epochs'] for r in longer_finals):.0f} run on average, training accuracy "
        f"{pct(statistics.fmean(r['train_score'] for r in longer_finals), 0)}%",
        f"still outside one standard deviation of the published {published_pm('NCI1')}%",
    )
    assert not within_one_std(100 * longer["mean"], *PUBLISHED["NCI1"])
    assert all(wall_time_only(m, d) for m in (*reproduction.TABLE_MODELS, SINGLE) for d in TU)
    assert_quoted(text, "The CPU-hours of these tables are wall time")


def test_section_10_costs_in_epochs():
    """The one-configuration cost: epochs, not the loaded wall time of the fixed IMDB-BINARY cell."""
    text = passage(section(10), "Costs in the two tables above.")
    ratios = {d: epoch_ratio(SINGLE, d) for d in TU}
    assert_quoted(
        text,
        "every cell's runs were recorded before 2026-12-02 06:10 and hold wall time only",
        f"the fixed IMDB-BINARY cell ({wall_seconds_per_epoch('gin', 'IMDB-BINARY'):.2f} s an epoch, against "
        f"{wall_seconds_per_epoch('gin', 'IMDB-MULTI'):.2f} s for the fixed IMDB-MULTI cell",
        f"the adaptive PROTEINS cell ({wall_seconds_per_epoch('awn_gin', 'PROTEINS'):.2f} s an epoch, against "
        f"{wall_seconds_per_epoch('awn_gin_paper', 'PROTEINS'):.2f} s for the paper preset's wider model",
        "are wall time under load",
        f"one configuration costs {span(ratios.values(), two)}× the fixed grid's epochs on all six "
        "datasets (" + ", ".join(f"{d} {r:.2f}" for d, r in ratios.items()) + ")",
        f"the last column's {cpu_hour_ratio(SINGLE, 'IMDB-BINARY'):.2f}× on IMDB-BINARY is that loaded fixed cell",
    )
    # The evidence of load: the fixed grid's IMDB-BINARY epochs took several times those of IMDB-MULTI, whose
    # epochs are as much work (about 19,800 and 19,500 nodes); the paper preset's model is several times wider.
    assert wall_seconds_per_epoch("gin", "IMDB-BINARY") > 3 * wall_seconds_per_epoch("gin", "IMDB-MULTI")
    assert wall_seconds_per_epoch("awn_gin", "PROTEINS") > 2 * wall_seconds_per_epoch("awn_gin_paper", "PROTEINS")

    measured, met = goals("model-selection cost")
    own = [d for d in TU if within_grid(SINGLE, d, "awn_gin")]
    fixed = [d for d in TU if within_grid(SINGLE, d)]
    assert_quoted(
        measured,
        f"{span(ratios.values(), two)}× the fixed grid's epochs on all six datasets (its CPU-hours, "
        f"{span([cpu_hour_ratio(SINGLE, d) for d in TU], two)}×, are wall time, partly under load)",
        f"within one std of its own grid of 4 on {', '.join(own[:-1])} and {own[-1]}",
        f"below it on NCI1 ({pct(cell(SINGLE, 'NCI1')['mean'])} vs {pm(cell('awn_gin', 'NCI1'))}%",
        f"within one std of the fixed grid on {', '.join(fixed[:-1])} and {fixed[-1]}",
    )
    assert [d for d in TU if d not in own] == ["NCI1"]
    assert met == (
        f"MUTAG study yes; one configuration: within the fixed grid's std on {len(fixed)} of 6 datasets (its own "
        f"grid's on {len(own)} of 6)"
    )

    one = passage(section(10), "**One configuration, no model selection**")
    four = ("MUTAG", "IMDB-BINARY", "IMDB-MULTI", "PROTEINS")
    assert all(within_grid(SINGLE, d, "awn_gin") for d in four)
    assert [d for d in four if within_grid(SINGLE, d)] == list(four[:3])
    assert_quoted(
        one,
        f"costs {len(cell_runs(SINGLE, 'MUTAG'))} runs a cell against the grids' {len(cell_runs('gin', 'MUTAG'))}",
        "It scores " + ", ".join(f"{d} {pm(cell(SINGLE, d))}%" for d in four[:3]) + f" and PROTEINS "
        f"{pm(cell(SINGLE, 'PROTEINS'))}%",
        f"(PROTEINS: {pm(cell('gin', 'PROTEINS'))}%",
        f"with {span([params(SINGLE, d) for d in four], lambda v: f'{round(v, -2):,.0f}')} parameters and "
        f"{span([ratios[d] for d in four], two)}× the fixed grid's epochs",
        f"on NCI1 {pm(cell(SINGLE, 'NCI1'))}% against its grid's {pm(cell('awn_gin', 'NCI1'))}%",
        f"on ENZYMES, {pm(cell(SINGLE, 'ENZYMES'))}%, within its own grid's {pm(cell('awn_gin', 'ENZYMES'))}% but not "
        f"the fixed grid's {pm(cell('gin', 'ENZYMES'))}%",
        f"costs nothing measurable against its own grid on {WORDS[len(own)]} of six datasets",
        f"saves {span([1 - r for r in ratios.values()], percent)}% of the fixed grid's epochs",
    )
    assert not within_grid(SINGLE, "ENZYMES") and within_grid(SINGLE, "ENZYMES", "awn_gin")


def test_section_10_adaptive_against_fixed():
    text = passage(
        section(10), "The adaptive GIN with `preset: awgnn` is within one standard deviation of the fixed GIN"
    )
    within = [d for d in TU if within_grid("awn_gin", d)]
    assert within == ["MUTAG", "IMDB-BINARY", "IMDB-MULTI", "NCI1"]  # NCI1 is quoted further down the section
    gap = 100 * (cell("gin", "PROTEINS")["mean"] - cell("awn_gin", "PROTEINS")["mean"])
    learners = ("awn_gin", "awn_gin_paper", "growth_s2d", "growth_firefly", "growth_tiny")
    grown_fair = ("growth_fair_gin_s2d", "growth_fair_gin_tiny", "growth_fair_gin_firefly")
    fair = cell("awn_fair_gin", "PROTEINS")
    fair_folds = fair["per_fold"]
    five_dropout = sum(f["config"]["num_layers"] == 5 and f["config"]["dropout"] == 0.5 for f in fair_folds)
    others = ("MUTAG", "IMDB-BINARY", "IMDB-MULTI", "ENZYMES")
    assert all(within_grid("awn_fair_gin", d) for d in (*others, "PROTEINS")) and within_published(
        "awn_fair_gin", "PROTEINS"
    )
    assert not within_grid("awn_fair_gin", "NCI1")
    nci1 = ("awn_fair_gin", "gin", "awn_gin")
    selected = {
        model: sum(
            f["config"]["num_layers"] == 3 and f["config"]["dropout"] == 0 for f in cell(model, "NCI1")["per_fold"]
        )
        for model in ("awn_fair_gin", "growth_fair_gin_s2d")
    }
    narrow = sum(f["config"]["hidden_units"] == [32, 32] for f in cell("gin", "NCI1")["per_fold"])
    assert_quoted(
        text,
        f"MUTAG ({pm(cell('awn_gin', 'MUTAG'))}% vs {pm(cell('gin', 'MUTAG'))}%, "
        f"{ratio_of('awn_gin', 'MUTAG')}× the parameters)",
        f"IMDB-BINARY ({pm(cell('awn_gin', 'IMDB-BINARY'))}% vs {pm(cell('gin', 'IMDB-BINARY'))}%, "
        f"{ratio_of('awn_gin', 'IMDB-BINARY')}×)",
        f"IMDB-MULTI ({pm(cell('awn_gin', 'IMDB-MULTI'))}% vs {pm(cell('gin', 'IMDB-MULTI'))}%, "
        f"{ratio_of('awn_gin', 'IMDB-MULTI')}×)",
        f"but not on PROTEINS ({pm(cell('awn_gin', 'PROTEINS'))}% vs {pm(cell('gin', 'PROTEINS'))}%, {gap:.1f} points, "
        f"{ratio_of('awn_gin', 'PROTEINS')}× the parameters)",
        f"scores {pm(diagnostic('PROTEINS_fixed_awn_architecture', 'gin-classifier-64'))}% on the same folds",
        f"both presets, S2D, Firefly and TINY ({span(100 * cell(m, 'PROTEINS')['mean'] for m in learners)}%",
        f"S2D, TINY and Firefly reach {span(100 * cell(m, 'PROTEINS')['mean'] for m in grown_fair)}%",
        f"**{pm(fair)}%** with {thousands(fair['num_parameters'])} parameters ({ratio_of('awn_fair_gin', 'PROTEINS')}"
        f"× the fixed grid's, total width {fair['total_width']['mean']:.0f} ± {fair['total_width']['std']:.0f}",
        f"{five_dropout} of 10 folds select 5 blocks with dropout 0.5",
        f"On MUTAG it scores {pm(cell('awn_fair_gin', 'MUTAG'))}% ({ratio_of('awn_fair_gin', 'MUTAG')}× the "
        f"parameters), on IMDB-BINARY {pm(cell('awn_fair_gin', 'IMDB-BINARY'))}% "
        f"({ratio_of('awn_fair_gin', 'IMDB-BINARY')}×, width "
        f"{width_of('awn_fair_gin', 'IMDB-BINARY')}; the fixed grid "
        f"{pm(cell('gin', 'IMDB-BINARY'))}%, the published row {published_pm('IMDB-BINARY')}%), on IMDB-MULTI "
        f"{pm(cell('awn_fair_gin', 'IMDB-MULTI'))}% ({ratio_of('awn_fair_gin', 'IMDB-MULTI')}×) and on ENZYMES "
        f"{pm(cell('awn_fair_gin', 'ENZYMES'))}% ({ratio_of('awn_fair_gin', 'ENZYMES')}×, below)",
        f"**{pm(cell('awn_fair_gin', 'NCI1'))}%** with width {width_of('awn_fair_gin', 'NCI1')} "
        f"({thousands(params('awn_fair_gin', 'NCI1'))} parameters) against the fixed grid's "
        f"{pm(cell('gin', 'NCI1'))}% and the AWN classifier's {pm(cell('awn_gin', 'NCI1'))}%",
        f"({pct(train_accuracy(nci1[0], 'NCI1'))}% training accuracy in its final runs, against "
        f"{pct(train_accuracy(nci1[1], 'NCI1'))}% and {pct(train_accuracy(nci1[2], 'NCI1'))}%)",
        f"with {span(layer_widths('awn_fair_gin', 'NCI1'), whole)} neurons a layer",
        f"to a total width of {width_of('growth_fair_gin_s2d', 'NCI1')} scores the same "
        f"{pm(cell('growth_fair_gin_s2d', 'NCI1'))}% with the same "
        f"{pct(train_accuracy('growth_fair_gin_s2d', 'NCI1'), 0)}% training accuracy",
        f"in most folds ({selected['awn_fair_gin']} and {selected['growth_fair_gin_s2d']} of 10)",
        f"[32, 32] without dropout ({narrow} of 10)",
    )


NCI1_DIAGNOSTICS = {
    "`FairGIN` [32, 32]": ("NCI1_fair_gin_architecture", "fair-gin-32"),
    "`GrowingFairGIN` built to FairGIN's [32, 32]": ("NCI1_fair_gin_architecture", "growing-fair-gin-32"),
    "`GrowingFairGIN`, every hidden layer fixed at 16": ("NCI1_adaptive_fair_gin_fit", "growing-fair-gin-16"),
    "`AdaptiveFairGIN`, preset awgnn (the cell's setting)": ("NCI1_adaptive_fair_gin_fit", "awn-fair-gin"),
    "the same, rates at the weights' learning rate": ("NCI1_adaptive_fair_gin_fit", "awn-fair-gin-slow-rates"),
    "the same, rates frozen": ("NCI1_adaptive_fair_gin_frozen_rates", "awn-fair-gin-frozen-rates"),
}


def diagnostic_train(name: str, model: str, folds: int | None = None) -> float:
    return statistics.fmean(f["train_score"] for f in diagnostic(name, model)["per_fold"][:folds])


def test_section_10_nci1_diagnostics():
    text = section(10)
    for label, (name, model) in NCI1_DIAGNOSTICS.items():
        found = diagnostic(name, model)
        runs = len(found["per_fold"][0]["test_scores"])
        assert table_row(text, label)[1:] == [
            f"`{name}`",
            f"{len(found['per_fold'])} × {runs}",
            f"{pm(found)}%",
            f"{pct(diagnostic_train(name, model))}%",
            f"{found['total_width']['mean']:.0f}",
        ], label
    grid = json.loads((DIAGNOSTICS / "NCI1_adaptive_fair_gin_fit" / "experiment.json").read_text())["config"]
    rates = grid["models"]["awn-fair-gin"]["grid"]["rate_lr"][0] / grid["models"]["awn-fair-gin"]["grid"]["lr"][0]
    growing32 = [r for r in diagnostic_runs("NCI1_fair_gin_architecture") if r["model"] == "growing-fair-gin-32"]
    fixed16 = diagnostic("NCI1_adaptive_fair_gin_fit", "growing-fair-gin-16")
    grown32, fixed16_label = (
        "`GrowingFairGIN` built to FairGIN's [32, 32]",
        "`GrowingFairGIN`, every hidden layer fixed at 16",
    )
    frozen = diagnostic("NCI1_adaptive_fair_gin_frozen_rates", "awn-fair-gin-frozen-rates")
    learned = diagnostic("NCI1_adaptive_fair_gin_fit", "awn-fair-gin")
    shared = len(diagnostic("NCI1_fair_gin_architecture", "growing-fair-gin-32")["per_fold"])
    lower = sum(a["train_score"] < b["train_score"] for a, b in zip(frozen["per_fold"], fixed16["per_fold"]))
    gap = 100 * (
        diagnostic_train(*NCI1_DIAGNOSTICS["`GrowingFairGIN`, every hidden layer fixed at 16"])
        - diagnostic_train(*NCI1_DIAGNOSTICS["`AdaptiveFairGIN`, preset awgnn (the cell's setting)"])
    )
    assert_quoted(
        passage(text, "So the model class is not the cause"),
        f"its one run stopped at epoch {min(r['epochs'] for r in growing32 if r['kind'] == 'final')}",
        f"({WORDS[round(rates)]} times slower rates, same fit)",
        f"on the first {shared} folds, the ones both diagnostics share, 16 neurons a layer under the 64-channel "
        f"embedding fit {pct(diagnostic_train('NCI1_adaptive_fair_gin_fit', 'growing-fair-gin-16', shared))}%",
        f"as `GrowingFairGIN` at 32 does ({pct(diagnostic_train(*NCI1_DIAGNOSTICS[grown32]))}%; over all "
        f"{len(fixed16['per_fold'])} folds {pct(diagnostic_train(*NCI1_DIAGNOSTICS[fixed16_label]))}%)",
        f"`AdaptiveFairGIN` at {learned['total_width']['mean']:.0f} neurons in total fits "
        f"{pct(diagnostic_train('NCI1_adaptive_fair_gin_fit', 'awn-fair-gin'))}%, {WORDS[round(gap)]} points below",
        f"fit {pct(statistics.fmean(f['train_score'] for f in frozen['per_fold']))}% against "
        f"{pct(statistics.fmean(f['train_score'] for f in fixed16['per_fold']))}% without them, lower in {lower} of "
        f"{len(frozen['per_fold'])} folds, and test {pct(frozen['mean'])}% against {pct(fixed16['mean'])}%",
        f"fits NCI1 ({pct(train_accuracy('awn_gin', 'NCI1'), 0)}% training accuracy)",
    )


def grid_point(model: str, **point: Any) -> tuple[float, float, int]:
    """Training accuracy (%) and median best epoch of one NCI1 grid point's selection runs, and folds it won."""
    (found,) = [
        g for g in reproduction.grid_points(RECORDS, model, "NCI1") if all(g.point[k] == v for k, v in point.items())
    ]
    fit = 100 * statistics.fmean(r["train_score"] for r in found.runs)
    return fit, statistics.median(r["best_epoch"] for r in found.runs), found.selected


def test_section_10_depth_on_nci1():
    rows = {
        "AWN classifier, preset awgnn (batch 32)": (
            grid_point("awn_gin", num_layers=3, batch_size=32),
            grid_point("awn_gin", num_layers=5, batch_size=32),
            [grid_point("awn_gin", num_layers=5, batch_size=b)[2] for b in (32, 128)],
            5,
        ),
        "`AdaptiveFairGIN`, preset awgnn (no dropout)": (
            grid_point("awn_fair_gin", num_layers=3, dropout=0.0),
            grid_point("awn_fair_gin", num_layers=5, dropout=0.0),
            [grid_point("awn_fair_gin", num_layers=3, dropout=d)[2] for d in (0.0, 0.5)],
            3,
        ),
        "`FairGIN` fixed (no dropout;": (
            grid_point("gin", hidden_units=[32, 32], dropout=0.0),
            grid_point("gin", hidden_units=[64, 64, 64, 64], dropout=0.0),
            [grid_point("gin", hidden_units=[32, 32], dropout=d)[2] for d in (0.0, 0.5)],
            3,
        ),
    }
    text = section(10)
    for label, (three, five, won, blocks) in rows.items():
        assert table_row(text, label)[1:] == [
            f"{three[0]:.1f}",
            f"{five[0]:.1f}",
            f"{three[1]:.0f} / {five[1]:.0f}",
            f"{blocks} in {sum(won)} of 10 folds",
        ], label
    awn3, fair3, fixed3 = (rows[label][0] for label in rows)
    fixed5, fair5 = rows["`FairGIN` fixed (no dropout;"][1], rows["`AdaptiveFairGIN`, preset awgnn (no dropout)"][1]
    best = [rows["AWN classifier, preset awgnn (batch 32)"][1][1], fair5[1], fixed3[1]]
    early = [r for m in ("gin", "awn_gin", "awn_fair_gin") for r in cell_runs(m, "NCI1") if r["best_epoch"] <= 20]
    assert_quoted(
        passage(text, "The AWN classifier fits NCI1 better the deeper it is"),
        f"the AWN classifier fits {awn3[0]:.1f}%, between `AdaptiveFairGIN`'s {fair3[0]:.1f}% and the fixed "
        f"{fixed3[0]:.1f}%",
        f"at a median best epoch of {fixed5[1]:.0f} against {fixed3[1]:.0f}",
        f"the adaptive 5-block one runs on ({fair5[1]:.0f})",
        f"The best configurations' best epochs ({span(best, whole)} of 150)",
        f"peaks early (epochs {span([r['best_epoch'] for r in early], whole)})",
        f"ends with about {100 * statistics.fmean(r['train_score'] for r in early):.0f}% training accuracy",
    )


def test_section_10_paper_setting():
    text = passage(section(10), "On NCI1 the adaptive GIN scores")
    matched = ("MUTAG", "ENZYMES", "IMDB-BINARY", "IMDB-MULTI")
    assert all(within_grid("awn_gin_paper", d) for d in matched)
    assert within_grid("awn_gin", "NCI1")
    reach = [m for m in reproduction.TABLE_MODELS if within_published(m, "NCI1")]
    assert reach == ["awn_gin_paper"]
    paper = cell("awn_gin_paper", "NCI1")
    folds = paper["per_fold"]
    every = "every fold" if all(f["config"]["num_layers"] == 5 for f in folds) else "some folds"
    imdb = [cell("awn_gin_paper", d)["total_width"]["mean"] for d in ("IMDB-BINARY", "IMDB-MULTI")]
    assert_quoted(
        text,
        f"scores {pm(cell('awn_gin', 'NCI1'))}% with width {width_of('awn_gin', 'NCI1')} "
        f"({thousands(params('awn_gin', 'NCI1'))} parameters) against the fixed GIN's {pm(cell('gin', 'NCI1'))}% "
        f"({thousands(params('gin', 'NCI1'))}), within one standard deviation",
        "matches the fixed GIN on "
        + ", ".join(f"{d} ({pm(cell('awn_gin_paper', d))}%)" for d in matched[:3])
        + f" and IMDB-MULTI ({pm(cell('awn_gin_paper', 'IMDB-MULTI'))}%) with "
        f"{span([param_ratio('awn_gin_paper', d) for d in matched])}× its parameters",
        f"width of {span(imdb, whole)}",
        f"On PROTEINS it scores {pm(cell('awn_gin_paper', 'PROTEINS'))}% with width "
        f"{width_of('awn_gin_paper', 'PROTEINS')} ({thousands(params('awn_gin_paper', 'PROTEINS'))}"
        f" parameters), level with the preset's {pm(cell('awn_gin', 'PROTEINS'))}% at "
        f"{param_ratio('awn_gin_paper', 'PROTEINS', 'awn_gin'):.1f}× the parameters",
        f"**{pm(paper)}%** (published {published_pm('NCI1')}), against the preset's {pm(cell('awn_gin', 'NCI1'))}% and "
        f"the fixed grid's {pm(cell('gin', 'NCI1'))}%, with a total width of {paper['total_width']['mean']:.0f} ± "
        f"{paper['total_width']['std']:.0f} and {thousands(paper['num_parameters'])} parameters "
        f"({param_ratio('awn_gin_paper', 'NCI1'):.0f}× the fixed GIN's, "
        f"{param_ratio('awn_gin_paper', 'NCI1', 'awn_gin'):.0f}× the preset's) at "
        f"{paper['cpu_seconds'] / 3600:.2f} CPU-hours of wall time",
        f"Its selection takes 5 blocks in {every} (batch 32 "
        f"in {sum(f['config']['batch_size'] == 32 for f in folds)}), which fit "
        f"{grid_point('awn_gin_paper', num_layers=5, batch_size=32)[0]:.1f}% of the inner-train split against the "
        f"preset's {grid_point('awn_gin', num_layers=5, batch_size=32)[0]:.1f}%",
        f"({statistics.fmean(layer_widths('awn_gin_paper', 'NCI1')):.0f} on average here)",
        "(that estimate is not kept in the records)",
    )


def test_section_10_records_and_code():
    text = passage(section(10), "**Records and the code that made them.**")
    quoted = []
    changes = []
    for dataset in ("MUTAG", "IMDB-BINARY", "PROTEINS", "IMDB-MULTI", "ENZYMES", "NCI1"):
        line = reproduction.same_seed_runs(RECORDS, ("awn_gin", dataset), (SINGLE, dataset))
        shared, identical, difference, change = re.search(
            r"(\d+) final runs share a seed, (\d+) identical; mean \|test accuracy difference\| ([\d.]+) points, "
            r"mean change ([-+][\d.]+)",
            line,
        ).groups()
        if dataset == "NCI1":
            assert shared == identical == "2"
            continue
        quoted.append((dataset, f"{identical} of {shared}", difference))
        changes.append(f"{change.replace('-', '−')} {'points on ' if dataset == 'MUTAG' else 'on '}{dataset}")
    first = quoted[0]
    assert_quoted(
        text,
        "a check not kept in the records",
        f"awn_gin_single/MUTAG`: {first[1]}, mean test-accuracy change {first[2]} points a run; "
        + "; ".join(f"{d} {n}, {diff}" for d, n, diff in quoted[1:]),
        "(mean change of the new runs " + ", ".join(changes[:-1]) + f", {changes[-1]})",
        "both shared runs are identical",
    )


ENZYMES_PRIORS = {
    "centre 16, std 0.3": ("ENZYMES_width_prior", "awn-gin-centre-16"),
    "centre 16, std 1.0": ("ENZYMES_width_prior_std", "awn-gin-centre-16-std-1"),
    "centre 64, std 0.3": ("ENZYMES_width_prior", "awn-gin-centre-64"),
}


def test_section_10_enzymes():
    text = section(10)
    for label, (name, model) in ENZYMES_PRIORS.items():
        found = diagnostic(name, model)
        assert table_row(text, label)[1:] == [
            f"{found['total_width']['mean']:.0f}",
            f"{pct(diagnostic_train(name, model), 0)}%",
            f"{pm(found)}%",
        ], label
    paper = cell("awn_gin_paper", "ENZYMES")
    assert table_row(text, "none, start at 117 a block")[1:] == [
        f"{paper['total_width']['mean']:.0f}",
        f"{pct(train_accuracy('awn_gin_paper', 'ENZYMES'), 0)}%",
        f"{pm(paper)}%",
    ]
    assert within_grid("awn_gin_paper", "ENZYMES") and not within_grid("awn_gin", "ENZYMES")
    gap = 100 * (cell("gin", "ENZYMES")["mean"] - cell("awn_gin", "ENZYMES")["mean"])
    assert_quoted(
        passage(text, "**ENZYMES: where the recommended preset fails"),
        f"scores {pm(cell('awn_gin', 'ENZYMES'))}% on ENZYMES against the fixed GIN's {pm(cell('gin', 'ENZYMES'))}%, "
        f"{gap:.0f} points below, while the paper's setting reaches {pm(paper)}% (within one standard deviation of "
        f"the fixed GIN, with {param_ratio('awn_gin_paper', 'ENZYMES'):.0f}× its",
        f"its final runs reach {pct(train_accuracy('awn_gin', 'ENZYMES'), 0)}% training accuracy against "
        f"{pct(train_accuracy('gin', 'ENZYMES'), 0)}% for the fixed GIN and for the paper's setting",
        f"with block means of {span(block_means('awn_gin', 'ENZYMES').values(), whole)} neurons",
    )
    assert round(100 * train_accuracy("gin", "ENZYMES")) == round(100 * train_accuracy("awn_gin_paper", "ENZYMES"))
    narrow = diagnostic(*ENZYMES_PRIORS["centre 16, std 0.3"])
    weaker = diagnostic(*ENZYMES_PRIORS["centre 16, std 1.0"])
    blocks = len(narrow["per_fold"][0]["layer_widths"][0])
    finals = {r["n_observations"] for r in cell_runs("gin", "ENZYMES") if r["kind"] == "final"}
    assert_quoted(
        passage(text, "Width, training fit and test accuracy rise together"),
        f"from about {narrow['total_width']['mean'] / blocks:.0f} to about {weaker['total_width']['mean'] / blocks:.0f}"
        f" neurons, not to the {round(statistics.fmean(layer_widths('awn_gin_paper', 'ENZYMES')), -1):.0f} or so (the "
        "paper setting's mean layer width here)",
        f"({finals.pop()} training graphs",
        f"the fixed GIN fits ENZYMES to {pct(train_accuracy('gin', 'ENZYMES'), 0)}% with "
        f"{span(layer_widths('gin', 'ENZYMES'), whole).replace('–', ' to ')} units a layer",
    )
    fair = cell("awn_fair_gin", "ENZYMES")
    means = block_means("awn_fair_gin", "ENZYMES")
    assert within_grid("awn_fair_gin", "ENZYMES") and within_published("awn_fair_gin", "ENZYMES")
    every = [v for d in TU for v in block_means("awn_fair_gin", d).values()]
    assert_quoted(
        passage(text, "**ENZYMES with FairGIN's architecture"),
        f"scores **{pm(fair)}%** with {thousands(fair['num_parameters'])} parameters "
        f"({ratio_of('awn_fair_gin', 'ENZYMES')}× the fixed grid's)",
        f"of the fixed GIN ({pm(cell('gin', 'ENZYMES'))}%) and of the published row ({published_pm('ENZYMES')}%), "
        f"with {pct(train_accuracy('awn_fair_gin', 'ENZYMES'))}% training accuracy",
        f"({means['block0']:.0f} and {means['block1']:.0f} neurons in blocks 0 and 1, "
        f"{span([means[b] for b in ('block2', 'block3', 'block4')], whole)} in the later blocks; total "
        f"{fair['total_width']['mean']:.0f})",
        f"(block means of {span(every, whole)} neurons on all {WORDS[len(TU)]} datasets",
    )


def test_section_10_figure_commentary():
    widths = {d: cell("awn_gin", d)["total_width"]["mean"] for d in TU}
    every = [v for d in TU for v in block_means("awn_gin", d).values()]
    gaps = {}
    for dataset in TU:
        scores: dict[str, list[float]] = {}
        for point in reproduction.grid_points(RECORDS, "gin", dataset):
            if point.point["dropout"] == 0:
                scores.setdefault(str(point.point["hidden_units"]), []).extend(100 * r["val_score"] for r in point.runs)
        narrow, wide = (statistics.fmean(scores[k]) for k in ("[32, 32]", "[64, 64, 64, 64]"))
        gaps[dataset] = narrow - wide
    # The estimates of pending cells are the tables' (they move whenever any cell of any section finishes, so the
    # prose follows the section's tables, which `reproduction.py --report-only` regenerates).
    tables = section(10)[: section(10).index("**Costs in the two tables above.**")]
    estimates = [
        float(value)
        for dataset in ("DD", "REDDIT-BINARY")
        for line in tables.splitlines()
        if line.startswith(f"| {dataset} |")
        for value in re.findall(r"est\. ([\d.]+) CPU-h", line)
    ]
    assert len(estimates) == 14  # DD and REDDIT-BINARY in both tables: 4 + 3 pending cells each
    assert max(widths, key=widths.get) == "NCI1" == max(reproduction.SIZES, key=lambda d: reproduction.SIZES[d][0])
    assert_quoted(
        passage(section(10), "The figure is the real-data version"),
        f"({span(widths.values(), whole)} over 3- and 5-block models: block means of {span(every, whole)} neurons",
        f"(within {span([abs(g) for d, g in gaps.items() if d != 'NCI1'])} points; on NCI1 the narrow one is "
        f"{gaps['NCI1']:.1f} points ahead",
        f"({span(estimates)} CPU-hours a cell for this section's models by the estimates, which scale wall times)",
    )


# -- section 11: growing baselines ----------------------------------------------------------------------------------


NEW_NEURONS_ONLY = "ed5a86a^"  # the Firefly cells before commit ed5a86a removed them (new neurons only)


def new_neurons_only(model: str, dataset: str) -> dict[str, Any]:
    """A Firefly cell as committed before its rerun with splits (its harness summary)."""
    (found,) = committed(NEW_NEURONS_ONLY, f"benchmarks/reproduction/{model}/{dataset}/summary.json")["models"].values()
    return found


def split_share(model: str, dataset: str) -> float:
    """The share of the neurons a Firefly cell's final runs added that came from splits."""
    added = split = 0
    for run in cell_runs(model, dataset):
        for entry in run["history"]:
            if "growth" in entry:
                added += entry["growth"]["added"]
                split += entry["growth"]["split"]
    return split / added


def share_of_input(summarised: Mapping[str, Any]) -> float:
    return growth.input_block_share(summarised)


def ladder_growth(method: str) -> list[dict[str, Any]]:
    return [r for r in jsonl_runs("growth_ladder.jsonl") if r["method"] == method]


def ladder_level_accuracy(method: str, level: int) -> float:
    return statistics.fmean(100 * r["test_accuracy"] for r in ladder_growth(method) if r["level"] == level)


def ladder_blocks(method: str) -> list[float]:
    runs = ladder_growth(method)
    return [statistics.fmean(r["final_widths"][b] for r in runs) for b in runs[0]["final_widths"]]


def growth_rho(method: str) -> float | None:
    runs = ladder_growth(method)
    widths = [r["final_total_width"] for r in runs]
    if len(set(widths)) < 2:
        return None
    return width_convergence.spearmanr([r["level"] for r in runs], widths).statistic


AWN_TABLE = ("gin", "awn_gin", *GROWTH_AWN)
FAIR_GROWTH = ("growth_fair_gin_s2d", "growth_fair_gin_firefly", "growth_fair_gin_tiny")
PER_LAYER = ("growth_s2d_per_layer", "growth_firefly_per_layer")


def finished(model: str, dataset: str) -> bool:
    return reproduction.cell_summary(RECORDS, model, dataset) is not None


def test_section_11_pending_cells():
    text = passage(section(11), "The growing baselines ran under the protocol")
    pending = {
        (m, d)
        for m in ("growth_fair_gin_s2d", "growth_fair_gin_s2d_fast", "growth_fair_gin_firefly", "growth_fair_gin_tiny")
        for d in ("MUTAG", "PROTEINS", "NCI1")
        if not finished(m, d)
    }
    assert pending == {
        ("growth_fair_gin_firefly", "NCI1"),
        ("growth_fair_gin_tiny", "NCI1"),
        ("growth_fair_gin_s2d_fast", "NCI1"),
        ("growth_fair_gin_s2d_fast", "PROTEINS"),
    }
    tiny = reproduction.progress(RECORDS, "growth_fair_gin_tiny", "NCI1")
    assert all(finished(m, d) for m in AWN_TABLE for d in ("MUTAG", "PROTEINS", "NCI1"))
    assert_quoted(
        text,
        f"({len({r['seed'] for r in ladder_growth('awgnn')})} seeds a level, one split each)",
        f"TINY ({tiny.runs_done} of {tiny.total_runs} runs) and the fast S2D; on PROTEINS, the fast S2D",
    )


def test_section_11_costs_are_marked():
    text = passage(section(11), "CPU-hours are the runs' process CPU time")
    mutag_wall = [m for m in GROWTH_AWN if wall_time_only(m, "MUTAG")]
    firefly = [
        sum(r["seconds"] for r in cell_runs(m, d)) / sum(r["cpu_seconds"] for r in cell_runs(m, d))
        for m in ("growth_firefly", "growth_fair_gin_firefly", "growth_firefly_per_layer")
        for d in TU
        if finished(m, d)
    ]
    assert_quoted(
        text,
        f"(the MUTAG growth cells of the first table cost "
        f"{span([cell(m, 'MUTAG')['cpu_seconds'] / 3600 for m in mutag_wall], two)} CPU-hours then, "
        f"wall time under load, their per-layer reruns {hours('growth_s2d_per_layer', 'MUTAG')})",
        f"took up to {max(firefly):.0f}× their CPU time in wall time",
    )
    # The load, seen per epoch: the MUTAG S2D cell took three times as long an epoch as its per-layer rerun.
    assert wall_seconds_per_epoch("growth_s2d", "MUTAG") > 2 * wall_seconds_per_epoch("growth_s2d_per_layer", "MUTAG")


def test_section_11_firefly_rerun_with_splits():
    text = passage(section(11), "**Firefly, rerun with splits (2026-12-02).**")
    shares = [
        split_share(m, d)
        for m, d in (
            ("growth_firefly", "PROTEINS"),
            ("growth_firefly", "NCI1"),
            ("growth_firefly", "ENZYMES"),
            ("growth_fair_gin_firefly", "PROTEINS"),
        )
    ]
    rerun = [("growth_firefly", d) for d in ("MUTAG", "PROTEINS", "NCI1", "ENZYMES", "IMDB-BINARY", "IMDB-MULTI")]
    quoted = []
    for model, dataset in [*rerun, ("growth_firefly_per_layer", "MUTAG")]:
        old = new_neurons_only(model, dataset)
        assert within_one_std(cell(model, dataset)["mean"], old["mean"], old["std"])
        quoted.append(f"{dataset} {pm(cell(model, dataset))}% ({pm(old)}%)")
    fair = []
    for dataset in ("MUTAG", "PROTEINS", "ENZYMES"):
        old = new_neurons_only("growth_fair_gin_firefly", dataset)
        assert within_one_std(cell("growth_fair_gin_firefly", dataset)["mean"], old["mean"], old["std"])
        fair.append(f"{dataset} {pm(cell('growth_fair_gin_firefly', dataset))}% ({pm(old)}%)")
    per_layer = new_neurons_only("growth_firefly_per_layer", "ENZYMES")
    progress = reproduction.progress(RECORDS, "growth_firefly_per_layer", "PROTEINS")
    assert_quoted(
        text,
        f"{shares[0]:.0%} of the neurons Firefly added on PROTEINS, {shares[1]:.0%} on NCI1, {shares[2]:.0%} on ENZYMES"
        f" and {shares[3]:.0%} on PROTEINS on FairGIN's architecture came from splits",
        ", ".join(quoted[:6]),
        f"per layer on MUTAG {quoted[6].removeprefix('MUTAG ')}",
        ", ".join(fair[:2]) + f" and {fair[2]}",
        f"per layer on ENZYMES {pm(cell('growth_firefly_per_layer', 'ENZYMES'))}% ({pm(per_layer)}%)",
        f"({progress.runs_done} of {progress.total_runs} runs; new neurons only: "
        f"{pm(new_neurons_only('growth_firefly_per_layer', 'PROTEINS'))}%)",
        "(the cells removed in commit ed5a86a;",
    )


def test_section_11_proteins():
    text = passage(section(11), "**The architecture decides PROTEINS")
    grid = cell("gin", "PROTEINS")
    awn = ("awn_gin", "growth_s2d", "growth_s2d_fast", "growth_firefly", "growth_tiny")
    gaps = [100 * (grid["mean"] - cell(m, "PROTEINS")["mean"]) for m in awn]
    fair = ("awn_fair_gin", *FAIR_GROWTH)
    assert all(within_grid(m, "PROTEINS") and within_published(m, "PROTEINS") for m in fair)
    assert_quoted(
        text,
        f"every method lands {span(gaps)} points below the fixed FairGIN grid ({pm(grid)}%)",
        f"AWN {pm(cell('awn_gin', 'PROTEINS'))}%, S2D {pm(cell('growth_s2d', 'PROTEINS'))}% (its fast variant "
        f"{pm(cell('growth_s2d_fast', 'PROTEINS'))}%, 2026-12-02), Firefly {pm(cell('growth_firefly', 'PROTEINS'))}%, "
        f"TINY {pm(cell('growth_tiny', 'PROTEINS'))}%",
        f"scores {pct(diagnostic('PROTEINS_fixed_awn_architecture', 'gin-classifier-64')['mean'])}%, section 1",
        f"(`AdaptiveFairGIN`, preset awgnn) {pm(cell('awn_fair_gin', 'PROTEINS'))}% with "
        f"{thousands(params('awn_fair_gin', 'PROTEINS'))} parameters, S2D **{pm(cell(FAIR_GROWTH[0], 'PROTEINS'))}%** "
        f"with {thousands(params(FAIR_GROWTH[0], 'PROTEINS'))}, TINY **{pm(cell(FAIR_GROWTH[2], 'PROTEINS'))}%** with "
        f"{thousands(params(FAIR_GROWTH[2], 'PROTEINS'))} and Firefly **{pm(cell(FAIR_GROWTH[1], 'PROTEINS'))}%** with "
        f"{thousands(params(FAIR_GROWTH[1], 'PROTEINS'))}, against the grid's {thousands(grid['num_parameters'])} "
        f"({span([param_ratio(m, 'PROTEINS') for m in fair], two)}×)",
        f"the published {published_pm('PROTEINS')}%",
        f"in {span([epochs(m, 'PROTEINS') for m in fair], thousands)} epochs a cell against the grid's "
        f"{thousands(epochs('gin', 'PROTEINS'))}",
    )


def test_section_11_nci1():
    text = passage(section(11), "**NCI1, AWN classifier:**")
    methods = {"growth_s2d": "S2D", "growth_firefly": "Firefly"}
    within = [m for m in AWN_TABLE if within_published(m, "NCI1")]
    assert within == ["growth_tiny"]
    costs = {m: cell(m, "NCI1")["cpu_seconds"] for m in AWN_TABLE}
    assert sorted(costs, key=costs.get)[-2:] == ["growth_tiny", "growth_s2d_fast"]
    assert_quoted(
        text,
        " and ".join(f"{name} {pm(cell(m, 'NCI1'))}%" for m, name in methods.items())
        + " (totals "
        + " and ".join(f"{width_of(m, 'NCI1')}" for m in methods)
        + " neurons, "
        + " and ".join(thousands(params(m, "NCI1")) for m in methods)
        + " parameters",
        f"TINY **{pm(cell('growth_tiny', 'NCI1'))}%** ({width_of('growth_tiny', 'NCI1')} "
        f"neurons, {thousands(params('growth_tiny', 'NCI1'))} parameters)",
        f"the fast S2D {pm(cell('growth_s2d_fast', 'NCI1'))}% ({width_of('growth_s2d_fast', 'NCI1')}"
        f" neurons, {thousands(params('growth_s2d_fast', 'NCI1'))} parameters, "
        f"{costs['growth_s2d_fast'] / 3600:.2f} CPU-hours of wall time",
        f"AWN {pm(cell('awn_gin', 'NCI1'))}% ({width_of('awn_gin', 'NCI1')} neurons, "
        f"{thousands(params('awn_gin', 'NCI1'))} parameters), the fixed grid {pm(cell('gin', 'NCI1'))}% "
        f"({thousands(params('gin', 'NCI1'))},",
        f"{share_of_input(cell('growth_tiny', 'NCI1')):.0%} in the input block",
        f"at {costs['growth_tiny'] / 3600:.2f} CPU-hours of wall time, the most of this table's NCI1 cells but the fast"
        " S2D's",
        f"On FairGIN's architecture S2D scores {pm(cell('growth_fair_gin_s2d', 'NCI1'))}% (width "
        f"{width_of('growth_fair_gin_s2d', 'NCI1')}), level with `AdaptiveFairGIN`'s "
        f"{pm(cell('awn_fair_gin', 'NCI1'))}%",
        f"({pct(train_accuracy('growth_fair_gin_s2d', 'NCI1'), 0)}% training accuracy, section 10)",
    )
    assert round(100 * train_accuracy("awn_fair_gin", "NCI1")) == round(
        100 * train_accuracy("growth_fair_gin_s2d", "NCI1")
    )


def test_section_11_fairgin_other_datasets():
    text = passage(section(11), "**FairGIN's architecture on the other datasets**")
    order = ("awn_fair_gin", "growth_fair_gin_s2d", "growth_fair_gin_firefly", "growth_fair_gin_tiny")
    mutag = [cell(m, "MUTAG") for m in order]
    enzymes = [cell(m, "ENZYMES")["mean"] for m in order]
    old = new_neurons_only("growth_fair_gin_firefly", "ENZYMES")
    widths = [cell(m, "ENZYMES")["total_width"]["mean"] for m in order[1:]]
    assert_quoted(
        text,
        "MUTAG " + ", ".join(pct(c["mean"]) for c in mutag) + f"% against {pct(cell('gin', 'MUTAG')['mean'])}% "
        f"(standard deviations {span([100 * c['std'] for c in mutag], whole)} points)",
        f"ENZYMES {pct(enzymes[0])}, **{pct(enzymes[1])}**, {pm(cell(order[2], 'ENZYMES'))}, {pct(enzymes[3])}% "
        f"against "
        f"{pm(cell('gin', 'ENZYMES'))}%",
        f"(the growth cells wider, {span(widths, whole)} neurons, than AWN's "
        f"{width_of('awn_fair_gin', 'ENZYMES')}; Firefly with new neurons only scored {pm(old)}%)",
        f"IMDB-MULTI {pct(cell('awn_fair_gin', 'IMDB-MULTI')['mean'])}% for AWN and S2D against "
        f"{pct(cell('gin', 'IMDB-MULTI')['mean'])}%",
    )
    assert pct(cell("awn_fair_gin", "IMDB-MULTI")["mean"]) == pct(cell("growth_fair_gin_s2d", "IMDB-MULTI")["mean"])


def test_section_11_enzymes():
    text = passage(section(11), "**ENZYMES, AWN classifier**")
    firefly = cell("growth_firefly", "ENZYMES")
    fits = [train_accuracy(m, "ENZYMES") for m in ("awn_gin", "growth_s2d", "growth_s2d_fast", "growth_tiny")]
    fair = [cell(m, "ENZYMES")["mean"] * 100 for m in ("awn_fair_gin", *FAIR_GROWTH)]
    gin_layers = [w for f in firefly["per_fold"] for run in f["layer_widths"] for b, w in run.items() if b != "block0"]
    finals = [r for r in cell_runs("growth_firefly", "ENZYMES") if r["kind"] == "final"]
    per_layer = cell("growth_firefly_per_layer", "ENZYMES")
    old, old_per_layer = (new_neurons_only(m, "ENZYMES") for m in ("growth_firefly", "growth_firefly_per_layer"))
    s2d, s2d_layer = cell("growth_s2d", "ENZYMES"), cell("growth_s2d_per_layer", "ENZYMES")
    assert within_one_std(per_layer["mean"], firefly["mean"], firefly["std"])
    assert within_one_std(s2d_layer["mean"], s2d["mean"], s2d["std"])
    assert_quoted(
        text,
        f"AWN scores {pm(cell('awn_gin', 'ENZYMES'))}%, S2D {pm(s2d)}%, the fast S2D "
        f"{pm(cell('growth_s2d_fast', 'ENZYMES'))}%, TINY {pm(cell('growth_tiny', 'ENZYMES'))}% and Firefly "
        f"{pm(firefly)}% (rerun with splits; {pm(old)}% with new neurons only)",
        f"against the fixed FairGIN grid's {pm(cell('gin', 'ENZYMES'))}%",
        f"Their final runs fit {span(fits, percent)}% of the training set (Firefly "
        f"{pct(train_accuracy('growth_firefly', 'ENZYMES'), 0)}%), against the grid's "
        f"{pct(train_accuracy('gin', 'ENZYMES'), 0)}%",
        f"the same methods reach {span(fair, whole)}%",
        f"put {share_of_input(firefly):.0%} of its neurons in the input block and left the GIN layers at about "
        f"{statistics.fmean(gin_layers):.0f} neurons",
        f"{sum(r['best_epoch'] < 40 for r in finals)} of its {len(finals)} final runs found their best epoch before "
        "epoch 40",
        f"Firefly per layer scores **{pm(per_layer)}%** ({100 * (per_layer['mean'] - firefly['mean']):+.1f} points",
        f"{pm(old_per_layer)}%, {100 * (old_per_layer['mean'] - old['mean']):+.1f} points, with new neurons only",
        f"with {share_of_input(per_layer):.0%} of its neurons in the input block and "
        f"{pct(train_accuracy('growth_firefly_per_layer', 'ENZYMES'), 0)}% training accuracy "
        f"({pct(train_accuracy('growth_firefly', 'ENZYMES'), 0)}% globally)",
        f"**{pm(s2d_layer)}%** against {pm(s2d)}% globally ({100 * (s2d_layer['mean'] - s2d['mean']):+.1f} points",
        f"with {share_of_input(s2d_layer):.0%} of its neurons in the input block instead of {share_of_input(s2d):.0%}",
    )
    assert (100 * fits[0]) > 70 and max(fits) < 0.805


def test_section_11_imdb():
    multi = passage(section(11), "**IMDB-MULTI, AWN classifier:**")
    old = new_neurons_only("growth_firefly", "IMDB-MULTI")
    gaps = [abs(cell(m, "IMDB-MULTI")["mean"] - cell("gin", "IMDB-MULTI")["mean"]) for m in AWN_TABLE]
    assert max(gaps) < 0.015  # "all within about a point"
    assert all(within_published(m, "IMDB-MULTI") for m in AWN_TABLE)
    assert_quoted(
        multi,
        f"S2D {pm(cell('growth_s2d', 'IMDB-MULTI'))}% (width {width_of('growth_s2d', 'IMDB-MULTI')})",
        f"its fast variant {pm(cell('growth_s2d_fast', 'IMDB-MULTI'))}% (width "
        f"{width_of('growth_s2d_fast', 'IMDB-MULTI')}",
        f"Firefly {pm(cell('growth_firefly', 'IMDB-MULTI'))}% (width "
        f"{width_of('growth_firefly', 'IMDB-MULTI')}; rerun with splits on 2026-12-02, "
        f"{pm(old)}% with new neurons only)",
        f"TINY {pm(cell('growth_tiny', 'IMDB-MULTI'))}% (width {width_of('growth_tiny', 'IMDB-MULTI')}",
        f"against the grid's {pm(cell('gin', 'IMDB-MULTI'))}% and AWN's {pm(cell('awn_gin', 'IMDB-MULTI'))}%",
        f"(all of them, the grid and AWN included, also within one standard deviation of the published GIN's "
        f"{published_pm('IMDB-MULTI')}%)",
    )
    binary = passage(section(11), "**IMDB-BINARY, AWN classifier:**")
    old = new_neurons_only("growth_firefly", "IMDB-BINARY")
    gaps = [abs(cell(m, "IMDB-BINARY")["mean"] - cell("gin", "IMDB-BINARY")["mean"]) for m in AWN_TABLE]
    assert max(gaps) < 0.015  # "all within a point and a half"
    costs = [cell(m, "IMDB-BINARY")["cpu_seconds"] / 3600 for m in GROWTH_AWN]
    assert_quoted(
        binary,
        f"S2D {pm(cell('growth_s2d', 'IMDB-BINARY'))}% (width {width_of('growth_s2d', 'IMDB-BINARY')}"
        f", {thousands(params('growth_s2d', 'IMDB-BINARY'))} parameters)",
        f"its fast variant {pm(cell('growth_s2d_fast', 'IMDB-BINARY'))}% (width "
        f"{width_of('growth_s2d_fast', 'IMDB-BINARY')}, "
        f"{thousands(params('growth_s2d_fast', 'IMDB-BINARY'))} parameters)",
        f"Firefly {pm(cell('growth_firefly', 'IMDB-BINARY'))}% (width "
        f"{width_of('growth_firefly', 'IMDB-BINARY')}, rerun with splits; {pm(old)}% and width "
        f"{old['total_width']['mean']:.0f} with new neurons only)",
        f"TINY {pm(cell('growth_tiny', 'IMDB-BINARY'))}% (width {width_of('growth_tiny', 'IMDB-BINARY')}",
        f"against the grid's {pm(cell('gin', 'IMDB-BINARY'))}% and AWN's {pm(cell('awn_gin', 'IMDB-BINARY'))}%",
        f"in {span(costs, two)} CPU-hours (Firefly's CPU time, the others' wall time)",
        "(those estimates and error figures are from reports not kept in the repository;",
    )


def test_section_11_where_the_neurons_go():
    text = passage(section(11), "**Where the neurons go.**")
    global_shares = [share_of_input(cell(m, d)) for m in ("growth_s2d", "growth_firefly") for d in TU]
    fair_s2d = block_means("growth_fair_gin_s2d", "PROTEINS")
    tiny = block_means("growth_tiny", "PROTEINS")
    fair_tiny = block_means("growth_fair_gin_tiny", "PROTEINS")
    per_layer_s2d = [share_of_input(cell("growth_s2d_per_layer", d)) for d in ("MUTAG", "PROTEINS", "ENZYMES")]
    per_layer_old = [
        share_of_input(new_neurons_only("growth_firefly_per_layer", d)) for d in ("MUTAG", "PROTEINS", "ENZYMES")
    ]
    old_mutag, old_proteins = (new_neurons_only("growth_firefly", d) for d in ("MUTAG", "PROTEINS"))
    old_layer_mutag, old_layer_proteins = (
        new_neurons_only("growth_firefly_per_layer", d) for d in ("MUTAG", "PROTEINS")
    )
    s2d_nci1 = cell("growth_s2d", "NCI1")
    for dataset in ("MUTAG", "PROTEINS"):
        assert within_one_std(
            cell("growth_s2d_per_layer", dataset)["mean"],
            cell("growth_s2d", dataset)["mean"],
            cell("growth_s2d", dataset)["std"],
        )
    assert_quoted(
        text,
        f"(the third table: {span(global_shares, percent)}% of the final width with the papers' "
        f"global selection; on FairGIN's architecture less so, {fair_s2d['block0']:.0f} of "
        f"{width_of('growth_fair_gin_s2d', 'PROTEINS')} for S2D on PROTEINS)",
        f"TINY the opposite ({span([tiny['block0'], tiny['block1']], whole)} in blocks 0 and 1 on "
        f"PROTEINS, {span([tiny[b] for b in ('block2', 'block3', 'block4')], whole)} in the later ones; "
        f"{span([fair_tiny['block0'], fair_tiny['block1']], whole)} and "
        f"{span([fair_tiny[b] for b in ('block2', 'block3', 'block4')], whole)} on FairGIN's architecture; "
        "block means)",
        f"{s2d_nci1['total_width']['mean']:.0f} for 5 blocks on every NCI1 fold",
        f"falls to {span(per_layer_s2d, percent)}% for S2D "
        f"({span(per_layer_old, percent)}% for the new-neurons-only Firefly)",
        f"(S2D {pct(cell('growth_s2d_per_layer', 'MUTAG')['mean'])}%, global "
        f"{pct(cell('growth_s2d', 'MUTAG')['mean'])}%,"
        f" on MUTAG and {pm(cell('growth_s2d_per_layer', 'PROTEINS'))}%, {pm(cell('growth_s2d', 'PROTEINS'))}%, on "
        f"PROTEINS; Firefly with new neurons only {pct(old_layer_mutag['mean'])}%, {pct(old_mutag['mean'])}%, on MUTAG "
        f"and {pm(old_layer_proteins)}%, {pm(old_proteins)}%, on PROTEINS)",
    )
    assert s2d_nci1["total_width"]["std"] == 0


def test_section_11_mutag_and_cost():
    text = passage(section(11), "**MUTAG:** every way of choosing a width")
    mutag = [cell(m, "MUTAG") for m in AWN_TABLE]
    assert all(within_grid(m, "MUTAG") for m in AWN_TABLE)
    splits = json.loads((RECORDS / "gin" / "MUTAG" / "splits.json").read_text())
    tests = [len(fold["test"]) for fold in splits["folds"]]
    grown = ("growth_s2d", "growth_s2d_fast", "growth_firefly")
    assert_quoted(
        text,
        f"({span([100 * c['mean'] for c in mutag])}%, standard deviations "
        f"{span([100 * c['std'] for c in mutag], whole)} points" + f" on {span(tests, whole)} test graphs a fold)",
        f"the fixed grid with {thousands(params('gin', 'MUTAG'))} parameters, AWN with "
        f"{thousands(params('awn_gin', 'MUTAG'))}, TINY with {thousands(params('growth_tiny', 'MUTAG'))}, S2D and "
        f"Firefly with {span([params(m, 'MUTAG') for m in grown], lambda v: f'{round(v, -2):,.0f}')}",
    )

    cost = passage(section(11), "**Cost** (whole cell")

    old_firefly = new_neurons_only("growth_firefly", "MUTAG")["seconds"] / 3600
    proteins_growth = [*GROWTH_AWN[:1], *GROWTH_AWN[2:], *FAIR_GROWTH]
    both = [d for d in TU if finished("growth_s2d_fast", d)]
    fast = {d: cell("growth_s2d_fast", d)["cpu_seconds"] / cell("growth_s2d", d)["cpu_seconds"] for d in both}
    accuracy = [100 * (cell("growth_s2d_fast", d)["mean"] - cell("growth_s2d", d)["mean"]) for d in both]
    assert all(within_grid("growth_s2d_fast", d, "growth_s2d") for d in both) and len(both) == 6
    assert_quoted(
        cost,
        f"on MUTAG AWN {hours('awn_gin', 'MUTAG')} CPU-hours, like the fixed 4-point grid, S2D "
        f"{hours('growth_s2d', 'MUTAG')}, Firefly {hours('growth_firefly', 'MUTAG')} (CPU time; its cells before "
        f"2026-12-02, wall time under load, cost {old_firefly:.2f})",
        f"the matrix-free fast S2D {hours('growth_s2d_fast', 'MUTAG')}",
        f"TINY {hours('growth_tiny', 'MUTAG')}",
        f"on PROTEINS the growth cells with global selection cost "
        f"{span([cell(m, 'PROTEINS')['cpu_seconds'] / 3600 for m in proteins_growth], two)} CPU-hours "
        f"against the fixed grid's {hours('gin', 'PROTEINS')} and AWN's "
        f"{span([cell(m, 'PROTEINS')['cpu_seconds'] / 3600 for m in ('awn_fair_gin', 'awn_gin')], two)}"
        f" (the {hours('awn_gin', 'PROTEINS')} ran under load), the fast S2D {hours('growth_s2d_fast', 'PROTEINS')}",
        "(all wall time but Firefly's)",
        f"({span([fast[d] for d in ('IMDB-BINARY', 'IMDB-MULTI')], lambda v: f'{v:.1f}')}× on the IMDB sets, "
        f"{span([fast[d] for d in ('MUTAG', 'PROTEINS', 'ENZYMES')], lambda v: f'{v:.1f}')}× on MUTAG, PROTEINS and "
        f"ENZYMES, {fast['NCI1']:.1f}× on NCI1; wall time of both, for about as many epochs)",
        f"within the folds' spread on all {WORDS[len(both)]} ({plus(min(accuracy))} to {plus(max(accuracy))} points)",
    )
    assert all(wall_time_only(m, d) for m in ("growth_s2d_fast", "growth_s2d") for d in both)
    assert all(0.85 < epoch_ratio("growth_s2d_fast", d, "growth_s2d") < 1.15 for d in both)


LADDER_METHODS = ("awgnn", "s2d", "s2d_fast", "firefly", "tiny", "s2d_per_layer", "firefly_per_layer")


def test_section_11_ladder():
    text = passage(section(11), "On the ladder the methods part ways")
    rho = {m: growth_rho(m) for m in LADDER_METHODS}
    assert rho["awgnn"] is not None and rho["tiny"] is not None
    assert all(rho[m] is None for m in LADDER_METHODS if m not in ("awgnn", "tiny"))
    grown = [ladder_level_accuracy(m, level) for m in ("awgnn", "tiny") for level in range(5)]
    blocks = {m: ladder_blocks(m) for m in LADDER_METHODS}

    def split(method: str) -> str:
        return " / ".join(f"{w:.0f}" for w in blocks[method])

    def total(method: str) -> str:
        return f"{ladder_growth(method)[0]['final_total_width']:.0f}"

    def hard(method: str) -> str:
        return f"{ladder_level_accuracy(method, 3):.1f}% and {ladder_level_accuracy(method, 4):.1f}%"

    fixed = output_json("ladder_fixed_curves.json")["runs"]
    level4 = [
        width_vs_difficulty.mean_accuracy_per_level([r for r in fixed if r["hidden_channels"] == w])[4] for w in (8, 16)
    ]
    gin_layers = [blocks[m][1] for m in ("s2d", "s2d_fast", "firefly")]
    assert_quoted(
        text,
        f"(Spearman's ρ {rho['awgnn']:.2f} for both over {len(ladder_growth('awgnn'))} runs)",
        f"keep {span(grown, whole)}% accuracy at every level",
        f"(AWN {split('awgnn')} neurons in the input block / the GIN layer, TINY {split('tiny')})",
        f"({total('s2d')} and {total('firefly')} neurons, no spread",
        f"({split('s2d')} and {split('firefly')})",
        f"stays at {span(gin_layers, whole)} neurons",
        f"scores {span(level4, whole)}% on level 4 (section 1)",
        f"(S2D {hard('s2d')}, Firefly {hard('firefly')} at levels 3 and 4)",
        f"({total('s2d_fast')} neurons, {split('s2d_fast')}; {ladder_level_accuracy('s2d_fast', 3):.1f}% and "
        f"{ladder_level_accuracy('s2d_fast', 4):.0f}%)",
        f"({split('s2d_per_layer')}, {split('firefly_per_layer')}) and S2D keeps {hard('s2d_per_layer')}, Firefly "
        f"{hard('firefly_per_layer')} at levels 3 and 4",
    )
    assert len({r["final_total_width"] for m in ("s2d", "firefly") for r in ladder_growth(m)}) == 2


def test_goals_growth_baselines():
    measured, met = goals("growth baselines")
    blocks = {m: ladder_blocks(m) for m in ("s2d", "s2d_fast", "firefly")}
    proteins_awn = ("awn_gin", "growth_s2d", "growth_firefly", "growth_tiny", "growth_s2d_per_layer", "growth_s2d_fast")
    fair = {"AWN": "awn_fair_gin", "S2D": FAIR_GROWTH[0], "TINY": FAIR_GROWTH[2], "Firefly": FAIR_GROWTH[1]}
    nci1 = {"S2D": "growth_s2d", "fast S2D": "growth_s2d_fast", "AWN": "awn_gin", "Firefly": "growth_firefly"}
    enzymes = ("awn_gin", *GROWTH_AWN, *PER_LAYER)
    mutag = [
        100 * cell(m, "MUTAG")["mean"]
        for m in ("gin", "awn_gin", "awn_fair_gin", *GROWTH_AWN, *FAIR_GROWTH, *PER_LAYER, "growth_fair_gin_s2d_fast")
    ]
    imdb = [
        abs(cell(m, d)["mean"] - cell("gin", d)["mean"]) for m in AWN_TABLE[1:] for d in ("IMDB-BINARY", "IMDB-MULTI")
    ]
    assert max(imdb) < 0.015
    assert within_published("growth_tiny", "NCI1")

    def accuracy(model: str, dataset: str, digits: int = 1) -> str:
        return pct(cell(model, dataset)["mean"], digits)

    assert_quoted(
        measured,
        f"Spearman's rho AWN {growth_rho('awgnn'):.2f}, TINY {growth_rho('tiny'):.2f}",
        "(" + ", ".join(f"{ladder_growth(m)[0]['final_total_width']:.0f}" for m in blocks) + " at every level: rho "
        "undefined)",
        f"put {span([b[0] for b in blocks.values()], whole)} of it in the input block",
        "(" + ", ".join(f"{ladder_level_accuracy(m, 4):.0f}%" for m in blocks) + " at level 4)",
        f"(S2D {ladder_level_accuracy('s2d_per_layer', 4):.0f}%, "
        f"Firefly {ladder_level_accuracy('firefly_per_layer', 4):.0f}%)",
        f"MUTAG all methods {span(mutag, whole)}%",
        f"PROTEINS on the AWN classifier {span([100 * cell(m, 'PROTEINS')['mean'] for m in proteins_awn])}%",
        f"(fixed grid {accuracy('gin', 'PROTEINS')}%)",
        ", ".join(f"{name} {accuracy(m, 'PROTEINS')}%" for name, m in fair.items())
        + f" at {span([param_ratio(m, 'PROTEINS') for m in fair.values()], two)}× the grid's parameters",
        f"NCI1 TINY {accuracy('growth_tiny', 'NCI1')}% (within 1 std of the published {PUBLISHED['NCI1'][0]:.1f}%), "
        + ", ".join(f"{name} {accuracy(m, 'NCI1')}%" for name, m in nci1.items())
        + f" (grid {accuracy('gin', 'NCI1')}%)",
        f"(AWN {accuracy('awn_fair_gin', 'NCI1', 0)}%",
        f"S2D {accuracy('growth_fair_gin_s2d', 'NCI1', 0)}%)",
        f"every method {span([100 * cell(m, 'ENZYMES')['mean'] for m in enzymes], whole)}% (grid "
        f"{accuracy('gin', 'ENZYMES')}%)",
        f"(S2D {accuracy('growth_s2d_per_layer', 'ENZYMES', 0)}% against {accuracy('growth_s2d', 'ENZYMES', 0)}%, "
        f"Firefly {accuracy('growth_firefly_per_layer', 'ENZYMES', 0)}% against "
        f"{accuracy('growth_firefly', 'ENZYMES', 0)}%)",
        "every method within 1.5 points of the grid",
    )
    assert met.startswith(f"AWN, TINY {yes_no(growth_rho('awgnn') >= 0.8 and growth_rho('tiny') >= 0.8)}")
