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
    recipe: str = typer.Option("default", help="How the transformer is trained: default | seeds-only | fine-tune-transfer "
                                               "(models/recipes.py)."),
) -> None:
    """Run the whole pipeline on the built-in seeds and print where the report is."""
    from models.pipeline import run_pipeline

    if model not in ("transformer", "baseline"):
        typer.secho(f"error: unknown model {model!r}; valid: baseline, transformer", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    from models.recipes import UnknownRecipeError, get_recipe

    try:
        get_recipe(recipe)
    except UnknownRecipeError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
    try:
        result = run_pipeline(seeds=seeds, work=work, project=project, gold=gold, labelstudio=labelstudio,
                              model=model, epochs=epochs, base_model=base_model, pretrain=pretrain, recipe=recipe,
                              say=typer.echo)
    except (OSError, ValueError, RuntimeError) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    typer.echo(f"\nDone in {result.seconds:.0f} s. Report: {result.report_html}")
    if result.labelstudio_url:
        typer.echo(f"Label Studio: {result.labelstudio_url}/projects/{result.project_id} "
                   "(stop it with `slant labelstudio stop`)")


@app.command("analyze")
def analyze_command(
    paths: list[Path] = typer.Argument(..., help="Article files (.txt/.jsonl/.csv) or folders of them."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (sentences, predictions, report/)."),
    model: Path | None = typer.Option(None, "--model", "-m",
                                      help="A saved model folder (default: the main job's default model, built "
                                           "once per machine under $SLANT_HOME/models)."),
    manifest: Path | None = typer.Option(None, "--manifest", help="Article metadata (TOML or CSV). Default: the manifest inside a given folder."),
) -> None:
    """Your own articles in, a slant report out: ingest -> predict with the default model -> report."""
    from models.analyze import analyze

    try:
        result = analyze(paths, out=out, model=model, manifest=manifest, say=typer.echo)
    except (OSError, ValueError, RuntimeError) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    for error in result.errors:
        typer.secho(f"warning: {error}", err=True, fg=typer.colors.YELLOW)
    typer.echo(f"{result.articles} article(s), {result.sentences} sentences, {result.pairs} pairs scored by "
               f"{result.model_version}\nReport: {result.report_html}")
