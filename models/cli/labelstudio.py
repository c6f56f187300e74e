"""Label Studio commands: ``slant labelstudio start|stop|status``, ``slant push``, ``slant pull``.

Thin wrappers over :mod:`annotate.labelstudio`; errors are printed as one clear line and
exit non-zero. The API token is never printed.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import typer

from models.cli.app import app

labelstudio_app = typer.Typer(help="Run a local Label Studio server (installed in its own venv).",
                              no_args_is_help=True)
app.add_typer(labelstudio_app, name="labelstudio")


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Print Label Studio / file errors without a traceback and exit 1."""
    from annotate.labelstudio.connection import LabelStudioError
    from annotate.labelstudio.pull import ExportFormatError
    from annotate.labelstudio.records import RecordFileError
    from annotate.labelstudio.server import ServerError
    from annotate.labelstudio.tasks import TaskFormatError
    from annotate.redaction import SecretFormatError, redact
    from models.base import ModelLoadError  # light: torch loads only when a transformer does

    # One line per HTTP request is noise at the CLI's INFO level.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        yield
    except (LabelStudioError, ServerError, ExportFormatError, RecordFileError, TaskFormatError,
            ModelLoadError, SecretFormatError) as exc:
        typer.secho(f"error: {redact(exc)}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    except OSError as exc:  # a directory given as a file, a folder we may not write, a full disk, ...
        typer.secho(f"error: {redact(exc.filename or '')}: {redact(exc.strerror or exc)}", err=True,
                    fg=typer.colors.RED)
        raise typer.Exit(1) from None


def _server(port: int | None):
    from annotate.labelstudio.server import LocalServer

    return LocalServer(port=port) if port else LocalServer()


@labelstudio_app.command("start")
def start(
    port: int | None = typer.Option(None, help="Port on 127.0.0.1 (default 8080, or the last one used)."),
    timeout: float = typer.Option(300.0, help="Seconds to wait for /health (first start migrates the database)."),
) -> None:
    """Install Label Studio 1.23.2 if missing, start it on 127.0.0.1 and wait until healthy."""
    with _user_errors():
        server = _server(port)
        status = server.start(timeout=timeout)
    typer.echo(f"Label Studio {status.version or ''} running at {status.url} (pid {status.pid})")
    typer.echo(f"  log in as {server.admin_email}; password in {server.password_file}")
    typer.echo(f"  API token in {server.token_file} (mode 0600; used automatically by slant push/pull)")


@labelstudio_app.command("stop")
def stop() -> None:
    """Stop the local server by its pid."""
    with _user_errors():
        stopped = _server(None).stop()
    typer.echo("Label Studio stopped" if stopped else "Label Studio was not running")


@labelstudio_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print the status as JSON.")) -> None:
    """Say whether the local server runs and answers /health (exit 1 if not)."""
    with _user_errors():
        info = _server(None).status()
    if as_json:
        typer.echo(json.dumps(info.to_dict(), indent=2))
    elif info.running:
        state = "healthy" if info.healthy else "not answering /health yet"
        typer.echo(f"Label Studio {info.version or ''} running at {info.url} (pid {info.pid}), {state}; data in {info.data_dir}")
    else:
        typer.echo(f"Label Studio is not running (data dir {info.data_dir})")
    if not (info.running and info.healthy):
        raise typer.Exit(1)


def _warn(message: str) -> None:
    from annotate.redaction import redact

    typer.secho(f"warning: {redact(message)}", err=True, fg=typer.colors.YELLOW)


def _read(path: Path, kind: str, strict: bool) -> list:
    from annotate.labelstudio.records import READERS, read_jsonl

    read = read_jsonl(path, READERS[kind])
    for message in read.errors:
        _warn(message)
    if read.errors and (strict or not read.records):
        raise typer.Exit(1)
    return read.records


@app.command("push")
def push(
    records: Path = typer.Argument(..., help="sentences.jsonl, or annotations.jsonl (pulled records) to push back."),
    project: str = typer.Option(..., "--project", "-p", help="Project title (created if missing)."),
    predictions: Path | None = typer.Option(None, help="predictions.jsonl to attach as pre-annotations."),
    model: Path | None = typer.Option(None, help="A saved model directory: predict the sentences and attach "
                                      "its stances as pre-annotations (model_version + score)."),
    sentences: Path | None = typer.Option(None, help="With annotation records: sentences.jsonl giving tasks their full context."),
    batch_size: int = typer.Option(1000, min=1, help="Tasks per import request."),
    create_users: bool = typer.Option(True, help="With annotation records: create missing annotators' users (by email)."),
    strict: bool = typer.Option(False, help="Exit non-zero if any line or item failed."),
) -> None:
    """Push sentences (with optional predictions) or annotation records into a project; idempotent."""
    from annotate.labelstudio.connection import connect
    from annotate.labelstudio.push import push_annotations, push_sentences
    from annotate.labelstudio.records import detect_kind

    with _user_errors():
        kind = detect_kind(records)
        if kind == "predictions":
            typer.secho(f"error: {records} holds predictions; pass sentences and --predictions {records}",
                        err=True, fg=typer.colors.RED)
            raise typer.Exit(1)
        if model is not None and (predictions is not None or kind != "sentences"):
            typer.secho("error: --model goes with a sentences file and without --predictions", err=True, fg=typer.colors.RED)
            raise typer.Exit(2)
        items = _read(records, kind, strict)
        # Every input file is read (and its bad lines reported) before the server is contacted.
        context = ({s.sentence_id: s for s in _read(sentences, "sentences", strict)}
                   if sentences and kind == "annotations" else None)
        preds = _read(predictions, "predictions", strict) if predictions and kind != "annotations" else None
        conn = connect()
        if kind == "annotations":
            result = push_annotations(conn, items, project=project, sentences=context,
                                      create_users=create_users, batch_size=batch_size)
        else:
            if model is not None:
                from models.preannotate import score_sentences
                from models.registry import load_model

                preds = score_sentences(load_model(model), items).records
            result = push_sentences(conn, items, project=project, predictions=preds, batch_size=batch_size)
    for message in result.errors:
        _warn(message)
    typer.echo(result.summary())
    if result.errors and strict:
        raise typer.Exit(1)


@app.command("pull")
def pull(
    out: Path = typer.Option(..., "--out", "-o", help="annotations.jsonl to write (atomically)."),
    project: str | None = typer.Option(None, "--project", "-p", help="Project title to export."),
    from_file: Path | None = typer.Option(None, "--from-file", help="A JSON export downloaded from Label Studio."),
    strict: bool = typer.Option(False, help="Exit non-zero if any task could not be read."),
) -> None:
    """Export a project (or read an export file) as one record per (task, annotator, target)."""
    from annotate.labelstudio.connection import connect
    from annotate.labelstudio.pull import pull as pull_project
    from annotate.labelstudio.pull import pull_from_file

    if (project is None) == (from_file is None):
        typer.secho("error: give exactly one of --project NAME or --from-file EXPORT.json", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    from annotate.labelstudio.pull import save_pulled

    with _user_errors():
        if from_file is not None:
            result = pull_from_file(from_file)
        else:
            result = pull_project(connect(), project=project)
    for message in result.errors:
        _warn(message)
    with _user_errors():
        failed = not save_pulled(result, out, strict=strict)
    typer.echo(result.summary() + (f"; nothing written to {out}" if failed else ""))
    if failed:
        raise typer.Exit(1)
