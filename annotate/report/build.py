"""Assemble a report: article and source scores for every dimension, human and model.

:func:`build_report` is the one entry point; it returns the JSON-ready ``dict`` that
``report.json`` holds (schema: ``docs/schema.md``, section "Report (report.json)"). The
HTML and CSV writers render from that dict, so all outputs say the same thing.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from annotate.labels import ENGAGEMENT_TARGET, load_label_set
from annotate.report.aggregate import (
    aggregate_source,
    aligned_probabilities,
    aligned_values,
    paired_corrected_difference_ci,
    paired_difference_ci,
)
from annotate.report.dimensions import Dimension, load_dimensions
from annotate.report.error_profile import ErrorProfile, corrections_for, target_kind
from annotate.report.scoring import (
    DimensionScore,
    Evidence,
    Observation,
    difference,
    observations_from_adjudicated,
    observations_from_predictions,
    rng_for,
    rounded,
    score_model_observations,
    score_observations,
    score_to_dict,
    stance_values,
    uncorrected,
    uninformative,
)
from annotate.schema import AnnotationRecord, PredictionRecord, SentenceRecord, unique_sentences

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: model scores corrected for the classifier's errors (raw_* keep the raw ones)
HUMAN, MODEL = "human", "model"
BASES = (HUMAN, MODEL)
_META_FIELDS = ("title", "source", "author", "date", "url")


@dataclass(frozen=True)
class ReportOptions:
    """Settings of a report (all recorded in ``report.json`` under ``settings``).

    Attributes:
        min_sentences: fewer observations than this give "insufficient evidence".
        n_resamples: bootstrap resamples per interval.
        confidence: interval coverage, e.g. 0.95.
        seed: base seed; each (scope, id, dimension, basis) gets its own stream.
        n_evidence: evidence sentences kept per score.
        labelstudio_url, project_id: with both, evidence links to
            ``{labelstudio_url}/projects/{project_id}/data?task={task_id}``.
        tie_policy: passed to ``annotate.adjudication.adjudicate``.
        exclude_off_target_from_model: drop model predictions for (sentence, target) pairs
            that humans marked off target ("not that actor", "not about engagement").
        relevance_threshold: drop model predictions whose ``relevance`` (the model's
            probability that the sentence is about engagement) is below this; 0 keeps all.
    """

    min_sentences: int = 3
    n_resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0
    n_evidence: int = 3
    labelstudio_url: str | None = None
    project_id: int | None = None
    tie_policy: str = "unresolved"
    exclude_off_target_from_model: bool = True
    relevance_threshold: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.relevance_threshold <= 1.0:
            raise ValueError(f"relevance_threshold must be in [0, 1], got {self.relevance_threshold}")
        if self.min_sentences < 1:
            raise ValueError(f"min_sentences must be >= 1, got {self.min_sentences}")
        if self.n_resamples < 1:
            raise ValueError(f"n_resamples must be >= 1, got {self.n_resamples}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        # Checked only when links will be made: LABEL_STUDIO_URL in the environment must not
        # fail a report that asks for none.
        if (self.labelstudio_url and self.project_id is not None
                and urlsplit(self.labelstudio_url).scheme not in ("http", "https")):
            raise ValueError(f"labelstudio_url must start with http:// or https://, got {self.labelstudio_url!r}")


def labelstudio_task_url(base_url: str | None, project_id: int | None, task_id: int | None) -> str | None:
    """``{base_url}/projects/{project_id}/data?task={task_id}``, or None if any part is unknown."""
    if not base_url or project_id is None or task_id is None:
        return None
    return f"{base_url.rstrip('/')}/projects/{int(project_id)}/data?task={int(task_id)}"


def actor_display_name(actor: str) -> str:
    """Display name from the actor registry (``annotate.corpus``), else the id made readable."""
    if actor == ENGAGEMENT_TARGET:
        return "Engagement (dialogue, negotiation)"
    try:  # names are cosmetic: an unknown id or a broken registry never fails a report
        from annotate.corpus import load_registry

        return str(load_registry().display_name(actor))
    except Exception as error:  # noqa: BLE001
        logger.debug("no display name for %r (%s); deriving one from the id", actor, error)
    words = actor.replace("_", " ").replace("-", " ").split()
    if len(words) == 1 and len(actor) <= 3:  # acronyms: "ttp" -> "TTP"
        return actor.upper()
    return " ".join(w.capitalize() for w in words) or actor


def _meta_value(meta: Any, name: str) -> str:
    value = meta.get(name, "") if isinstance(meta, Mapping) else getattr(meta, name, "")
    return "" if value is None else str(value)


def _adjudicate(annotations: Sequence[AnnotationRecord], tie_policy: str) -> list[Any]:
    try:
        from annotate.adjudication import adjudicate
    except ImportError as exc:  # the adjudication module ships with the annotation side
        raise RuntimeError("human labels need annotate.adjudication, which is not installed") from exc
    return list(adjudicate(annotations, tie_policy=tie_policy))


class _Context:
    """Lookups shared while building: sentences, links, names."""

    def __init__(self, sentences: Iterable[SentenceRecord], options: ReportOptions,
                 task_ids: Mapping[str, int], labels: Sequence[str]) -> None:
        self.sentences = {s.sentence_id: s for s in sentences}
        self.labels = labels
        self.options = options
        self.task_ids = task_ids

    def order(self, observation: Observation) -> tuple[int, str]:
        sentence = self.sentences.get(observation.sentence_id)
        return (sentence.index if sentence else 1 << 30, observation.sentence_id)

    def evidence_dict(self, ev: Evidence, target: str) -> dict[str, Any]:
        o = ev.observation
        sentence = self.sentences.get(o.sentence_id)
        task_id = o.task_id if o.task_id is not None else self.task_ids.get(o.sentence_id)
        return {
            "rank": ev.rank, "sentence_id": o.sentence_id, "article_id": o.article_id,
            "index": sentence.index if sentence else None, "text": sentence.text if sentence else "",
            "target": target, "label": o.label, "probability": rounded(o.probability),
            "agreement": rounded(o.agreement),
            "n_annotators": o.n_annotators, "value": rounded(o.value), "contribution": rounded(ev.contribution),
            "task_id": task_id,
            "labelstudio_url": labelstudio_task_url(self.options.labelstudio_url, self.options.project_id,
                                                    task_id),
            "mentions": [{"actor": m.actor, "text": m.text, "start": m.start, "end": m.end}
                         for m in sentence.mentions] if sentence else [],
        }

    def score_dict(self, score: DimensionScore | None, target: str) -> dict[str, Any] | None:
        data = score_to_dict(score, labels=self.labels)
        if data is not None and score is not None:
            data["evidence"] = [self.evidence_dict(ev, target) for ev in score.evidence]
        return data


def build_report(
    *,
    sentences: Iterable[SentenceRecord],
    predictions: Iterable[PredictionRecord] = (),
    annotations: Iterable[AnnotationRecord] = (),
    adjudicated: Iterable[Any] | None = None,
    manifest: Mapping[str, Any] | None = None,
    dimensions: Sequence[Dimension] | str | Path | None = None,
    options: ReportOptions = ReportOptions(),
    inputs: Mapping[str, Any] | None = None,
    problems: Sequence[str] = (),
    actor_name: Callable[[str], str] = actor_display_name,
    now: datetime | None = None,
    error_profile: ErrorProfile | None = None,
) -> dict[str, Any]:
    """Score every article and source on every dimension, from human labels and/or predictions.

    Args:
        sentences: SentenceRecords (texts, indices, mentions, fallback title/source).
        predictions: PredictionRecords (the model basis).
        annotations: AnnotationRecords, adjudicated here with ``options.tie_policy``.
        adjudicated: already adjudicated labels (AdjudicatedLabel-like) instead of ``annotations``.
        manifest: article id -> ArticleMeta (title, source, author, date, url); wins over
            the sentences' title/source. Unknown fields stay empty, never invented.
        dimensions: Dimension list, or a path to a dimensions TOML (default: built-in);
            per-actor dimensions are added for every actor seen in the inputs.
        inputs: file paths etc. recorded under ``inputs``.
        problems: input problems (bad lines) recorded under ``problems``.
        error_profile: the model's errors on held-out gold (``annotate.report.error_profile``);
            model scores are corrected with it (``inputs["error_profile"]`` names its file).
            Without one, model scores are raw and marked "uncorrected".

    Returns:
        The report dict (see docs/schema.md). Articles and sources are keyed by id and
        sorted; articles without a known source are in no source, listed under
        ``unattributed_articles``.
    """
    from annotate.report.inputs import checked_prediction

    labels = load_label_set().stance
    sentences = list(sentences)
    checked = []
    for i, p in enumerate(predictions):  # the check slant report applies to file lines, same numbers
        try:
            checked.append(checked_prediction(p, labels=labels))
        except (ValueError, AttributeError) as exc:
            where = f"{getattr(p, 'sentence_id', '?')}/{getattr(p, 'target', '?')}"
            raise ValueError(f"predictions[{i}] ({where}): {exc}") from None
    predictions = checked
    annotations = list(annotations)
    manifest = dict(manifest or {})
    problems = list(problems)

    task_ids: dict[str, int] = {}
    for a in annotations:
        if a.task_id is not None:
            task_ids.setdefault(a.sentence_id, a.task_id)
    if adjudicated is None:
        adjudicated = _adjudicate(annotations, options.tie_policy) if annotations else []
    adjudicated = list(adjudicated)
    for a in adjudicated:
        if getattr(a, "task_id", None) is not None:
            task_ids.setdefault(a.sentence_id, a.task_id)
    # Whole-input findings go first: they matter more than any single line.
    findings: list[str] = []
    # A sentence listed twice (two sentences files concatenated) would count twice.
    sentences, repeated = unique_sentences(sentences)
    if repeated:
        findings.append(f"{repeated} sentence record(s) repeat a sentence id; "
                        f"each sentence is counted once (the first record)")
    ctx = _Context(sentences, options, task_ids, labels)
    by_id = ctx.sentences

    # Later duplicates of a (sentence, target) prediction replace earlier ones, with a warning.
    unique: dict[tuple[str, str], PredictionRecord] = {}
    for p in predictions:
        if (p.sentence_id, p.target) in unique:
            problems.append(f"prediction for sentence {p.sentence_id} target {p.target} given twice; kept the last")
        unique[(p.sentence_id, p.target)] = p
    predictions = list(unique.values())
    # The sentences file says which article a sentence belongs to; a prediction that says
    # otherwise (made on an older ingest, or edited) is scored under the sentences file's.
    moved = [p for p in predictions if p.sentence_id in by_id and p.article_id != by_id[p.sentence_id].article_id]
    if moved:
        findings.append(f"{len(moved)} prediction(s) name another article than the sentences file does; scored "
                        f"under the sentences file's, e.g. {moved[0].sentence_id}: {moved[0].article_id!r} -> "
                        f"{by_id[moved[0].sentence_id].article_id!r}")
        moved_keys = {(p.sentence_id, p.target) for p in moved}
        predictions = [replace(p, article_id=by_id[p.sentence_id].article_id)
                       if (p.sentence_id, p.target) in moved_keys else p for p in predictions]
    model_versions = sorted({p.model_version for p in predictions})
    if len(model_versions) > 1:
        findings.append(f"predictions come from {len(model_versions)} model versions: {', '.join(model_versions)}")
    values = list(stance_values(labels).values())  # unsigned, label order
    fitted = corrections_for(error_profile if predictions else None, values=values, model_versions=model_versions,
                             n_resamples=options.n_resamples, seed=options.seed,
                             origin=(inputs or {}).get("error_profile"))
    findings += fitted.findings
    unknown = sorted({p.sentence_id for p in predictions if p.sentence_id not in ctx.sentences})
    if unknown:
        findings.append(f"{len(unknown)} predicted sentence(s) are not in the sentences file "
                        f"(scored, shown without text), e.g. {unknown[0]}")

    # Actors, most mentioned first (the heatmaps' column order).
    mention_counts: Counter[str] = Counter()
    for s in sentences:
        mention_counts.update(m.actor for m in s.mentions)
    seen_targets = {p.target for p in predictions} | {a.target for a in adjudicated}
    actors = [a for a, _ in mention_counts.most_common()]
    actors += sorted(t for t in seen_targets if t != ENGAGEMENT_TARGET and t not in mention_counts)

    if dimensions is None or isinstance(dimensions, (str, Path)):
        dimensions = load_dimensions(dimensions, actors=actors, actor_name=actor_name)
    dimensions = list(dimensions)
    unmatched = [d for d in dimensions if d.target != ENGAGEMENT_TARGET and d.target not in actors]
    if unmatched and actors:  # with no actor at all in the inputs, every actor dimension is empty anyway
        findings += [f"dimension {d.key!r} targets {d.target!r}, which no sentence, prediction or label "
                     f"mentions (a typo?); actors in the inputs: {', '.join(actors)}" for d in unmatched]
    problems = findings + problems

    off_target = {(a.sentence_id, a.target) for a in adjudicated if a.off_target}
    exclude = set(off_target) if options.exclude_off_target_from_model else set()
    # A model with a relevance head says which sentences are about engagement at all; the
    # others ("Sign In Now", a report of a blast) say nothing for or against it.
    exclude |= {(p.sentence_id, p.target) for p in predictions
                if p.relevance is not None and p.relevance < options.relevance_threshold}

    # Articles: everything with data; metadata from the manifest, else from the sentences.
    article_ids = sorted({s.article_id for s in sentences} | {p.article_id for p in predictions}
                         | {a.article_id for a in adjudicated})
    first_sentence: dict[str, SentenceRecord] = {}
    n_sentences: Counter[str] = Counter()
    article_mentions: dict[str, Counter[str]] = defaultdict(Counter)
    for s in sorted(sentences, key=lambda s: (s.article_id, s.index)):
        first_sentence.setdefault(s.article_id, s)
        n_sentences[s.article_id] += 1
        article_mentions[s.article_id].update(m.actor for m in s.mentions)
    missing_meta = [a for a in article_ids if manifest and a not in manifest]
    if missing_meta:
        problems.append(f"{len(missing_meta)} article(s) not in the manifest, e.g. {missing_meta[0]}")

    def meta(article_id: str) -> dict[str, str]:
        out = {name: "" for name in _META_FIELDS}
        if article_id in manifest:
            out.update({name: _meta_value(manifest[article_id], name) for name in _META_FIELDS})
        fallback = first_sentence.get(article_id)
        if fallback is not None:
            out["title"] = out["title"] or fallback.title
            out["source"] = out["source"] or fallback.source
        return out

    preds_by_article: dict[str, list[PredictionRecord]] = defaultdict(list)
    for p in predictions:
        preds_by_article[p.article_id].append(p)
    human_by_article: dict[str, list[Any]] = defaultdict(list)
    for a in adjudicated:
        human_by_article[a.article_id].append(a)

    # observations[basis][dimension key][article id] -> sentence-ordered observations
    observations: dict[str, dict[str, dict[str, list[Observation]]]] = {b: defaultdict(dict) for b in BASES}
    excluded: dict[str, dict[str, dict[str, int]]] = {b: defaultdict(dict) for b in BASES}
    has_basis = {MODEL: bool(predictions), HUMAN: bool(adjudicated)}
    for dim in dimensions:
        for article_id in article_ids:
            if has_basis[MODEL]:
                obs = observations_from_predictions(preds_by_article.get(article_id, []), dim, labels=labels,
                                                    task_ids=task_ids, exclude=exclude)
                observations[MODEL][dim.key][article_id] = sorted(obs, key=ctx.order)
                excluded[MODEL][dim.key][article_id] = sum(
                    1 for p in preds_by_article.get(article_id, [])
                    if p.target == dim.target and (p.sentence_id, p.target) in exclude)
            if has_basis[HUMAN]:
                obs, n_excl = observations_from_adjudicated(human_by_article.get(article_id, []), dim, labels=labels)
                observations[HUMAN][dim.key][article_id] = sorted(obs, key=ctx.order)
                excluded[HUMAN][dim.key][article_id] = n_excl

    settings = {"min_sentences": options.min_sentences, "n_resamples": options.n_resamples,
                "confidence": options.confidence, "seed": options.seed, "n_evidence": options.n_evidence,
                "tie_policy": options.tie_policy,
                "exclude_off_target_from_model": options.exclude_off_target_from_model,
                "labelstudio_url": options.labelstudio_url, "project_id": options.project_id}

    score_options = {"min_sentences": options.min_sentences, "n_resamples": options.n_resamples,
                     "confidence": options.confidence, "n_evidence": options.n_evidence}

    def entry(scores: dict[str, DimensionScore | None], dim: Dimension, scope: str, scope_id: str,
              members: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {basis: ctx.score_dict(scores[basis], dim.target) for basis in BASES}
        point = difference(scores[MODEL], scores[HUMAN])
        raw_point = interval = raw_interval = None
        if point is not None:  # both bases scored: paired interval over their sentences
            model = scores[MODEL]
            assert model is not None and model.raw is not None and scores[HUMAN] is not None
            raw_point = model.raw[0] - scores[HUMAN].score  # type: ignore[operator]
            rng = rng_for(options.seed, scope, scope_id, dim.key, "difference")
            kind = target_kind(dim.target)
            human_model = [(observations[HUMAN][dim.key][a], observations[MODEL][dim.key][a]) for a in members]
            if kind in fitted.corrections:
                interval, raw_interval = paired_corrected_difference_ci(
                    [aligned_probabilities(h, m) for h, m in human_model], fitted.corrections[kind], values=values,
                    sign=dim.sign, confidence=options.confidence, rng=rng)
            else:
                raw_interval = paired_difference_ci([aligned_values(h, m) for h, m in human_model],
                                                    n_resamples=options.n_resamples, confidence=options.confidence,
                                                    rng=rng)
                # an uninformative model's uncertainty is the whole scale: no interval can exclude 0
                interval = None if kind in fitted.uninformative else raw_interval
        out["difference"] = rounded(point)
        out["difference_ci_low"], out["difference_ci_high"] = (rounded(interval[0]), rounded(interval[1])) \
            if interval else (None, None)
        out["raw_difference"] = rounded(raw_point)
        out["raw_difference_ci_low"], out["raw_difference_ci_high"] = \
            (rounded(raw_interval[0]), rounded(raw_interval[1])) if raw_interval else (None, None)
        # flagged when the interval of model - human (sentences, both bases and the confusion
        # resampled together) excludes 0: they disagree by more than either's uncertainty
        out["disagreement"] = None if interval is None else bool(interval[0] > 0 or interval[1] < 0)
        return out

    def model_score(dim: Dimension, members: Sequence[str], stream: tuple[str, ...], *,
                    source: bool) -> DimensionScore:
        """The model basis of an article (``source=False``: members is that article) or a source,
        corrected when the dimension's target kind has a correction."""
        kind = target_kind(dim.target)
        correction = fitted.corrections.get(kind)
        rng = rng_for(options.seed, *stream, dim.key, MODEL)
        mark = uninformative if kind in fitted.uninformative else uncorrected
        n_excluded = sum(excluded[MODEL][dim.key][a] for a in members)
        if not source:
            obs = observations[MODEL][dim.key][members[0]]
            if correction is None:
                return mark(score_observations(obs, n_excluded=n_excluded, rng=rng, **score_options))
            return score_model_observations(obs, correction, values=values, sign=dim.sign, n_excluded=n_excluded,
                                            rng=rng, **{k: v for k, v in score_options.items() if k != "n_resamples"})
        by_article = {a: observations[MODEL][dim.key][a] for a in members}
        if correction is None:
            return mark(aggregate_source(by_article, n_excluded=n_excluded, rng=rng, **score_options))
        return aggregate_source(by_article, n_excluded=n_excluded, rng=rng, correction=correction, values=values,
                                sign=dim.sign, **score_options)

    articles: dict[str, Any] = {}
    for article_id in article_ids:
        dims_out = {}
        for dim in dimensions:
            scores: dict[str, DimensionScore | None] = {
                HUMAN: score_observations(
                    observations[HUMAN][dim.key][article_id], n_excluded=excluded[HUMAN][dim.key][article_id],
                    rng=rng_for(options.seed, "article", article_id, dim.key, HUMAN), **score_options,
                ) if has_basis[HUMAN] else None,
                MODEL: model_score(dim, [article_id], ("article", article_id), source=False)
                if has_basis[MODEL] else None}
            dims_out[dim.key] = entry(scores, dim, "article", article_id, [article_id])
        articles[article_id] = {
            **meta(article_id),
            "n_sentences": n_sentences.get(article_id, 0),
            "actors": dict(article_mentions[article_id].most_common()),
            "dimensions": dims_out,
        }

    # Articles without a known source are not pooled into a pseudo-outlet: four unrelated
    # articles are not a source. They are listed under "unattributed_articles".
    by_source: dict[str, list[str]] = defaultdict(list)
    unattributed = []
    for article_id in article_ids:
        source = articles[article_id]["source"].strip()
        (by_source[source] if source else unattributed).append(article_id)
    sources: dict[str, Any] = {}
    for source in sorted(by_source):
        members = by_source[source]
        # A one-article source is that article's sentence bootstrap, so it draws the same
        # random stream and shows the same interval as the article.
        stream = ("article", members[0]) if len(members) == 1 else ("source", source)
        dims_out = {}
        for dim in dimensions:
            scores = {
                HUMAN: aggregate_source(
                    {a: observations[HUMAN][dim.key][a] for a in members},
                    n_excluded=sum(excluded[HUMAN][dim.key][a] for a in members),
                    rng=rng_for(options.seed, *stream, dim.key, HUMAN), **score_options,
                ) if has_basis[HUMAN] else None,
                MODEL: model_score(dim, members, stream, source=True) if has_basis[MODEL] else None}
            dims_out[dim.key] = entry(scores, dim, *stream, members)
        sources[source] = {"n_articles": len(members), "articles": members, "dimensions": dims_out}

    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "labels": list(labels),
        "bases": [b for b in BASES if has_basis[b]],
        "settings": settings,
        "inputs": {**dict(inputs or {}), "n_sentences": len(sentences), "n_predictions": len(predictions),
                   "n_annotations": len(annotations), "n_adjudicated": len(adjudicated),
                   "n_annotators": len({a.annotator for a in annotations}),
                   "model_versions": model_versions},
        "dimensions": {d.key: d.to_dict() for d in dimensions},
        "actors": {a: {"name": actor_name(a), "n_mentions": mention_counts.get(a, 0)} for a in actors},
        "articles": articles,
        "sources": sources,
        "unattributed_articles": unattributed,
        "correction": fitted.info,
        "problems": problems,
    }


__all__ = [
    "BASES",
    "HUMAN",
    "MODEL",
    "SCHEMA_VERSION",
    "ReportOptions",
    "actor_display_name",
    "build_report",
    "labelstudio_task_url",
]
