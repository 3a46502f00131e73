import json

import numpy as np
import pytest
from click.testing import CliRunner

from racer_jax._src.pipeline import RunConfig, run
from racer_jax.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    config = RunConfig(trials=4, score="gap", null="one-minus-max", synthetic_train=300, synthetic_eval=400, chunk_size=4)
    run(config, str(base / "gap"))
    # The second run differs only in its recorded score, so the report draws two boxes.
    # Copying the summary avoids training a second router in the test.
    summary = json.loads((base / "gap" / "summary.json").read_text())
    summary["config"]["score"] = "inverse"
    (base / "inverse").mkdir()
    (base / "inverse" / "summary.json").write_text(json.dumps(summary))
    return [base / "gap", base / "inverse"]


def test_run_summary_has_answer_metrics(tiny_runs):
    summary = json.loads((tiny_runs[0] / "summary.json").read_text())
    # Synthetic data carries correctness only, so only oracle-style accuracies are measured.
    assert summary["answers"]["mode"] == "correctness"
    assert "majority_accuracy" not in summary["summary"]
    for name in ("oracle_accuracy", "top_member_accuracy", "top1_accuracy", "coverage", "oracle_gain_vs_ensemble"):
        assert len(summary["per_trial"][name]) == 4, name
        assert summary["summary"][name] == pytest.approx(np.mean(summary["per_trial"][name])), name
    # The answer metrics' split and threshold reproduce the study's own set sizes.
    np.testing.assert_allclose(
        summary["per_trial"]["coverage"], 1 - np.asarray(summary["per_trial"]["abstention_rate"]), atol=1e-6
    )


def test_report_writes_figures_and_table(tiny_runs, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["report", "--out", str(out), *map(str, tiny_runs)])
    assert result.exit_code == 0, result.output
    for name in ("risk_set_size.png", "calls_vs_accuracy.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE), name
        assert len(data) > 10_000, name  # a drawn figure, not an empty canvas
    table = (out / "report.md").read_text()
    assert "| gap | one-minus-max | hb | 0.1 | 4 |" in table
    assert "| inverse | one-minus-max | hb | 0.1 | 4 |" in table
    assert "oracle accuracy (some member correct)" in table
    assert "majority |" not in table  # no vote accuracy without answers


def test_report_rejects_folder_without_summary(tmp_path):
    result = CliRunner().invoke(main, ["report", "--out", str(tmp_path / "r"), str(tmp_path)])
    assert result.exit_code != 0
    assert "summary.json not found" in result.output


def test_report_tables_vote_accuracy_and_cost(tiny_runs, tmp_path):
    # Give the synthetic run the fields a run with parsed answers and costs stores.
    summary = json.loads((tiny_runs[0] / "summary.json").read_text())
    trials = len(summary["per_trial"]["risk"])
    voted = {
        "majority_accuracy": 0.9, "weighted_accuracy": 0.8, "majority_selective_accuracy": 0.95,
        "ensemble_accuracy": 0.85, "majority_gain_vs_ensemble": 0.05, "weighted_gain_vs_ensemble": -0.05,
        "majority_gain_vs_top1": 0.01, "weighted_gain_vs_top1": -0.02, "cost": 0.002, "ensemble_cost": 0.008,
        "top1_cost": 0.001, "best_single_cost": 0.004, "cost_saved_vs_ensemble": 0.75, "cost_ratio_vs_top1": 2.0,
        "cost_ratio_vs_best_single": 0.5,
    }
    for name, value in voted.items():
        summary["summary"][name] = value
        summary["per_trial"][name] = [value] * trials
    folder = tmp_path / "voted"
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(summary))

    result = CliRunner().invoke(main, ["report", "--out", str(tmp_path / "report"), str(folder)])
    assert result.exit_code == 0, result.output
    table = (tmp_path / "report" / "report.md").read_text()
    assert "| voted | synthetic | gap | 90.0% | 80.0% | 95.0% |" in table
    assert "+5.00 / -5.00 | +1.00 / -2.00 |" in table
    assert "| 0.002000 | 0.008000 | 0.001000 | 0.004000 | 75.0% | 2.00 | 0.50 |" in table
