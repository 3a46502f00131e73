"""Execute the jupytext notebooks at a small size, in a fresh kernel, as a user would."""

from pathlib import Path

import pytest

from tests.conftest import require_shared_data

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str) -> list[str]:
    """Run ``notebooks/<name>.py`` with the ``python3`` kernel and return its printed output."""
    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    return [
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    ]


def test_quickstart_runs(monkeypatch):
    monkeypatch.setenv("RACER_NOTEBOOK_QUERIES", "400")
    monkeypatch.setenv("RACER_NOTEBOOK_TRIALS", "3")
    monkeypatch.setenv("RACER_NOTEBOOK_EPOCHS", "10")
    text = "".join(execute("quickstart"))
    assert "200 training and 400 evaluation queries, 7 models" in text
    assert "3 trials: mean test risk" in text
    assert "majority vote over the set" in text


@pytest.mark.slow  # trains two routers on the real data: about 20 s alone, 40 s on a busy machine
def test_reproduction_runs(monkeypatch, tmp_path):
    data = require_shared_data()
    monkeypatch.setenv("RACER_DATA", str(data))
    monkeypatch.setenv("RACER_NOTEBOOK_TRIALS", "2")
    monkeypatch.setenv("RACER_NOTEBOOK_DATASETS", "arc_challenge")
    monkeypatch.setenv("RACER_NOTEBOOK_NULLS", "always")
    monkeypatch.setenv("RACER_NOTEBOOK_SCORES", "gap")
    monkeypatch.setenv("RACER_NOTEBOOK_OUT", str(tmp_path))
    text = "".join(execute("reproduction"))
    assert (tmp_path / "report-routerdc" / "risk_set_size.png").exists()
    assert (tmp_path / "report-routerdc" / "report.md").exists()
    assert "majority_accuracy" in text
    assert '"mode": "answers"' in text
