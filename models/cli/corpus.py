"""Corpus commands: ``slant ingest``."""

from __future__ import annotations

from pathlib import Path

import typer

from models.cli.app import app


@app.command("ingest")
def ingest_command(
    paths: list[Path] = typer.Argument(..., help="Article .txt files, .jsonl/.csv corpora, or folders of them."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write sentences.jsonl (written atomically; never read as input)."),
    strict: bool = typer.Option(False, "--strict", help="Fail (exit 1, write nothing) if any file or row has an error."),
    rules: Path | None = typer.Option(None, "--rules", help="Extra cleaning rules (TOML, same format as the defaults)."),
    actors: Path | None = typer.Option(None, "--actors", help="Actor registry TOML replacing the bundled one."),
    actors_extra: Path | None = typer.Option(
        None, "--actors-extra", help="Actors, names, people and dated names (TOML, registry format) added to the registry."
    ),
    manifest: Path | None = typer.Option(
        None, "--manifest", help="Article metadata (TOML or CSV). Default: manifest.toml/.csv inside a given folder."
    ),
    max_bytes: int = typer.Option(10 * 1024 * 1024, "--max-bytes", help="Refuse .txt files (and single articles) larger than this."),
    text_field: str = typer.Option("text", "--text-field", help="Column / JSON key holding the article text (.jsonl/.csv)."),
    id_field: str = typer.Option("id", "--id-field", help="Column / JSON key holding the article id (.jsonl/.csv)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Clean articles, split them into sentences and find actor mentions: one JSON line per sentence."""
    from rich.console import Console
    from rich.markup import escape

    from annotate.corpus import (
        ColumnMap,
        ManifestError,
        RegistryError,
        RulesError,
        ingest_paths,
        write_jsonl,
    )

    err = Console(stderr=True, highlight=False, soft_wrap=True)  # never wrap file paths
    problem = _out_problem(out)
    if problem:  # found before the work, not by os.replace after it
        err.print(f"[red]error:[/red] {escape(problem)}", markup=True)
        raise typer.Exit(2)
    try:
        result = ingest_paths(
            paths,
            rules=rules,
            registry=actors,
            actors_extra=actors_extra,
            manifest=manifest,
            max_bytes=max_bytes,
            columns=ColumnMap(text=text_field, id=id_field),
            progress=not quiet,
            exclude=[out],  # a second run into the corpus folder must not read its own output
        )
    except (RulesError, RegistryError, ManifestError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", markup=True)
        raise typer.Exit(2)

    for w in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(str(w))}", markup=True)
    for e in result.errors:
        err.print(f"[red]error:[/red] {escape(str(e))}", markup=True)

    n_mentions = sum(len(r.mentions) for r in result.records)
    per_actor = ", ".join(f"{a} {n}" for a, n in result.mention_counts().items()) or "none"
    summary = (
        f"{len(result.articles)} articles, {len(result.records)} sentences, {n_mentions} mentions "
        f"({per_actor}), {len(result.errors)} errors, {len(result.warnings)} warnings"
    )
    if result.removed_line_counts():
        summary += f"; {removed_lines_summary(result)}"
    if not result.articles:
        err.print(f"[red]nothing could be processed[/red]: {escape(summary)}", markup=True)
        raise typer.Exit(1)
    if strict and result.errors:
        err.print(f"[red]--strict: {len(result.errors)} error(s); {escape(str(out))} not written[/red] ({escape(summary)})", markup=True)
        raise typer.Exit(1)
    write_jsonl(out, result.records)
    typer.echo(f"wrote {out}: {summary}")


def removed_lines_summary(result, max_articles: int = 10) -> str:
    """'N boilerplate lines removed (rule n, ...); per article: id n, ...' for the summary line."""
    removed = result.removed_line_counts()
    by_rule = ", ".join(f"{rule} {n}" for rule, n in removed.items())
    per_article = sorted(((sum(a.removed_lines.values()), a.article_id) for a in result.articles if a.removed_lines),
                         key=lambda t: (-t[0], t[1]))
    shown = ", ".join(f"{article_id} {n}" for n, article_id in per_article[:max_articles])
    more = f" and {len(per_article) - max_articles} more" if len(per_article) > max_articles else ""
    return f"{sum(removed.values())} boilerplate lines removed ({by_rule}); per article: {shown}{more}"


def _out_problem(out: Path) -> str | None:
    """Why ``out`` cannot be written as a file, or None."""
    if out.is_dir():
        return f"--out {out}: is a directory; give a file path such as {out / 'sentences.jsonl'}"
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"--out {out}: {parent} is a file, not a folder"
            return None
    return None
