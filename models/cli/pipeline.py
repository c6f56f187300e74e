"""The main job: ``slant run`` (seeds -> Label Studio -> gold labels -> model -> report)."""

from __future__ import annotations

from pathlib import Path

import typer

from models.cli.app import app


@app.command("run")
def run_command(
    seeds: Path = typer.Option(Path("seeds"), help="Folder of articles (with manifest.toml and gold/export.json)."),
    work: Path = typer.Option(Path("work"), help="Output folder."),
    project: str = typer.Option("Slant seeds", help="Label Studio project title."),
    gold: Path | None = typer.Option(None, help="Gold labels as a Label Studio JSON export (default <seeds>/gold/export.json)."),
    labelstudio: bool = typer.Option(True, "--labelstudio/--no-labelstudio",
                                     help="Push to and pull from Label Studio (local server unless LABEL_STUDIO_URL is set)."),
    model: str = typer.Option("transformer", help="Model that predicts for the report: transformer or baseline."),
    epochs: int | None = typer.Option(None, min=1, help="Transformer training epochs."),
    base_model: str | None = typer.Option(None, help="Local Hugging Face checkpoint to fine-tune (default: packaged MiniLM)."),
    pretrain: Path | None = typer.Option(None, help="Dataset in the same shape to train on first (e.g. NewsMTSC folder)."),
) -> None:
    """Run the whole pipeline on the built-in seeds and print where the report is."""
    from models.pipeline import run_pipeline

    if model not in ("transformer", "baseline"):
        typer.secho(f"error: unknown model {model!r}; valid: baseline, transformer", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    try:
        result = run_pipeline(seeds=seeds, work=work, project=project, gold=gold, labelstudio=labelstudio,
                              model=model, epochs=epochs, base_model=base_model, pretrain=pretrain, say=typer.echo)
    except (OSError, ValueError, RuntimeError) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    typer.echo(f"\nDone in {result.seconds:.0f} s. Report: {result.report_html}")
    if result.labelstudio_url:
        typer.echo(f"Label Studio: {result.labelstudio_url}/projects/{result.project_id} "
                   "(stop it with `slant labelstudio stop`)")
