"""Model-in-the-loop commands: ``slant preannotate``, ``slant serve``, ``slant next``."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from models.cli.app import app

log = logging.getLogger(__name__)


def _fail(message: str, code: int = 1) -> None:
    from annotate.redaction import redact

    typer.secho(f"error: {redact(message)}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _user_errors() -> tuple[type[BaseException], ...]:
    # Errors that are the user's (bad file, bad model dir, server down): message, no traceback.
    from annotate.labelstudio.connection import LabelStudioError
    from annotate.labelstudio.records import RecordFileError
    from models.base import ModelLoadError
    from models.registry import UnknownModelError

    return (LabelStudioError, RecordFileError, ModelLoadError, UnknownModelError, ValueError, FileNotFoundError)


@app.command("preannotate")
def preannotate_command(
    sentences: Path = typer.Argument(..., help="sentences.jsonl (from `slant ingest`)"),
    project: str = typer.Option(..., "--project", "-p", help="Label Studio project title (created if missing)"),
    model: Path = typer.Option(..., "--model", "-m", help="saved model directory (from `slant train`)"),
    batch_size: int = typer.Option(1000, help="tasks per import request"),
) -> None:
    """Push sentences with the model's stances pre-selected (predictions with model_version and score)."""
    from models.preannotate import preannotate_file

    try:
        result = preannotate_file(sentences, project=project, model_dir=model, batch_size=batch_size)
    except _user_errors() as exc:
        _fail(str(exc))
    for error in result.errors:
        typer.secho(f"  {error}", fg=typer.colors.YELLOW, err=True)
    typer.echo(result.summary())
    if result.errors and not (result.created or result.skipped):
        raise typer.Exit(1)


def _beside(directory: Path, suffix: str) -> Path:
    """A sibling folder named after ``directory`` (``.`` and ``..`` resolved first)."""
    directory = directory.resolve()
    return directory.with_name(directory.name + suffix)


@app.command("serve")
def serve_command(
    model: Path = typer.Option(..., "--model", "-m", help="saved model directory to serve"),
    host: str = typer.Option("127.0.0.1", help="interface to listen on (loopback by default)"),
    port: int = typer.Option(9090, help="port to listen on"),
    retrain_every: int = typer.Option(10, help="retrain after this many new/updated annotations (0: only on 'Start training')"),
    min_pairs: int = typer.Option(10, help="fewest labeled sentence-target pairs to retrain on"),
    save_dir: Path = typer.Option(None, help="where retrained models are saved (default: <model>-retrained/)"),
    base_data: Path = typer.Option(None, help="dataset dir (`slant dataset` output) whose train split is added to every retraining"),
    allow_label_studio: list[str] = typer.Option([], "--allow-label-studio",
                                                 help="a Label Studio URL /setup may point the backend at (repeatable); "
                                                      "LABEL_STUDIO_URL / the local server is always allowed"),
    max_queued_jobs: int = typer.Option(2, min=0, help="training jobs that may wait; more are refused (HTTP 429)"),
    keep_models: int = typer.Option(3, min=0, help="retrained model folders kept in --save-dir (0: all)"),
) -> None:
    """Serve the model as a Label Studio ML backend (/health, /setup, /predict, /webhook, /train).

    Every route but /health needs Basic Auth (SLANT_BACKEND_USER + SLANT_BACKEND_PASSWORD, or
    the 0600 credentials file printed here, created on first use). Connect it in Label Studio
    (project settings > Model, authentication method "Basic Authentication") with the URL printed here. A
    Label Studio server on this machine must allow local ML backends and webhooks
    (ML_BLOCK_LOCAL_IP=false, SSRF_PROTECTION_ENABLED=false; `slant labelstudio start` sets them).
    """
    from models import backend
    from models.backend.auth import PASSWORD_ENV, CredentialsError, credentials_file, load_credentials

    if not model.is_dir():
        _fail(f"{model}: model directory not found")
    try:
        credentials = load_credentials(create=True)
    except CredentialsError as exc:
        _fail(str(exc))
    warning = backend.exposure_warning(host)
    if warning:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    try:
        service = backend.build_service(model, retrain_every=retrain_every, min_pairs=min_pairs,
                                        save_dir=save_dir or _beside(model, "-retrained"),
                                        connection=backend.resolve_connection(), base_data=base_data,
                                        max_queued_jobs=max_queued_jobs, keep_models=keep_models,
                                        allowed_hosts=tuple(allow_label_studio))
    except _user_errors() as exc:
        _fail(str(exc))
    where = f"${PASSWORD_ENV}" if credentials.origin.startswith("$") else str(credentials_file())
    typer.echo(f"serving {service.model_version} at http://{host}:{port} (Ctrl-C to stop)")
    typer.echo(f"  Basic Auth: user {credentials.username!r}, password in {where} (never printed)")
    backend.run(service, credentials=credentials, host=host, port=port)


@app.command("next")
def next_command(
    model: Path = typer.Option(..., "--model", "-m", help="saved model directory"),
    pool: Path = typer.Option(..., "--pool", help="sentences.jsonl to choose from"),
    project: str = typer.Option(..., "--project", "-p", help="Label Studio project title (created if missing)"),
    k: int = typer.Option(50, "--k", "-k", help="how many sentences to push"),
    strategy: str = typer.Option("entropy", help="entropy | margin | least_confidence | random"),
    max_per_article: int = typer.Option(5, min=0, help="at most this many sentences per article (0: no cap)"),
    max_per_actor: int = typer.Option(0, min=0, help="at most this many sentences per actor (0: 40% of k)"),
    seed: int = typer.Option(0, min=0, help="seed of the random strategy"),
    dry_run: bool = typer.Option(False, "--dry-run", help="choose and print, push nothing"),
) -> None:
    """Push the k most informative unlabeled sentences of the pool, with pre-annotations."""
    from models.preannotate import next_batch

    try:
        batch = next_batch(pool, model_dir=model, project=project, k=k, strategy=strategy,
                           max_per_article=max_per_article or None, max_per_actor=max_per_actor or None,
                           seed=seed, dry_run=dry_run)
    except _user_errors() as exc:
        _fail(str(exc))
    for error in batch.errors:
        typer.secho(f"  {error}", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"{batch.strategy} with {batch.model_version}: {len(batch.chosen)} of {batch.pool_size} pool sentences "
               f"({batch.excluded} already in {project!r})")
    for sentence, score in zip(batch.chosen, batch.scores):
        actors = ",".join(sentence.actors()) or "-"
        typer.echo(f"  {score:.3f}  {sentence.sentence_id}  {sentence.article_id}  [{actors}]  {sentence.text[:70]}")
    if batch.push is not None:
        typer.echo(batch.push.summary())
        for error in batch.push.errors:
            typer.secho(f"  {error}", fg=typer.colors.RED, err=True)
    if not batch.pool_size:
        _fail(f"{pool}: no usable sentence in the pool")
    if not batch.chosen:
        typer.echo("nothing left to label in the pool")
    elif batch.push is not None and batch.push.errors and batch.push.created == 0:
        _fail(f"none of the {len(batch.chosen)} chosen sentences reached {project!r}")
