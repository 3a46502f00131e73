"""Durability of ``racer run``: a run killed midway resumes to the summary of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from racer_jax._src.pipeline import CONFIG_FILE, TRIALS_FILE, RunConfig, _read_finished_trials
from racer_jax._src.study import METRIC_NAMES
from racer_jax.cli import main

RACER = str(Path(sys.executable).with_name("racer"))
TRIALS = 500
# Small chunks give many separate writes of trials.jsonl, so a kill lands between them.
RUN_ARGS = ["run", "--trials", str(TRIALS), "--chunk-size", "2", "--seed", "3"]
# Keys that legitimately differ between a resumed and an uninterrupted run: the wall time,
# and the training history, which a resumed run does not have because it reloads the router.
VOLATILE_KEYS = {"seconds", "router"}


def complete_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def compile_cache_env(folder: Path) -> dict[str, str]:
    """Environment that shares JAX's persistent compilation cache between the runs of one test.

    Compiling takes most of a short run on CPU; the cache changes no result.
    """
    return {
        **os.environ,
        "JAX_COMPILATION_CACHE_DIR": str(folder),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


def kill_after_first_trials(out: Path, log, env: dict[str, str]) -> int:
    """Start ``racer run``, SIGKILL it once some but not all trials are on disk, return that count."""
    process = subprocess.Popen([RACER, *RUN_ARGS, "--out", str(out)], stdout=log, stderr=log, env=env)
    trials_path = out / TRIALS_FILE
    deadline = time.monotonic() + 240
    try:
        # Poll the file rather than sleep a fixed time: the kill follows the first finished
        # chunk whatever the machine's speed, and the remaining chunks take far longer than
        # one polling interval of 2 ms.
        while complete_lines(trials_path) == 0:
            if process.poll() is not None:
                pytest.fail(f"racer run exited with {process.returncode} before writing any trial")
            if time.monotonic() > deadline:
                pytest.fail("racer run wrote no trial within 240 s")
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    return complete_lines(trials_path)


def comparable(summary: dict) -> dict:
    return {key: value for key, value in summary.items() if key not in VOLATILE_KEYS}


def test_killed_run_resumes_to_same_summary(tmp_path):
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    env = compile_cache_env(tmp_path / "jax-cache")
    uninterrupted = subprocess.run(
        [RACER, *RUN_ARGS, "--out", str(reference)], capture_output=True, text=True, env=env, check=False
    )
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    with open(tmp_path / "killed.log", "w") as log:
        written = kill_after_first_trials(killed, log, env)
    assert 0 < written < TRIALS, f"the kill should land midway; {written} of {TRIALS} trials were written"
    assert not (killed / "summary.json").exists()

    # Simulate a kill in the middle of a write as well: a last line without its newline.
    with open(killed / TRIALS_FILE, "a") as handle:
        handle.write(f'{{"trial": {written}, "risk": 0.0')

    resumed = subprocess.run(
        [RACER, *RUN_ARGS, "--out", str(killed), "--resume"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr

    got = json.loads((killed / "summary.json").read_text())
    want = json.loads((reference / "summary.json").read_text())
    assert len(got["per_trial"]["risk"]) == TRIALS
    assert got["per_trial"] == want["per_trial"]
    assert comparable(got) == comparable(want)
    lines = (killed / TRIALS_FILE).read_text().splitlines()
    assert [json.loads(line)["trial"] for line in lines] == list(range(TRIALS))
    assert (killed / TRIALS_FILE).read_bytes() == (reference / TRIALS_FILE).read_bytes()


def write_run_folder(folder: Path, config: RunConfig, lines: list[str]) -> tuple[Path, dict]:
    record = __import__("dataclasses").asdict(config)
    folder.mkdir()
    (folder / CONFIG_FILE).write_text(json.dumps(record))
    (folder / TRIALS_FILE).write_text("".join(lines))
    return folder / TRIALS_FILE, record


def trial_line(t: int) -> str:
    return json.dumps({"trial": t, **{name: 0.5 for name in METRIC_NAMES}}) + "\n"


def test_finished_trials_skip_cut_line(tmp_path):
    lines = [trial_line(0), trial_line(1), trial_line(2)[:20]]
    path, record = write_run_folder(tmp_path / "run", RunConfig(trials=5), lines)
    rows, length = _read_finished_trials(str(path), record)
    assert [row["trial"] for row in rows] == [0, 1]
    assert length == len(lines[0]) + len(lines[1])


@pytest.mark.parametrize(
    "lines, message",
    [
        ([trial_line(0), "not json\n"], "line 2 is not a JSON trial record"),
        ([trial_line(0), '{"trial": 1}\n'], "line 2 lacks"),
        ([trial_line(1)], "does not list trials 0, 1, 2"),
        ([trial_line(t) for t in range(6)], "contains 6 trials but the run requests 5"),
    ],
)
def test_finished_trials_reject_damage(tmp_path, lines, message):
    path, record = write_run_folder(tmp_path / "run", RunConfig(trials=5), lines)
    with pytest.raises(ValueError, match=message):
        _read_finished_trials(str(path), record)


def test_resume_rejects_changed_settings(tmp_path):
    write_run_folder(tmp_path / "run", RunConfig(trials=5), [trial_line(0)])
    result = CliRunner().invoke(
        main, ["run", "--trials", "5", "--alpha", "0.2", "--out", str(tmp_path / "run"), "--resume"]
    )
    assert result.exit_code == 1
    assert "settings differ from the interrupted run (alpha: 0.1 -> 0.2)" in result.output
    assert "Traceback" not in result.output


def test_resume_rejects_damaged_config(tmp_path):
    folder = tmp_path / "run"
    write_run_folder(folder, RunConfig(trials=5), [trial_line(0)])
    (folder / CONFIG_FILE).write_text('{"alpha": 0.1, "tri')
    result = CliRunner().invoke(main, ["run", "--trials", "5", "--out", str(folder), "--resume"])
    assert result.exit_code == 1
    assert "config.json is damaged" in result.output


def test_resume_without_folder_fails(tmp_path):
    result = CliRunner().invoke(main, ["run", "--out", str(tmp_path / "absent"), "--resume"])
    assert result.exit_code == 1
    assert "config.json is missing; start a new run without --resume" in result.output
    assert not os.path.exists(tmp_path / "absent" / TRIALS_FILE)


def test_new_run_clears_stale_results(tmp_path):
    """A new run in a used folder removes the old router, trials and summary before it saves its settings."""
    folder = tmp_path / "run"
    write_run_folder(folder, RunConfig(trials=5, alpha=0.3), [trial_line(0)])
    (folder / "router.eqx").write_bytes(b"an older run's router")
    (folder / "summary.json").write_text("{}")
    for name in ("train", "eval"):
        records = [{"question": f"{name} {i}", "scores": {"m1": 1.0, "m2": 0.0}} for i in range(20)]
        (tmp_path / f"{name}.json").write_text(json.dumps(records))
        np.save(tmp_path / f"{name}.npy", np.ones((20, 3), dtype=np.float32))
    args = ["run", "--out", str(folder), "--trials", "5"]
    for name in ("train", "eval"):
        args += [
            f"--{name}",
            str(tmp_path / f"{name}.json"),
            f"--{name}-features",
            str(tmp_path / f"{name}.npy"),
        ]
    result = CliRunner().invoke(main, args)
    # Twenty evaluation queries are too few to calibrate, so the run stops after the setup.
    assert result.exit_code == 1
    assert "calibration is infeasible" in result.output
    assert not (folder / "router.eqx").exists()
    assert not (folder / "summary.json").exists()
    assert (folder / TRIALS_FILE).read_text() == ""
    assert json.loads((folder / CONFIG_FILE).read_text())["alpha"] == 0.1
