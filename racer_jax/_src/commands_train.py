"""``racer train``: train a named router type on labelled data and save it for ``racer run --router PATH``."""

from __future__ import annotations

import click
import jax

from .data import load_dataset
from .routers.registry import ROUTER_NAMES, fit_router
from .routers.serialization import save_router
from .scoring import NONCONFORMITY_OPTIONS, NULL_SCORE_OPTIONS

_existing = click.Path(exists=True, dir_okay=False)


@click.command()
@click.option("--train", "train_path", required=True, type=_existing, help="Training data: a RouterDC .json or RouterBench .csv file.")
@click.option("--train-features", required=True, type=_existing, help="Query features of --train, a .npy array with one row per query.")
@click.option("--router", "router_name", type=click.Choice(ROUTER_NAMES), default="mlp", show_default=True, help="Router type to train.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Router file to write (JSON header plus Equinox leaves).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the training; `racer run --seed` with the same value trains the same router.")
@click.option("--alpha", type=float, default=0.1, show_default=True, help="Target risk the 'racer' router is trained for.")
@click.option("--score", type=click.Choice(NONCONFORMITY_OPTIONS), default="gap", show_default=True, help="Nonconformity score the 'racer' router is trained for.")
@click.option("--null", type=click.Choice(NULL_SCORE_OPTIONS), default="learned", show_default=True, help="Null-model score the 'racer' router is trained for.")
@click.option("--missing", type=click.Choice(["error", "drop", "wrong"]), default="drop", show_default=True, help="Queries with missing correctness cells: raise, drop them, or count the cells as wrong.")
@click.option("--duplicates", type=click.Choice(["keep", "drop"]), default="keep", show_default=True, help="Repeated query texts within a file: keep (with a warning) or drop.")
def train(train_path, train_features, router_name, out, seed, alpha, score, null, missing, duplicates) -> None:
    """Train a router and save it with its model names and feature dimension."""
    try:
        data = load_dataset(train_path, features=train_features, missing=missing, duplicates=duplicates)
        # The same key split as `racer run`, so a saved router equals the one a run with this seed trains.
        router_key, _ = jax.random.split(jax.random.key(seed))
        router, record = fit_router(
            router_name, data.features, data.correct, key=router_key, graded=data.scores,
            alpha=alpha, score=score, null=null,
        )
        record["source"] = "trained"
        record["train"] = train_path
        save_router(out, router, data.model_names, name=router_name, training=record)
    except (ValueError, OSError) as err:
        raise click.ClickException(str(err)) from None
    epochs = f", {record['epochs']} epochs" if "epochs" in record else ""
    click.echo(
        f"trained {router_name} router on {data.num_queries} queries, {data.num_models} models, "
        f"{data.features.shape[1]} features{epochs}"
    )
    click.echo(f"wrote {out}")
