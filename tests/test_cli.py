"""``racer run`` end to end at a small number of trials."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from racer_jax.cli import main
from tests.conftest import require_shared_data


def run_cli(*args):
    result = CliRunner().invoke(main, ["run", *args])
    return result


def test_run_on_synthetic_writes_summary(tmp_path):
    result = run_cli("--trials", "12", "--chunk-size", "5", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["trials"] == 12
    assert summary["config"]["bound"] == "hb"
    per_trial = summary["per_trial"]
    for name in ("risk", "set_size", "abstention_rate", "lambda_hat"):
        assert len(per_trial[name]) == 12
    risks = np.asarray(per_trial["risk"])
    assert summary["summary"]["violation_rate"] == pytest.approx(np.mean(risks > 0.1))
    assert summary["summary"]["risk"] == pytest.approx(np.mean(risks))
    assert 0 < summary["summary"]["set_size"] <= 7
    lines = (tmp_path / "trials.jsonl").read_text().splitlines()
    assert [json.loads(line)["trial"] for line in lines] == list(range(12))
    assert "test risk" in result.output


def test_run_on_real_data_controls_risk(tmp_path):
    root = require_shared_data()
    result = run_cli(
        "--train", str(root / "routerdc" / "gsm8k-train.json"),
        "--train-features", str(root / "embeddings" / "routerdc" / "gsm8k-train.npy"),
        "--eval", str(root / "routerdc" / "gsm8k-test.json"),
        "--eval-features", str(root / "embeddings" / "routerdc" / "gsm8k-test.npy"),
        "--trials", "20", "--out", str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())["summary"]
    # The mean of 20 test risks (n_test = 660) has a standard error near 0.003, so a mean
    # above alpha = 0.1 would mean the bound failed, not noise.
    assert summary["risk"] < 0.1
    assert summary["set_size"] < 7


def test_run_needs_all_real_data_options(tmp_path):
    root = require_shared_data()
    result = run_cli("--train", str(root / "routerdc" / "gsm8k-train.json"), "--out", str(tmp_path))
    assert result.exit_code != 0
    assert "needs all four" in result.output
    assert "Traceback" not in result.output


def test_run_rejects_alpha_outside_unit_interval(tmp_path):
    result = run_cli("--alpha", "1.5", "--out", str(tmp_path))
    assert result.exit_code != 0
    assert "alpha must lie in" in result.output
    assert "got 1.5" in result.output


def test_interrupted_run_points_to_resume(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("racer_jax.cli.run_job", interrupted)
    result = run_cli("--trials", "5", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "interrupted" in result.output
    assert "--resume" in result.output


# The CLI prints warnings to stderr, as a user sees them, instead of raising them.
@pytest.mark.filterwarnings("always")
def test_saved_router_null_mismatch_warns(tmp_path):
    root = require_shared_data()
    # Only the RACER-trained router depends on the null score, so only its file records one.
    train = ["--train", str(root / "routerdc" / "arc_challenge_train.json"),
             "--train-features", str(root / "embeddings" / "routerdc" / "arc_challenge_train.npy")]
    router_path = tmp_path / "racer.eqx"
    trained = CliRunner().invoke(main, ["train", *train, "--router", "racer", "--null", "always", "--out", str(router_path)])
    assert trained.exit_code == 0, trained.output
    result = run_cli(
        *train,
        "--eval", str(root / "routerdc" / "arc_challenge_test.json"),
        "--eval-features", str(root / "embeddings" / "routerdc" / "arc_challenge_test.npy"),
        "--router", str(router_path), "--null", "one-minus-max", "--trials", "3", "--out", str(tmp_path / "run"),
    )
    assert result.exit_code == 0, result.output
    assert "was trained for null score 'always' but this run uses 'one-minus-max'" in result.output
