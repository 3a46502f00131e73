"""The ``racer`` command line."""

from __future__ import annotations

import sys
import warnings

import click

from ._src import bounds
from ._src.commands_report import report
from ._src.commands_train import train
from ._src.pipeline import SUMMARY_FILE, RunConfig
from ._src.pipeline import run as run_job
from ._src.scoring import NONCONFORMITY_OPTIONS, NULL_SCORE_OPTIONS


def _show_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"warning: {message}", err=True)


@click.group()
@click.version_option(package_name="racer-jax")
def main() -> None:
    """Risk-controlled LLM routing: calibrated model sets with a finite-sample guarantee."""
    warnings.showwarning = _show_warning


_existing = click.Path(exists=True, dir_okay=False)


@main.command()
@click.option("--train", type=_existing, help="Training data: a RouterDC .json or RouterBench .csv file.")
@click.option("--train-features", type=_existing, help="Query features of --train, a .npy array with one row per query.")
@click.option("--eval", "eval_", type=_existing, help="Evaluation data, split into calibration and test sets per trial.")
@click.option("--eval-features", type=_existing, help="Query features of --eval, a .npy array with one row per query.")
@click.option("--alpha", type=float, default=0.1, show_default=True, help="Target misrouting risk, in (0, 1).")
@click.option("--delta", type=float, default=0.1, show_default=True, help="Allowed probability that the risk exceeds alpha, in (0, 1).")
@click.option("--trials", type=click.IntRange(min=1), default=100, show_default=True, help="Random calibration/test splits.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the router training and of the splits.")
@click.option("--out", type=click.Path(file_okay=False), default="runs/latest", show_default=True, help="Output folder.")
@click.option("--score", type=click.Choice(NONCONFORMITY_OPTIONS), default="gap", show_default=True, help="Nonconformity score.")
@click.option("--bound", type=click.Choice(bounds.BOUND_RULES), default="hb", show_default=True, help="Calibration rule.")
@click.option("--null", type=click.Choice(NULL_SCORE_OPTIONS), default="learned", show_default=True, help="Null-model (abstain) score.")
@click.option("--cal-fraction", type=float, default=0.5, show_default=True, help="Share of the evaluation queries used for calibration in each trial.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=256, show_default=True, help="Trials per compiled batch; bounds memory.")
@click.option("--missing", type=click.Choice(["error", "drop", "wrong"]), default="drop", show_default=True, help="Queries with missing correctness cells: raise, drop them, or count the cells as wrong.")
@click.option("--duplicates", type=click.Choice(["keep", "drop"]), default="keep", show_default=True, help="Repeated query texts within a file: keep (with a warning) or drop.")
@click.option("--split-rows", type=click.Choice(["merge", "error"]), default="merge", show_default=True, help="One query spread over several rows that each score only some models: merge them (with a warning) or stop with their ids.")
@click.option("--drop-overlap", is_flag=True, help="Remove evaluation queries that also appear in the training file.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out with the same options.")
@click.option("--router", default="mlp", show_default=True, help="Router: a type to train (mlp, racer, knn, linear, softmax, prior) or the path of a file saved by `racer train`.")
def run(train, train_features, eval_, eval_features, out, resume, **options) -> None:
    """Train a router, then calibrate and test RACER sets over random splits."""
    from tqdm import tqdm

    config = RunConfig(train=train, train_features=train_features, eval=eval_, eval_features=eval_features, **options)
    try:
        with tqdm(total=config.trials, desc="trials", unit="trial", file=sys.stderr, disable=None) as bar:
            summary = run_job(config, out, resume=resume, progress=bar.update, log=lambda m: click.echo(m, err=True))
    except (ValueError, OSError) as err:
        # A failed equinox.error_if under vmap arrives as a ValueError around the callback's traceback.
        raise click.ClickException(runtime_error_message(err)) from None
    except RuntimeError as err:
        if not is_jax_runtime_error(err):
            raise
        raise click.ClickException(f"a check inside a compiled JAX program failed: {runtime_error_message(err)}") from None
    except KeyboardInterrupt:
        raise click.ClickException(
            f"interrupted; the finished trials are saved in {out}/trials.jsonl. Rerun the same "
            "command with --resume to continue"
        ) from None
    click.echo(format_summary(summary))
    click.echo(f"wrote {out}/{SUMMARY_FILE}")


def is_jax_runtime_error(err: RuntimeError) -> bool:
    """Report whether a running JAX program raised ``err`` (an ``equinox.error_if`` or an XLA failure)."""
    import equinox as eqx
    import jax

    return isinstance(err, (jax.errors.JaxRuntimeError, eqx.EquinoxRuntimeError))


def runtime_error_message(err: Exception) -> str:
    """Extract the ``equinox.error_if`` message from ``err``, or return the whole message if it has none."""
    text = str(err)
    for line in text.splitlines():
        if "EquinoxRuntimeError: " in line:
            return line.split("EquinoxRuntimeError: ", 1)[1].strip()
    return text.strip() or type(err).__name__


def format_summary(summary: dict) -> str:
    """Format a run's summary as a few human-readable lines."""
    c, s, d = summary["config"], summary["summary"], summary["data"]
    source = "synthetic data" if c["train"] is None else c["eval"]
    lines = [
        f"RACER on {source}: {d['calibration_queries']} calibration / {d['test_queries']} test queries, "
        f"{len(d['models'])} models, {len(summary['per_trial']['risk'])} trials",
        f"  alpha={c['alpha']} delta={c['delta']} score={c['score']} bound={c['bound']} null={c['null']}",
        f"  test risk        {s['risk']:.4f} (std {s['risk_std']:.4f}); trials above alpha: {s['violation_rate']:.1%}",
        f"  mean set size    {s['set_size']:.3f} of {len(d['models'])} (calls saved {s['calls_saved']:.1%})",
        f"  abstention rate  {s['abstention_rate']:.4f}   singleton rate {s['singleton_rate']:.4f}",
        f"  lambda-hat       {s['lambda_hat']:.4f}",
    ]
    return "\n".join(lines)


main.add_command(report)
main.add_command(train)


if __name__ == "__main__":
    main()
