"""Report command: ``slant report``: per-article and per-source slant as JSON, CSV and HTML."""

from __future__ import annotations

from pathlib import Path

import typer

from models.cli.app import app


@app.command("report")
def report_command(
    predictions: Path | None = typer.Option(None, "--predictions", "-p", help="predictions.jsonl (model basis)."),
    annotations: Path | None = typer.Option(
        None, "--annotations", "-a",
        help="annotations.jsonl from `slant pull`, or a Label Studio JSON export (human basis, adjudicated)."),
    sentences: Path = typer.Option(..., "--sentences", "-s", help="sentences.jsonl from `slant ingest`."),
    manifest: Path | None = typer.Option(None, "--manifest", "-m", help="Corpus manifest (titles, sources)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    dimensions: Path | None = typer.Option(None, "--dimensions", help="Dimensions TOML (default: built-in)."),
    min_sentences: int = typer.Option(3, "--min-sentences", min=1,
                                      help="Fewer sentences than this: 'insufficient evidence'."),
    n_resamples: int = typer.Option(2000, "--bootstrap", min=1, help="Bootstrap resamples per interval."),
    confidence: float = typer.Option(0.95, "--confidence", min=0.5, max=0.999, help="Interval coverage."),
    seed: int = typer.Option(0, "--seed", min=0, help="Bootstrap seed."),
    n_evidence: int = typer.Option(3, "--evidence", min=0, help="Evidence sentences per score."),
    labelstudio_url: str | None = typer.Option(None, "--labelstudio-url", envvar="LABEL_STUDIO_URL",
                                               help="Label Studio base URL, for task links."),
    project_id: int | None = typer.Option(None, "--project-id", help="Label Studio project id, for task links."),
    tie_policy: str = typer.Option("unresolved", "--tie-policy", help="Adjudication tie policy."),
    error_profile: Path | None = typer.Option(
        None, "--error-profile", "--model",
        help="The model's error_profile.json, or its model folder: correct model scores for its measured errors."),
) -> None:
    """Score articles and sources on each slant dimension; write report.json, CSV tables and report.html."""
    from annotate.report import ReportInputError, ReportOptions, make_report
    from annotate.report.dimensions import DimensionError

    try:
        options = ReportOptions(min_sentences=min_sentences, n_resamples=n_resamples, confidence=confidence,
                                seed=seed, n_evidence=n_evidence, labelstudio_url=labelstudio_url,
                                project_id=project_id, tie_policy=tie_policy)
        result = make_report(sentences=sentences, out_dir=out, predictions=predictions, annotations=annotations,
                             manifest=manifest, dimensions=dimensions, options=options, error_profile=error_profile)
    except (ReportInputError, DimensionError, ValueError, RuntimeError) as exc:
        typer.echo(f"slant report: error: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:  # e.g. --out names an existing file, or a folder we may not write
        typer.echo(f"slant report: error: {exc.filename or out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    report = result.report
    if result.problems:
        typer.echo(f"{len(result.problems)} input problem(s) (listed in report.json and the HTML):", err=True)
        for problem in result.problems[:10]:
            typer.echo(f"  {problem}", err=True)
    typer.echo(f"Scored {len(report['articles'])} article(s) from {len(report['sources'])} source(s) "
               f"on {len(report['dimensions'])} dimension(s) from {' and '.join(report['bases'])}.")
    if "model" in report["bases"]:
        correction = report["correction"]
        if correction.get("note"):
            typer.echo(correction["note"])
        else:
            typer.echo(f"Model scores corrected for the errors measured on {correction['profile']['description']}")
            for kind, status in correction["kinds"].items():
                if status["status"] != "corrected":
                    typer.echo(f"  {kind}: uncorrected: {status['reason']}")
    typer.echo(f"Report: {result.paths.html.resolve()}")
    typer.echo(f"Data:   {result.paths.json.resolve()} (+ articles.csv, sources.csv, evidence.csv)")
