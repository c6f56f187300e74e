"""Annotation commands: ``slant agreement``, ``slant adjudicate``, ``slant dataset``.

Thin wrappers over :mod:`annotate.agreement`, :mod:`annotate.adjudication` and
:mod:`annotate.dataset`; heavy imports (``datasets``, numpy) happen inside the commands.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer

from annotate.atomic import atomic_write_json
from models.cli.app import app

log = logging.getLogger(__name__)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _read_records(paths: list[Path], *, strict: bool) -> dict[Path, list[Any]]:
    """Records per file; bad lines are reported (file:line) and skipped, or abort with --strict."""
    from annotate.dataset import AnnotationFileError, read_annotations

    per_file: dict[Path, list[Any]] = {}
    errors: list[str] = []
    for path in paths:
        try:
            per_file[path] = read_annotations([path], errors=errors)
        except AnnotationFileError as exc:
            raise _fail(str(exc)) from None
    for message in errors[:20]:
        typer.secho(f"warning: {message}", fg=typer.colors.YELLOW, err=True)
    if len(errors) > 20:
        typer.secho(f"warning: ... and {len(errors) - 20} more bad lines", fg=typer.colors.YELLOW, err=True)
    if errors and strict:
        raise _fail(f"{len(errors)} bad line(s); nothing written (--strict)")
    if not any(per_file.values()):
        raise _fail("no annotation records could be read from " + ", ".join(map(str, paths)))
    return per_file


def _read_sentences(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    from annotate.labelstudio.records import RecordFileError, read_jsonl
    from annotate.schema import SentenceRecord

    try:
        result = read_jsonl(path, SentenceRecord.from_dict)
    except RecordFileError as exc:
        raise _fail(str(exc)) from None
    for message in result.errors[:20]:
        typer.secho(f"warning: {message}", fg=typer.colors.YELLOW, err=True)
    return {s.sentence_id: s for s in result.records}


def _fmt(estimate: dict[str, Any], sep: str = " ") -> str:
    value = estimate.get("value")
    if value is None:
        return "n/a"
    if estimate.get("ci_low") is None:
        return f"{value:.3f}"
    return f"{value:.3f}{sep}[{estimate['ci_low']:.2f},{estimate['ci_high']:.2f}]"


@app.command("agreement")
def agreement_command(
    annotations: list[Path] = typer.Argument(..., help="annotations.jsonl file(s) from `slant pull` (merged)."),
    out: Path | None = typer.Option(None, "--out", help="Write the full report as JSON here."),
    n_boot: int = typer.Option(1000, "--n-boot", min=0, help="Bootstrap resamples for the intervals."),
    seed: int = typer.Option(0, "--seed", min=0, help="Bootstrap seed."),
    strict: bool = typer.Option(False, "--strict", help="Abort on any bad line instead of skipping it."),
) -> None:
    """Inter-annotator agreement per target and overall (table + JSON)."""
    from rich.console import Console
    from rich.table import Table

    from annotate.agreement import agreement_report

    records = [r for rs in _read_records(annotations, strict=strict).values() for r in rs]
    report = agreement_report(records, n_boot=n_boot, seed=seed)
    console = Console()
    table = Table(title=f"Agreement per target ({report['confidence']:.0%} bootstrap CI over items, {n_boot} resamples)")
    for column in ("target", "items", "1-label", "raters", "% agreement", "Fleiss κ", "α nominal", "α ordinal"):
        table.add_column(column, justify="left" if column == "target" else "right")
    groups = [("overall", report["overall"])] + list(report["targets"].items())
    for name, g in groups:
        table.add_row(name, str(g["n_items"]), str(g["n_items_single_label"]), str(g["n_annotators"]),
                      *(_fmt(g[key], "\n") for key in ("percent_agreement", "fleiss_kappa",
                                                        "krippendorff_alpha_nominal", "krippendorff_alpha_ordinal")))
    console.print(table)
    pairs = Table(title="Cohen's κ per annotator pair")
    for column in ("target", "annotator", "annotator", "items", "% agreement", "Cohen κ"):
        pairs.add_column(column, justify="right" if column in ("items", "% agreement", "Cohen κ") else "left",
                         no_wrap=column in ("Cohen κ", "% agreement"))
    for name, g in groups:
        for p in g["cohen_kappa_pairs"]:
            pairs.add_row(name, *p["annotators"], str(p["n_items"]), f"{p['percent_agreement']:.3f}",
                          _fmt(p["cohen_kappa"]))
    console.print(pairs)
    excluded = ", ".join(f"{k} {v}" for k, v in report["excluded"].items())
    console.print(f"Excluded records: {excluded}. Items with one label (1-label) drop out of every coefficient.")
    if out is not None:
        atomic_write_json(out, report)
        console.print(f"Wrote {out}")


@app.command("adjudicate")
def adjudicate_command(
    annotations: list[Path] = typer.Argument(..., help="annotations.jsonl file(s) from `slant pull` (merged)."),
    out: Path = typer.Option(..., "--out", help="Write adjudicated.jsonl here."),
    tie_policy: str = typer.Option("unresolved", "--tie-policy", help="unresolved | neutral | first | median."),
    review_tasks: Path | None = typer.Option(None, "--review-tasks",
                                             help="Write the items to review as a Label Studio import JSON."),
    review_scope: str = typer.Option("unresolved", "--review-scope", help="unresolved | disagreements."),
    reviews: Path | None = typer.Option(None, "--reviews",
                                        help="annotations.jsonl pulled from the review project: merged back."),
    sentences: Path | None = typer.Option(None, "--sentences",
                                          help="sentences.jsonl, for titles and context in review tasks."),
    strict: bool = typer.Option(False, "--strict", help="Abort on any bad line instead of skipping it."),
) -> None:
    """Settle one label per (sentence, target): ground truth, majority vote, tie policy, reviews."""
    from collections import Counter

    from annotate.adjudication import (
        adjudicate,
        check_review_scope,
        get_tie_policy,
        merge_reviews,
        write_adjudicated,
        write_review_tasks,
    )

    # Options are checked before anything is written.
    try:
        get_tie_policy(tie_policy)
        check_review_scope(review_scope)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    if review_tasks is None and (review_scope != "unresolved" or sentences is not None):
        typer.echo("warning: --review-scope and --sentences only shape --review-tasks, which is not given", err=True)
    records = [r for rs in _read_records(annotations, strict=strict).values() for r in rs]
    labels = adjudicate(records, tie_policy=tie_policy)
    if reviews is not None:
        review_records = [r for rs in _read_records([reviews], strict=strict).values() for r in rs]
        try:
            labels = merge_reviews(labels, review_records)
        except ValueError as exc:  # nothing is written: a half-merged file would hide the bad review
            raise _fail(f"{reviews}: {exc}") from None
    write_adjudicated(labels, out)
    counts = Counter(l.resolved_by for l in labels)
    unresolved = sum(l.unresolved for l in labels)
    typer.echo(f"Wrote {len(labels)} adjudicated labels to {out}: "
               + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
               + f"; off target {sum(l.off_target for l in labels)}; unresolved {unresolved}")
    if review_tasks is not None:
        try:
            n = write_review_tasks(labels, review_tasks, sentences=_read_sentences(sentences), scope=review_scope)
        except ValueError as exc:
            raise _fail(str(exc), 2) from None
        typer.echo(f"Wrote {n} review task(s) to {review_tasks} (import into a Label Studio project "
                   f"with label_config.xml; each annotator's answer is a prediction)")


@app.command("dataset")
def dataset_command(
    annotations: list[Path] = typer.Argument(..., help="annotations.jsonl or adjudicated.jsonl file(s), merged."),
    out: Path = typer.Option(..., "--out", help="Output folder (save_to_disk + parquet/ + README.md)."),
    k_folds: int | None = typer.Option(None, "--k-folds", min=2,
                                       help="Also write a grouped k-fold article assignment (folds.json)."),
    tie_policy: str = typer.Option("unresolved", "--tie-policy", help="Tie policy when adjudicating."),
    sentences: Path | None = typer.Option(None, "--sentences", help="sentences.jsonl to fill text/mentions."),
    manifest: Path | None = typer.Option(None, "--manifest", help="seeds/manifest.toml for sources."),
    seed: int = typer.Option(0, "--seed", help="Seed of the article split."),
    val_fraction: float = typer.Option(0.2, "--val-fraction"),
    test_fraction: float = typer.Option(0.2, "--test-fraction"),
    strict: bool = typer.Option(False, "--strict", help="Abort on any bad line instead of skipping it."),
) -> None:
    """Build the train/validation/test stance dataset (grouped by article) and save it."""
    from annotate.adjudication import (
        adjudicate,
        get_tie_policy,
        is_adjudicated_file,
        merge_adjudicated,
        read_adjudicated,
    )
    from annotate.dataset import (
        adjudicated_provenance,
        agreement_summary,
        annotation_provenance,
        build_dataset,
        relevance_rows,
        save_dataset,
    )

    try:
        get_tie_policy(tie_policy)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    per_file = {}
    adjudicated_files, annotation_files = {}, []
    for path in annotations:
        if is_adjudicated_file(path):
            try:
                adjudicated_files[path] = read_adjudicated(path)
            except (OSError, ValueError) as exc:
                raise _fail(str(exc)) from None
        else:
            annotation_files.append(path)
    fresh = []
    if annotation_files:
        per_file = _read_records(annotation_files, strict=strict)
        fresh = adjudicate([r for rs in per_file.values() for r in rs], tie_policy=tie_policy)
    # Adjudicated files (reviewed, hand-edited) override fresh votes; later files override earlier.
    adjudicated, replaced = merge_adjudicated(fresh, *adjudicated_files.values())
    if replaced:
        typer.echo(f"warning: {replaced} (sentence, target) item(s) labelled in more than one input; "
                   "adjudicated files win over annotations, later files over earlier", err=True)
    meta = None
    if manifest is not None:
        from annotate.corpus import ManifestError, load_manifest

        try:
            meta = load_manifest(manifest)
        except (OSError, ManifestError) as exc:
            raise _fail(f"{manifest}: {exc}") from None
    sentence_records = _read_sentences(sentences)
    try:
        dd = build_dataset(adjudicated, sentences=sentence_records, manifest=meta, seed=seed,
                           val_fraction=val_fraction, test_fraction=test_fraction)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    provenance = annotation_provenance(per_file) if per_file else {}
    if adjudicated_files:
        provenance["adjudicated_files"] = adjudicated_provenance(adjudicated_files)
    provenance.update(tie_policy=tie_policy, split_seed=seed, val_fraction=val_fraction,
                      test_fraction=test_fraction, adjudication=agreement_summary(adjudicated))
    n_articles = len({a for ds in dd.values() for a in ds["article_id"]})
    if k_folds is not None and k_folds > n_articles:
        raise _fail(f"--k-folds {k_folds} is more than the {n_articles} articles with labels", 2)
    try:
        relevance = relevance_rows(adjudicated, dataset=dd, sentences=sentence_records)
        save_dataset(dd, out, provenance=provenance, k_folds=k_folds, seed=seed, relevance=relevance)
    except FileExistsError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # a full disk, a file size limit, a folder we may not write
        kept = f"; the dataset already at {out} is unchanged" if out.exists() else ""
        raise _fail(f"{out}: could not write the dataset: {exc.strerror or exc}{kept}") from None
    sizes = ", ".join(f"{split} {len(ds)}" for split, ds in dd.items())
    typer.echo(f"Wrote the dataset to {out} ({sizes} rows; {n_articles} articles); card: {out / 'README.md'}")


