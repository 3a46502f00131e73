"""``racer report``: figures and a Markdown table from the ``summary.json`` of one or more runs.

Outputs, written to ``--out``:

- ``risk_set_size.png``: per evaluation dataset, box plots over trials of the test risk
  (with the target ``alpha`` as a dashed line) and of the set size. Each box is one
  run, labelled by router, nonconformity score and null score, and by any other
  setting that differs between the runs.
- ``calls_vs_accuracy.png``: one point per trial, model calls saved against the accuracy
  change relative to the full ensemble of all ``K`` models. Runs with parsed answers show
  the majority vote's accuracy gain; runs with correctness only show the change in oracle
  accuracy (some called model is correct), in a separate panel, because no vote can be
  formed without the wrong answers.
- ``report.md``: the per-run numbers behind both figures.

Figures are drawn on :class:`matplotlib.figure.Figure` objects and saved with the Agg
renderer, so no pyplot backend or global matplotlib state is touched.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click
import matplotlib
import numpy as np
from matplotlib.figure import Figure

SUMMARY_FILE = "summary.json"
FIGURE_RISK = "risk_set_size.png"
FIGURE_TRADEOFF = "calls_vs_accuracy.png"
TABLE_FILE = "report.md"
_LABEL_SETTINGS = ("null", "bound", "alpha", "delta", "cal_fraction")


def load_summary(run_dir: str) -> dict[str, Any]:
    """Read and check ``run_dir/summary.json``; raise ``click.ClickException`` naming the problem."""
    path = os.path.join(run_dir, SUMMARY_FILE)
    if not os.path.exists(path):
        raise click.ClickException(f"{path} not found; pass the output folder of a finished 'racer run'")
    try:
        with open(path) as handle:
            summary = json.load(handle)
    except json.JSONDecodeError as err:
        raise click.ClickException(f"{path}: malformed JSON at line {err.lineno}: {err.msg}") from None
    for field in ("config", "data", "per_trial", "summary"):
        if field not in summary:
            raise click.ClickException(f"{path}: missing field {field!r}; is it a 'racer run' summary?")
    for metric in ("risk", "set_size"):
        if not summary["per_trial"].get(metric):
            raise click.ClickException(f"{path}: no per-trial {metric!r} values")
    summary["run_dir"] = run_dir
    return summary


def dataset_name(summary: dict[str, Any]) -> str:
    """Return ``folder/stem`` of the evaluation file (``routerdc/mmlu_test``), or ``synthetic``.

    The folder is kept because collections share file names (``arc_challenge_test``)
    while scoring different models.
    """
    evaluation = summary["config"].get("eval")
    if evaluation is None:
        return "synthetic"
    folder = os.path.basename(os.path.dirname(os.path.abspath(evaluation)))
    stem = os.path.splitext(os.path.basename(evaluation))[0]
    return f"{folder}/{stem}" if folder else stem


def router_name(summary: dict[str, Any]) -> str:
    return str((summary.get("router") or {}).get("type", "router"))


def run_labels(runs: list[dict[str, Any]]) -> list[str]:
    """Build box labels: router, score and null score, plus every other setting that differs among ``runs``."""
    varying = [
        name for name in _LABEL_SETTINGS if len({repr(r["config"].get(name)) for r in runs}) > 1
    ]
    labels = []
    for run in runs:
        parts = [router_name(run), run["config"]["score"]]
        parts += [f"{name}={run['config'].get(name)}" for name in varying]
        if "null" not in varying:
            parts.append(f"null={run['config'].get('null')}")
        labels.append("\n".join(parts))
    return labels


def _values(run: dict[str, Any], metric: str) -> np.ndarray:
    values = run["per_trial"].get(metric) or []
    return np.array([v for v in values if v is not None], dtype=float)


def _group_by_dataset(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(dataset_name(run), []).append(run)
    return groups


def plot_risk_and_set_size(runs: list[dict[str, Any]], path: str) -> None:
    """Draw the risk and set-size box plots (one column per dataset) into ``path``."""
    groups = _group_by_dataset(runs)
    columns = len(groups)
    width = max(4.5, 1.0 + 1.4 * max(len(g) for g in groups.values()))
    fig = Figure(figsize=(width * columns, 7.5))
    axes = fig.subplots(2, columns, squeeze=False)
    for column, (name, group) in enumerate(groups.items()):
        labels = run_labels(group)
        positions = np.arange(1, len(group) + 1)
        risk_axis, size_axis = axes[0, column], axes[1, column]
        risk_axis.boxplot([_values(r, "risk") for r in group], positions=positions, widths=0.6)
        for position, run in zip(positions, group):
            alpha = run["config"]["alpha"]
            risk_axis.hlines(alpha, position - 0.45, position + 0.45, colors="tab:red", linestyles="--")
        risk_axis.plot([], [], color="tab:red", linestyle="--", label="target risk α")
        risk_axis.legend(loc="best", fontsize="small")
        risk_axis.set_title(name)
        risk_axis.set_ylabel("test misrouting risk per trial")
        highest = max([r["config"]["alpha"] for r in group] + [_values(r, "risk").max() for r in group])
        risk_axis.set_ylim(0, 1.15 * highest)

        size_axis.boxplot([_values(r, "set_size") for r in group], positions=positions, widths=0.6)
        num_models = max(len(r["data"]["models"]) for r in group)
        size_axis.axhline(num_models, color="gray", linestyle=":", label=f"all {num_models} models")
        size_axis.legend(loc="best", fontsize="small")
        size_axis.set_ylabel("mean set size per trial (LLM calls)")
        size_axis.set_ylim(0, num_models + 0.5)
        for axis in (risk_axis, size_axis):
            axis.set_xticks(positions, labels, fontsize="small")
            axis.grid(axis="y", alpha=0.3)
    trials = sorted({len(r["per_trial"]["risk"]) for r in runs})
    fig.suptitle(f"RACER over {'/'.join(map(str, trials))} random calibration/test splits")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _tradeoff_kind(run: dict[str, Any]) -> str | None:
    if run["per_trial"].get("majority_gain_vs_ensemble"):
        return "answers"
    if run["per_trial"].get("oracle_gain_vs_ensemble"):
        return "correctness"
    return None


_TRADEOFF_AXES = {
    "answers": ("majority_gain_vs_ensemble", "accuracy gain vs. full ensemble (points)\nmajority vote over set − vote of all K"),
    "correctness": ("oracle_gain_vs_ensemble", "oracle accuracy change (points)\nsome member correct: set − all K"),
}


def plot_calls_vs_accuracy(runs: list[dict[str, Any]], path: str) -> list[str]:
    """Draw calls saved against accuracy change into ``path``; return the runs left out (no metrics)."""
    kinds = {kind: [r for r in runs if _tradeoff_kind(r) == kind] for kind in _TRADEOFF_AXES}
    kinds = {kind: group for kind, group in kinds.items() if group}
    skipped = [r["run_dir"] for r in runs if _tradeoff_kind(r) is None]

    panels = max(1, len(kinds))
    fig = Figure(figsize=(14, 5 * panels))
    axes = fig.subplots(panels, 1, squeeze=False)
    # Leave the right half for the legends; saving with a tight bounding box trims what is unused.
    fig.subplots_adjust(left=0.08, right=0.5, hspace=0.35)
    if not kinds:
        axes[0, 0].text(0.5, 0.5, "no run has answer metrics", ha="center", va="center")
        axes[0, 0].set_axis_off()

    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    datasets = sorted({dataset_name(r) for r in runs})
    # One marker per setting label (router, score, null, ...), one colour per dataset.
    settings = sorted(set(run_labels(runs)))
    markers = ["o", "^", "s", "D", "v", "P", "X", "*"]
    labels = dict(zip(map(id, runs), run_labels(runs)))
    for axis, (kind, group) in zip(axes[:, 0], kinds.items()):
        metric, ylabel = _TRADEOFF_AXES[kind]
        for run in group:
            color = colors[datasets.index(dataset_name(run)) % len(colors)]
            setting = labels[id(run)]
            marker = markers[settings.index(setting) % len(markers)]
            saved = np.array(run["per_trial"]["calls_saved"], dtype=float) * 100
            gain = np.array([np.nan if v is None else v for v in run["per_trial"][metric]], dtype=float) * 100
            label = f"{dataset_name(run)}: {setting.replace(chr(10), ', ')}"
            axis.scatter(saved, gain, s=12, alpha=0.35, color=color, marker=marker)
            axis.scatter(np.nanmean(saved), np.nanmean(gain), s=90, color=color, marker=marker,
                         edgecolors="black", label=label)

        axis.axhline(0.0, color="gray", linewidth=0.8)
        axis.set_xlabel("model calls saved vs. calling all K models (%)")
        axis.set_ylabel(ylabel)
        title = "majority vote over the set" if kind == "answers" else "correctness only: oracle accuracy"
        axis.set_title(f"{title}\n(small: one trial; large: mean over trials)", fontsize="medium")
        axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
        axis.grid(alpha=0.3)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return skipped


def _fmt(value: Any, percent: bool = False, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f}%" if percent else f"{value:.{digits}f}"


def format_table(runs: list[dict[str, Any]]) -> str:
    """Format Markdown tables of the risk study and, where measured, of vote accuracy and cost."""
    lines = [
        "## Risk and set size",
        "",
        (
            "| run | data | router | score | null | bound | α | trials | risk (mean ± std) | trials with risk > α "
            "| set size | calls saved | abstention |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        c, s = run["config"], run["summary"]
        lines.append(
            f"| {os.path.basename(os.path.normpath(run['run_dir']))} | {dataset_name(run)} | {router_name(run)} "
            f"| {c['score']} | {c.get('null')} | {c.get('bound')} | {c['alpha']} | {len(run['per_trial']['risk'])} "
            f"| {s['risk']:.4f} ± {s.get('risk_std', float('nan')):.4f} | {_fmt(s.get('violation_rate'), True)} "
            f"| {s['set_size']:.2f} of {len(run['data']['models'])} | {_fmt(s.get('calls_saved'), True)} "
            f"| {_fmt(s.get('abstention_rate'), True)} |"
        )
    voting = [r for r in runs if _tradeoff_kind(r) == "answers"]
    if voting:
        lines += [
            "",
            "## Answers (parsed responses; accuracy over all test queries, abstentions count as wrong)",
            "",
            (
                "| run | data | score | majority | weighted | selective (majority) | coverage | full ensemble | top-1 "
                "| best single | gain vs ensemble (majority / weighted) | gain vs top-1 (majority / weighted) |"
            ),
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for run in voting:
            s = run["summary"]
            lines.append(
                f"| {os.path.basename(os.path.normpath(run['run_dir']))} | {dataset_name(run)} | {run['config']['score']} "
                f"| {_fmt(s.get('majority_accuracy'), True)} | {_fmt(s.get('weighted_accuracy'), True)} "
                f"| {_fmt(s.get('majority_selective_accuracy'), True)} | {_fmt(s.get('coverage'), True)} "
                f"| {_fmt(s.get('ensemble_accuracy'), True)} | {_fmt(s.get('top1_accuracy'), True)} "
                f"| {_fmt(s.get('best_single_accuracy'), True)} "
                f"| {_points(s.get('majority_gain_vs_ensemble'))} / {_points(s.get('weighted_gain_vs_ensemble'))} "
                f"| {_points(s.get('majority_gain_vs_top1'))} / {_points(s.get('weighted_gain_vs_top1'))} |"
            )
    oracle = [r for r in runs if _tradeoff_kind(r) == "correctness"]
    if oracle:
        lines += [
            "",
            "## Correctness only (no answers stored, so no vote accuracy)",
            "",
            (
                "| run | data | score | oracle accuracy (some member correct) | top-router-score member accuracy "
                "| top-1 routing | best single | all-K oracle accuracy | coverage |"
            ),
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for run in oracle:
            s = run["summary"]
            ensemble_oracle = None
            if s.get("oracle_accuracy") is not None and s.get("oracle_gain_vs_ensemble") is not None:
                ensemble_oracle = s["oracle_accuracy"] - s["oracle_gain_vs_ensemble"]
            lines.append(
                f"| {os.path.basename(os.path.normpath(run['run_dir']))} | {dataset_name(run)} | {run['config']['score']} "
                f"| {_fmt(s.get('oracle_accuracy'), True)} | {_fmt(s.get('top_member_accuracy'), True)} "
                f"| {_fmt(s.get('top1_accuracy'), True)} | {_fmt(s.get('best_single_accuracy'), True)} "
                f"| {_fmt(ensemble_oracle, True)} | {_fmt(s.get('coverage'), True)} |"
            )
    costed = [r for r in runs if r["summary"].get("cost") is not None]
    if costed:
        lines += [
            "",
            "## Cost (US dollars per test query)",
            "",
            (
                "| run | data | score | RACER set | full ensemble | top-1 | best single | saved vs ensemble "
                "| ratio vs top-1 | ratio vs best single |"
            ),
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for run in costed:
            s = run["summary"]
            lines.append(
                f"| {os.path.basename(os.path.normpath(run['run_dir']))} | {dataset_name(run)} | {run['config']['score']} "
                f"| {s['cost']:.6f} | {s['ensemble_cost']:.6f} | {s['top1_cost']:.6f} | {s['best_single_cost']:.6f} "
                f"| {_fmt(s.get('cost_saved_vs_ensemble'), True)} | {_fmt(s.get('cost_ratio_vs_top1'), digits=2)} "
                f"| {_fmt(s.get('cost_ratio_vs_best_single'), digits=2)} |"
            )
    return "\n".join(lines) + "\n"


def _points(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:+.2f}"


def write_report(run_dirs: list[str], out: str) -> dict[str, str]:
    """Write both figures and the table for ``run_dirs`` into ``out``; return their paths by kind."""
    runs = [load_summary(d) for d in run_dirs]
    os.makedirs(out, exist_ok=True)
    paths = {
        "risk": os.path.join(out, FIGURE_RISK),
        "tradeoff": os.path.join(out, FIGURE_TRADEOFF),
        "table": os.path.join(out, TABLE_FILE),
    }
    plot_risk_and_set_size(runs, paths["risk"])
    skipped = plot_calls_vs_accuracy(runs, paths["tradeoff"])
    with open(paths["table"], "w") as handle:
        handle.write("# RACER report\n\n")
        if skipped:
            handle.write(f"Runs without answer metrics, left out of {FIGURE_TRADEOFF}: {', '.join(skipped)}\n\n")
        handle.write(format_table(runs))
    return paths


@click.command("report")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder for the figures and report.md.")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
def report(out: str, run_dirs: tuple[str, ...]) -> None:
    """Plot risk, set size and calls saved against accuracy for one or more RUN_DIRS of 'racer run'."""
    paths = write_report(list(run_dirs), out)
    for path in paths.values():
        click.echo(f"wrote {path}")
