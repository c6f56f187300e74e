"""From article files to sentence records: read, clean, split, find actor mentions."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from annotate.corpus.actors import ActorRegistry, load_registry, resolve_spans
from annotate.corpus.cleaning import CleanedText, CleaningRules, clean_text, load_rules
from annotate.corpus.manifest import ArticleMeta, find_manifest, load_manifest
from annotate.corpus.readers import (
    DEFAULT_MAX_BYTES,
    ColumnMap,
    CorpusIssue,
    RawArticle,
    expand_paths,
    read_file,
)
from annotate.schema import Mention, SentenceRecord

logger = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")


@dataclass
class ArticleSummary:
    article_id: str
    path: str
    n_sentences: int
    n_mentions: int
    title: str = ""
    source: str = ""
    removed_lines: dict[str, int] = field(default_factory=dict)  # boilerplate lines removed, by rule


@dataclass
class IngestResult:
    records: list[SentenceRecord] = field(default_factory=list)
    errors: list[CorpusIssue] = field(default_factory=list)  # items skipped
    articles: list[ArticleSummary] = field(default_factory=list)  # articles processed
    warnings: list[CorpusIssue] = field(default_factory=list)  # read, with a caveat

    def mention_counts(self) -> dict[str, int]:
        """Mentions per actor id, most frequent first."""
        counts: dict[str, int] = {}
        for rec in self.records:
            for m in rec.mentions:
                counts[m.actor] = counts.get(m.actor, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def removed_line_counts(self) -> dict[str, int]:
        """Boilerplate lines removed from all articles, by rule, most first."""
        counts: dict[str, int] = {}
        for article in self.articles:
            for rule, n in article.removed_lines.items():
                counts[rule] = counts.get(rule, 0) + n
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def sentence_id(article_id: str, text: str, occurrence: int = 0) -> str:
    """Stable id from content: the same article and sentence text give the same id on every run.

    ``occurrence`` counts earlier sentences of the article with the same (whitespace-normalised)
    text, so repeated sentences still get distinct ids.
    """
    normalized = _SPACES.sub(" ", text).strip()
    digest = hashlib.sha1(f"{article_id}\x1f{normalized}\x1f{occurrence}".encode()).hexdigest()
    return digest[:16]


@dataclass
class _Sentence:
    text: str
    start: int  # original offsets
    end: int
    mentions: list[Mention]


def sentences_of(cleaned: CleanedText, registry: ActorRegistry, day: dt.date | None = None) -> list[_Sentence]:
    """Split cleaned blocks into sentences and find mentions (sentence-relative offsets).

    ``day`` is the article's date: it decides what dated names ("Kabul", "Afghan forces") and
    people in and out of office stand for. The whole article is matched before its mentions are
    resolved, so a short form ("Muttaqi") finds the person named in full anywhere in it.
    """
    from annotate.corpus.sentences import iter_docs

    docs = list(iter_docs(b.text for b in cleaned.blocks))
    spans = [registry.match_spans(doc) for doc in docs]
    resolver = registry.resolver(day)
    resolver.look_ahead(label for block_spans in spans for label, _, _ in block_spans)
    out: list[_Sentence] = []
    for block, doc, block_spans in zip(cleaned.blocks, docs, spans):
        found = sorted(resolve_spans(block_spans, resolver), key=lambda m: m[1])
        starts = [a for _, a, _ in found]  # each sentence looks only at mentions from its start on
        for sent in doc.sents:
            text = sent.text
            if not text.strip():
                continue
            s0, s1 = sent.start_char, sent.start_char + len(text)
            mentions = []
            for actor, a, b in found[bisect.bisect_left(starts, s0):bisect.bisect_left(starts, s1)]:
                if b <= s1:
                    mentions.append(Mention(actor, block.text[a:b], a - s0, b - s0))
            out.append(_Sentence(text, block.offsets[s0], block.offsets[s1 - 1] + 1, mentions))
    return out


def build_records(
    article_id: str, sentences: list[_Sentence], meta: ArticleMeta | None = None,
    removed_lines: dict[str, int] | None = None,
) -> list[SentenceRecord]:
    seen: dict[str, int] = {}
    records = []
    for i, s in enumerate(sentences):
        key = _SPACES.sub(" ", s.text).strip()
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        records.append(
            SentenceRecord(
                sentence_id=sentence_id(article_id, s.text, occurrence),
                article_id=article_id,
                index=i,
                text=s.text,
                start=s.start,
                end=s.end,
                context_before=sentences[i - 1].text if i > 0 else "",
                context_after=sentences[i + 1].text if i + 1 < len(sentences) else "",
                mentions=s.mentions,
                title=meta.title if meta else "",
                source=meta.source if meta else "",
                removed_lines=dict(removed_lines or {}),
            )
        )
    return records


def article_day(meta: ArticleMeta | None) -> dt.date | None:
    """The article's date from its metadata (ISO 8601; a time part is ignored), or None.

    Raises ``ValueError`` naming the value when a date is given but is not ISO 8601.
    """
    if meta is None or not meta.date:
        return None
    try:
        return dt.date.fromisoformat(meta.date.strip()[:10])
    except ValueError:
        raise ValueError(f"date {meta.date!r} is not an ISO 8601 date (YYYY-MM-DD)") from None


def _process_article(
    article_id: str, text: str, rules: CleaningRules, registry: ActorRegistry,
    meta: ArticleMeta | None, day: dt.date | None,
) -> tuple[list[SentenceRecord], dict[str, int]]:
    cleaned = clean_text(text, rules)
    removed = cleaned.removed_lines()
    return build_records(article_id, sentences_of(cleaned, registry, day), meta, removed), removed


def ingest_article(
    article_id: str,
    text: str,
    *,
    rules: CleaningRules | None = None,
    registry: ActorRegistry | None = None,
    meta: ArticleMeta | None = None,
) -> list[SentenceRecord]:
    """Clean, split and tag one article's text (``meta.date``, when given, dates the mentions).

    Raises ``ValueError`` naming the value when ``meta.date`` is given but not ISO 8601
    (``ingest_paths`` makes that a warning and reads the article as undated).
    """
    records, _ = _process_article(article_id, text, rules or load_rules(), registry or load_registry(),
                                  meta, article_day(meta))
    return records


def _merge_meta(row_meta: ArticleMeta | None, manifest_meta: ArticleMeta | None) -> ArticleMeta | None:
    if row_meta is None or manifest_meta is None:
        return manifest_meta or row_meta
    # the manifest fills what the row leaves empty; a row's own values win
    return ArticleMeta(
        **{k: getattr(row_meta, k) or getattr(manifest_meta, k) for k in ArticleMeta.__dataclass_fields__}
    )


def ingest_paths(
    paths: Iterable[str | Path] | str | Path,
    *,
    rules: CleaningRules | str | Path | None = None,
    registry: ActorRegistry | str | Path | None = None,
    actors_extra: str | Path | None = None,
    manifest: dict[str, ArticleMeta] | str | Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    columns: ColumnMap = ColumnMap(),
    progress: bool = False,
    exclude: Iterable[str | Path] = (),
) -> IngestResult:
    """Ingest ``.txt`` files, ``.jsonl`` / ``.csv`` corpora, or folders of them.

    ``rules`` / ``registry`` / ``manifest`` take loaded objects or file paths (``rules`` paths
    extend the default rules; ``actors_extra`` adds to the registry). Without ``manifest``, a ``manifest.toml`` / ``manifest.csv`` in a
    given folder is used. Bad files and rows become ``errors`` (naming file and line); the rest
    is still processed. Raises only for a malformed rules, registry or manifest file.
    ``exclude`` names files never read (the output file: it may sit in a given folder). Manifest
    entries whose id matches no article read become one warning per manifest file.
    """
    if isinstance(paths, (str, os.PathLike)):  # one path, not its characters
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not isinstance(rules, CleaningRules):
        rules = load_rules(rules)
    if not isinstance(registry, ActorRegistry):
        registry = load_registry(registry, actors_extra)
    elif actors_extra is not None:
        raise TypeError("actors_extra extends a registry file; pass registry as a path (or None), not a loaded registry")
    metas: dict[str, ArticleMeta] = {}
    meta_origin: dict[str, str] = {}  # article id -> the manifest it came from, for the warning
    if manifest is None:
        for folder in (p for p in paths if p.is_dir()):
            found = find_manifest(folder)
            if found:
                loaded = load_manifest(found)
                metas.update(loaded)
                meta_origin.update(dict.fromkeys(loaded, str(found)))
    elif isinstance(manifest, dict):
        metas = manifest
        meta_origin = dict.fromkeys(metas, "manifest")
    else:
        metas = load_manifest(manifest)
        meta_origin = dict.fromkeys(metas, str(manifest))

    files, issues = expand_paths(paths, exclude=exclude)
    result = IngestResult()
    for issue in issues:
        (result.warnings if issue.severity == "warning" else result.errors).append(issue)
    origin: dict[str, str] = {}
    read_ids: set[str] = set()  # every article read, also those that then failed

    bar = None
    if progress:
        from tqdm import tqdm

        total = sum(f.stat().st_size for f in files)
        bar = tqdm(total=total, unit="B", unit_scale=True, desc="ingest", leave=False)
    try:
        for path in files:
            done_before = bar.n if bar else 0
            for item in read_file(path, columns=columns, max_bytes=max_bytes):
                if isinstance(item, CorpusIssue):
                    (result.warnings if item.severity == "warning" else result.errors).append(item)
                    logger.debug("%s", item)
                    continue
                read_ids.add(item.article_id)
                _ingest_one(item, rules, registry, metas, origin, result)
                if bar:
                    bar.update(min(len(item.text.encode("utf-8")), bar.total - bar.n))
            if bar:
                bar.update(max(0, done_before + path.stat().st_size - bar.n))
    finally:
        if bar:
            bar.close()
    # a .txt file's id is its stem even when the file could not be read: its error says so already
    read_ids.update(f.stem for f in files if f.suffix.lower() == ".txt")
    result.warnings.extend(_unmatched_manifest_ids(metas, meta_origin, read_ids))
    return result


def _unmatched_manifest_ids(
    metas: dict[str, ArticleMeta], meta_origin: dict[str, str], seen: set[str]
) -> list[CorpusIssue]:
    """A manifest id that no article has is most often a typo, which silently loses metadata."""
    by_file: dict[str, list[str]] = {}
    for article_id in metas:
        if article_id not in seen:
            by_file.setdefault(meta_origin.get(article_id, "manifest"), []).append(article_id)
    warnings = []
    for where, ids in by_file.items():
        shown = ", ".join(map(repr, ids[:10])) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        entries = "entry matches" if len(ids) == 1 else "entries match"
        message = f"{len(ids)} manifest {entries} no article read: {shown} (a typo in the id?)"
        logger.debug("%s: %s", where, message)
        warnings.append(CorpusIssue(where, message, severity="warning"))
    return warnings


def _ingest_one(
    item: RawArticle,
    rules: CleaningRules,
    registry: ActorRegistry,
    metas: dict[str, ArticleMeta],
    origin: dict[str, str],
    result: IngestResult,
) -> None:
    result.warnings.extend(item.warnings)
    where = f"{item.path}:{item.line}" if item.line is not None else item.path
    if item.article_id in origin:
        result.errors.append(
            CorpusIssue(item.path, f"duplicate article id {item.article_id!r} (first seen in {origin[item.article_id]}); skipped", item.line)
        )
        return
    meta = _merge_meta(item.meta, metas.get(item.article_id))
    try:
        day = article_day(meta)
    except ValueError as exc:  # the article is still usable: its names are read as undated
        day = None
        result.warnings.append(CorpusIssue(
            item.path, f"article {item.article_id!r}: {exc}; dated names (Kabul, Afghan forces) read as undated",
            item.line, severity="warning"))
    try:
        records, removed = _process_article(item.article_id, item.text, rules, registry, meta, day)
    except Exception as exc:  # a failed article must not sink the batch
        logger.exception("failed to ingest %s", where)
        result.errors.append(CorpusIssue(item.path, f"failed to process: {type(exc).__name__}: {exc}", item.line))
        return
    if not records:
        result.errors.append(CorpusIssue(item.path, "no text left after removing boilerplate; skipped", item.line))
        return
    origin[item.article_id] = where
    result.records.extend(records)
    result.articles.append(
        ArticleSummary(
            item.article_id, item.path, len(records), sum(len(r.mentions) for r in records),
            meta.title if meta else "", meta.source if meta else "", removed,
        )
    )


def original_offsets(record: SentenceRecord, original_text: str) -> list[int]:
    """For each character of ``record.text``, its offset in the original article text.

    The sentence text is the original slice ``[start:end]`` minus removed boilerplate (with
    whitespace runs collapsed to one space), so a left-to-right alignment recovers the offsets.
    Use it to turn mention offsets (relative to the sentence) into offsets into the article file.
    """
    out: list[int] = []
    pos = record.start
    for ch in record.text:
        while pos < record.end:
            o = original_text[pos]
            if o == ch or (ch == " " and o.isspace()):
                break
            pos += 1
        if pos >= record.end:
            raise ValueError(f"sentence {record.sentence_id} is not a subsequence of its article text")
        out.append(pos)
        pos += 1
    return out
