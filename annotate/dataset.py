"""The stance training dataset: adjudicated labels -> ``datasets.DatasetDict``, saved with a card.

One row per (sentence, target) that has a settled stance label; off-target items ("this
mention is not that actor") and unresolved ties are left out. Columns are exactly
:func:`annotate.dataset_features.stance_features` (the label is the ``ClassLabel`` of
``label_config.xml``).

Splits are grouped by article: all sentences of an article land in one split, so a model
is never tested on an article it saw in training. :func:`grouped_kfold` gives the k-fold
variant (leave-one-article-out when ``k`` equals the number of articles).

``datasets`` is imported inside functions: importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotate.adjudication import AdjudicatedLabel, adjudicate
from annotate.atomic import write_folder_atomically
from annotate.dataset_features import FEATURE_NAMES, stance_features
from annotate.jsonl import read_jsonl
from annotate.labels import ENGAGEMENT_TARGET, load_label_set
from annotate.schema import AnnotationRecord, Mention, SentenceRecord, records_of

if TYPE_CHECKING:  # pragma: no cover
    import datasets

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


class AnnotationFileError(ValueError):
    """An annotations file cannot be used; the message names the file (and line)."""


# ----------------------------------------------------------------------------- reading


def read_annotations(paths: Sequence[str | Path] | str | Path, *,
                     errors: list[str] | None = None) -> list[AnnotationRecord]:
    """Read and merge ``annotations.jsonl`` files (one :class:`AnnotationRecord` per line).

    Args:
        paths: one or more files; records are concatenated in order. The same annotation
            appearing in two exports is harmless: adjudication keeps one vote per annotator.
        errors: if given, each bad line is appended as ``"file:line: what is wrong"`` and
            skipped (the rest is read); if ``None``, the first bad line raises.

    Raises:
        AnnotationFileError: a file is missing or not UTF-8, or (``errors is None``) a line is bad.
    """
    if isinstance(paths, (str, os.PathLike)):  # one path, not its characters
        paths = [paths]
    records: list[AnnotationRecord] = []
    for path in paths:
        records += read_jsonl(path, AnnotationRecord.from_dict, errors=errors, error=AnnotationFileError,
                              bad_record="not an annotation record")
    return records


def annotation_provenance(files: Mapping[str | Path, Sequence[AnnotationRecord]]) -> dict[str, Any]:
    """Where labels came from: per file its sha256, record count and annotator count.

    Annotator identities are counted, not listed (the card is meant to be shared).
    """
    entries, everyone = [], set()
    for path, records in files.items():
        path = Path(path)
        annotators = {r.annotator for r in records if r.status == "submitted"}
        everyone |= annotators
        entries.append({
            "file": str(path),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None,
            "n_records": len(records),
            "n_annotators": len(annotators),
            "status": dict(Counter(r.status for r in records)),
            "ground_truth_records": sum(r.ground_truth for r in records),
        })
    return {"annotation_files": entries, "n_annotators": len(everyone)}


def adjudicated_provenance(files: Mapping[str | Path, Sequence[AdjudicatedLabel]]) -> list[dict[str, Any]]:
    """Where reviewed labels came from: per adjudicated-labels file its sha256, item count
    and how the items were resolved (``resolved_by`` counts)."""
    return [{
        "file": str(path),
        "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).is_file() else None,
        "n_items": len(items),
        "resolved_by": dict(Counter(item.resolved_by for item in items)),
    } for path, items in files.items()]


# ----------------------------------------------------------------------------- rows


def _source_of(article_id: str, manifest: Mapping[str, Any] | None) -> str:
    meta = (manifest or {}).get(article_id)
    if meta is None:
        return ""
    value = meta.get("source", "") if isinstance(meta, Mapping) else getattr(meta, "source", "")
    return value or ""


def dataset_rows(
    adjudicated: Iterable[AdjudicatedLabel],
    *,
    sentences: Mapping[str, SentenceRecord] | None = None,
    manifest: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Feature rows (label as a class name) and a count of the items left out, by reason.

    Reasons: ``off_target``, ``unresolved``, ``no_text`` (neither the label nor
    ``sentences`` carries the sentence). Missing text, source or mentions are filled from
    ``sentences`` (by sentence id) and the source from ``manifest`` (by article id).
    """
    sentences = sentences or {}
    rows, left_out = [], Counter()
    for item in adjudicated:
        if item.off_target:
            left_out["off_target"] += 1
            continue
        if item.label is None:
            left_out["unresolved"] += 1
            continue
        sentence = sentences.get(item.sentence_id)
        text = item.text or (sentence.text if sentence else "")
        if not text:
            left_out["no_text"] += 1
            log.warning("sentence %s (target %s) has no text in the annotations or sentences; left out",
                        item.sentence_id, item.target)
            continue
        mentions: list[Mention] = []
        if item.target != ENGAGEMENT_TARGET:
            mentions = list(item.mentions) or ([m for m in sentence.mentions if m.actor == item.target] if sentence else [])
            mentions.sort(key=lambda m: m.start)
        source = item.source or (sentence.source if sentence else "") or _source_of(item.article_id, manifest)
        rows.append({
            "sentence_id": item.sentence_id,
            "article_id": item.article_id,
            "source": source,
            "text": text,
            "target": item.target,
            "target_text": ENGAGEMENT_TARGET if item.target == ENGAGEMENT_TARGET
            else (mentions[0].text if mentions else item.target),
            "mention_start": [m.start for m in mentions],
            "mention_end": [m.end for m in mentions],
            "label": item.label,
            "n_annotators": item.n_annotators,
            "agreement": float(item.agreement),
        })
    return rows, left_out


#: The relevance file of a dataset folder: one line per engagement item, about it or not.
RELEVANCE_FILE = "relevance.jsonl"


def relevance_rows(
    adjudicated: Iterable[AdjudicatedLabel],
    *,
    dataset: Mapping[str, Any],
    sentences: Mapping[str, SentenceRecord] | None = None,
) -> list[dict[str, Any]]:
    """Whether each sentence is about engagement at all, for the model's relevance head.

    One row ``{"sentence_id", "article_id", "text", "about", "split"}`` per adjudicated
    engagement item with a text: ``about`` is False where humans chose the off-target choice
    ("not about engagement"), True where they gave a stance; unresolved items are left out.
    ``split`` is the stance split of the row's article in ``dataset`` (a ``DatasetDict``),
    so relevance is trained and tested on the same articles as stance; an article with no
    stance row is put in ``train``.
    """
    split_of = {a: name for name, split in dataset.items() for a in split["article_id"]}
    sentences = sentences or {}
    rows = []
    for item in adjudicated:
        if item.target != ENGAGEMENT_TARGET or (item.label is None and not item.off_target):
            continue
        sentence = sentences.get(item.sentence_id)
        text = item.text or (sentence.text if sentence else "")
        if not text:
            continue
        rows.append({"sentence_id": item.sentence_id, "article_id": item.article_id, "text": text,
                     "about": not item.off_target, "split": split_of.get(item.article_id, "train")})
    return rows


def rows_to_dataset(rows: Sequence[Mapping[str, Any]]) -> datasets.Dataset:
    """A ``Dataset`` with the stance features from row dicts whose label is a class name."""
    import datasets

    features = stance_features()
    columns = {name: [row[name] for row in rows] for name in FEATURE_NAMES}
    columns["label"] = [features["label"].str2int(name) for name in columns["label"]]
    return datasets.Dataset.from_dict(columns, features=features)


# ----------------------------------------------------------------------------- splits


def split_articles(
    article_ids: Iterable[str], *, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> dict[str, list[str]]:
    """Assign whole articles to train / validation / test.

    Articles are shuffled with ``seed``; test gets ``round(test_fraction * n)`` articles and
    validation ``round(val_fraction * n)``, each at least one when its fraction is positive,
    as long as train keeps at least one (five articles at 0.2/0.2 give 3/1/1). With too few
    articles validation is emptied first, then test.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction + test_fraction must be below 1 (train needs articles)")
    ids = sorted(set(article_ids))
    random.Random(seed).shuffle(ids)
    n = len(ids)

    def share(fraction: float) -> int:
        return 0 if fraction == 0 else max(1, round(fraction * n))

    n_test, n_val = share(test_fraction), share(val_fraction)
    while n_test + n_val > max(n - 1, 0) and (n_val or n_test):
        if n_val:
            n_val -= 1
        else:
            n_test -= 1
    return {"test": ids[:n_test], "validation": ids[n_test:n_test + n_val], "train": ids[n_test + n_val:]}


def build_dataset(
    records_or_adjudicated: Iterable[AnnotationRecord] | Iterable[AdjudicatedLabel],
    *,
    sentences: Iterable[SentenceRecord] | Mapping[str, SentenceRecord] | None = None,
    manifest: Mapping[str, Any] | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    tie_policy: str = "unresolved",
) -> datasets.DatasetDict:
    """Build train / validation / test grouped by article.

    Args:
        records_or_adjudicated: annotation records (adjudicated here with ``tie_policy``;
            merge several exports by concatenating them) or already adjudicated labels.
        sentences: ``sentences.jsonl`` records, to fill text, source and mentions.
        manifest: article id -> metadata with a ``source`` (``annotate.corpus.load_manifest``).
        seed, val_fraction, test_fraction: see :func:`split_articles`.

    Returns:
        ``DatasetDict`` with ``train``, ``validation`` and ``test`` (possibly empty, always
        present), each with :func:`stance_features`. No article is in two splits.

    Raises:
        ValueError: adjudicated labels that give one (sentence, target) more than once
            (merge them first: :func:`annotate.adjudication.merge_adjudicated`).
    """
    import datasets

    if isinstance(records_or_adjudicated, (str, os.PathLike)):
        # a path, as `slant dataset` takes: adjudicated.jsonl or annotations.jsonl
        from annotate.adjudication import is_adjudicated_file, read_adjudicated

        path = records_or_adjudicated
        items = (read_adjudicated(path) if is_adjudicated_file(path)
                 else records_of(path, AnnotationRecord, name="records_or_adjudicated"))
    elif isinstance(records_or_adjudicated, (AnnotationRecord, AdjudicatedLabel, Mapping)) \
            or not isinstance(records_or_adjudicated, Iterable):
        raise TypeError("records_or_adjudicated must be a path or an iterable of AnnotationRecords or "
                        f"AdjudicatedLabels, not {type(records_or_adjudicated).__name__}")
    else:
        items = list(records_or_adjudicated)
    if items and all(isinstance(i, AnnotationRecord) for i in items):
        items = adjudicate(items, tie_policy=tie_policy)
    elif not all(isinstance(i, AdjudicatedLabel) for i in items):
        raise TypeError("build_dataset takes AnnotationRecords or AdjudicatedLabels, not a mix")
    counts = Counter((i.sentence_id, i.target) for i in items)
    repeated = [f"{s}/{t}" for (s, t), n in counts.items() if n > 1]
    if repeated:
        raise ValueError(f"{len(repeated)} (sentence, target) item(s) have more than one adjudicated label "
                         f"(e.g. {', '.join(repeated[:3])}): a row would be trained on twice; merge them first "
                         "(annotate.adjudication.merge_adjudicated)")
    if sentences is not None and not isinstance(sentences, Mapping):
        sentences = {s.sentence_id: s for s in records_of(sentences, SentenceRecord, name="sentences")}
    if isinstance(manifest, (str, os.PathLike)):  # a manifest file, as `slant dataset --manifest` takes
        from annotate.corpus import load_manifest

        manifest = load_manifest(manifest)
    rows, left_out = dataset_rows(items, sentences=sentences, manifest=manifest)
    log.info("dataset: %d rows; left out %s", len(rows), dict(left_out) or "nothing")
    assignment = split_articles((r["article_id"] for r in rows), seed=seed,
                                val_fraction=val_fraction, test_fraction=test_fraction)
    split_of = {a: split for split, ids in assignment.items() for a in ids}
    return datasets.DatasetDict(
        {split: rows_to_dataset([r for r in rows if split_of[r["article_id"]] == split]) for split in SPLITS}
    )


def _concatenate(dataset: datasets.Dataset | datasets.DatasetDict) -> datasets.Dataset:
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        parts = [dataset[s] for s in dataset if len(dataset[s])]
        return datasets.concatenate_datasets(parts) if parts else next(iter(dataset.values()))
    return dataset


def grouped_kfold_articles(article_ids: Iterable[str], k: int, *, seed: int = 0,
                           sizes: Mapping[str, int] | None = None) -> list[list[str]]:
    """Partition articles into ``k`` folds of similar size (rows), each article in one fold.

    Greedy: largest article first into the fold with the fewest rows (ties broken by a
    seeded shuffle). ``k`` equal to the number of articles gives one article per fold.
    """
    ids = sorted(set(article_ids))
    if not 2 <= k <= len(ids):
        raise ValueError(f"k must be between 2 and the number of articles ({len(ids)}), got {k}")
    random.Random(seed).shuffle(ids)
    sizes = sizes or {}
    ids.sort(key=lambda a: -sizes.get(a, 1))  # stable: shuffled order among equal sizes
    folds: list[list[str]] = [[] for _ in range(k)]
    load = [0] * k
    for article in ids:
        # Empty folds first (so every fold gets an article), then the lightest fold.
        j = min(range(k), key=lambda f: (len(folds[f]) > 0, load[f]))
        folds[j].append(article)
        load[j] += sizes.get(article, 1)
    return [sorted(f) for f in folds]


def grouped_kfold(
    dataset: datasets.Dataset | datasets.DatasetDict, k: int, *, seed: int = 0
) -> list[datasets.DatasetDict]:
    """``k`` train/test folds grouped by article (all splits of a ``DatasetDict`` pooled).

    Returns one ``DatasetDict({"train", "test"})`` per fold; every article is in exactly
    one fold's test set. ``k`` equal to the number of articles is leave-one-article-out.
    Raises ``ValueError`` when ``k < 2`` or ``k`` exceeds the number of articles.
    """
    import datasets

    data = _concatenate(dataset)
    articles = data["article_id"]
    folds = grouped_kfold_articles(articles, k, seed=seed, sizes=Counter(articles))
    result = []
    for test_ids in folds:
        test = set(test_ids)
        test_rows = [i for i, a in enumerate(articles) if a in test]
        train_rows = [i for i, a in enumerate(articles) if a not in test]
        result.append(datasets.DatasetDict({"train": data.select(train_rows), "test": data.select(test_rows)}))
    return result


# ----------------------------------------------------------------------------- saving


def _counts(dd: datasets.DatasetDict) -> dict[str, Any]:
    names = load_label_set().stance
    per_split = {}
    for split, ds in dd.items():
        labels = [names[i] for i in ds["label"]]
        by_target: dict[str, Counter] = {}
        for target, label in zip(ds["target"], labels):
            by_target.setdefault(target, Counter())[label] += 1
        per_split[split] = {
            "rows": len(ds),
            "articles": sorted(set(ds["article_id"])),
            "labels": {n: labels.count(n) for n in names},
            "targets": {t: {n: c[n] for n in names} for t, c in sorted(by_target.items())},
        }
    return per_split


def _markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def dataset_card(dd: datasets.DatasetDict, *, provenance: Mapping[str, Any] | None = None,
                 folds: Sequence[Sequence[str]] | None = None) -> str:
    """The dataset card (``README.md``): counts per split, label and target, and provenance."""
    names = load_label_set().stance
    counts = _counts(dd)
    provenance = dict(provenance or {})
    front = ["---"]
    filled = [split for split, ds in dd.items() if len(ds)]
    if filled:  # an empty `data_files:` would be YAML null, which the Hub's loader rejects
        front += ["configs:", "- config_name: default", "  data_files:"]
        for split in filled:
            front += [f"  - split: {split}", f"    path: parquet/{split}.parquet"]
    front += ["task_categories:", "- text-classification", "language:", "- en", "---", ""]
    parts = ["\n".join(front), "# Slant stance dataset", "",
             "Stance of news sentences toward political actors and toward engagement (dialogue and "
             "negotiation), one row per (sentence, target), built by `slant dataset` from Label Studio "
             "annotations after adjudication. Labels: " + ", ".join(f"`{n}`" for n in names)
             + " (read from `label_config.xml`; ordinal order). Splits are grouped by article: no article "
             "is in two splits.", "", "## Counts per split and label", "",
             _markdown_table(["split", "rows", "articles", *names],
                             [(s, c["rows"], len(c["articles"]), *(c["labels"][n] for n in names))
                              for s, c in counts.items()]),
             "", "## Counts per target (all splits)", ""]
    total: dict[str, Counter] = {}
    for c in counts.values():
        for target, by_label in c["targets"].items():
            total.setdefault(target, Counter()).update(by_label)
    parts.append(_markdown_table(["target", "rows", *names],
                                 [(t, sum(c.values()), *(c[n] for n in names)) for t, c in sorted(total.items())]))
    parts += ["", "## Counts per split and target", ""]
    parts.append(_markdown_table(["split", "target", *names],
                                 [(s, t, *(by[n] for n in names)) for s, c in counts.items()
                                  for t, by in c["targets"].items()]))
    parts += ["", "## Articles per split", ""]
    parts += [f"- **{s}**: " + (", ".join(f"`{a}`" for a in c["articles"]) or "(none)") for s, c in counts.items()]
    if folds:
        parts += ["", f"## Grouped {len(folds)}-fold assignment (test articles per fold)", ""]
        parts += [f"- fold {i}: " + ", ".join(f"`{a}`" for a in f) for i, f in enumerate(folds)]
    parts += ["", "## Provenance", ""]
    files = provenance.pop("annotation_files", [])
    if files:
        parts.append(_markdown_table(["annotation file", "sha256", "records", "annotators", "status", "ground truth"],
                                     [(f["file"], (f["sha256"] or "")[:12], f["n_records"], f["n_annotators"],
                                       ", ".join(f"{k}: {v}" for k, v in f["status"].items()), f["ground_truth_records"])
                                      for f in files]))
        parts.append("")
    reviewed = provenance.pop("adjudicated_files", [])
    if reviewed:
        parts.append(_markdown_table(["adjudicated file", "sha256", "items", "resolved by"],
                                     [(f["file"], (f["sha256"] or "")[:12], f["n_items"],
                                       ", ".join(f"{k}: {v}" for k, v in f["resolved_by"].items()))
                                      for f in reviewed]))
        parts.append("")
    for key, value in provenance.items():
        parts.append(f"- {key}: {json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value}")
    parts += ["", "## Fields", "",
              "`sentence_id`, `article_id`, `source` (outlet), `text` (the sentence), `target` (actor id or "
              "`engagement`), `target_text` (first mention's surface form; `engagement`), `mention_start`/"
              "`mention_end` (target spans in `text`; empty for engagement), `label` (ClassLabel), "
              "`n_annotators` (annotators who voted), `agreement` (share of them agreeing with the final label). "
              "See `docs/schema.md` in the Slant repository.", ""]
    return "\n".join(parts)


def save_dataset(
    dd: datasets.DatasetDict,
    out_dir: str | Path,
    *,
    provenance: Mapping[str, Any] | None = None,
    k_folds: int | None = None,
    seed: int = 0,
    relevance: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Save ``dd`` to ``out_dir``: ``save_to_disk`` files, ``parquet/<split>.parquet`` (non-empty splits),
    ``README.md`` (the card), ``counts.json``, with ``k_folds``, ``folds.json``, and with
    ``relevance`` (:func:`relevance_rows`), :data:`RELEVANCE_FILE`.

    The directory is written next to its final place and swapped in with one rename
    (:func:`annotate.atomic.write_folder_atomically`), so an interrupted or failed save (a
    kill, a full disk) leaves the previous dataset whole, and leftovers of killed saves are
    tidied by the next one. An existing ``out_dir`` is replaced only if it
    is empty or a dataset saved before (else ``FileExistsError``: nothing else is deleted).
    ``datasets.load_from_disk(out_dir)`` and ``load_dataset("parquet", ...)`` both read it.
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "dataset_dict.json").is_file())):
        # Never wipe a folder that is not a dataset saved here before.
        raise FileExistsError(f"{out}: exists and is not a Slant dataset folder; choose an empty or new --out")
    if out.is_dir() and (out / "dataset_dict.json").is_file():
        # The whole folder is swapped, so anything else in it (a model trained into it, the
        # annotations being read) would go with it.
        foreign = sorted(p.name for p in out.iterdir() if p.name not in _dataset_entries(out))
        if foreign:
            raise FileExistsError(f"{out}: holds files that are not part of the dataset ({', '.join(foreign)}); "
                                  f"move them or choose another --out")
    def fill(tmp: Path) -> None:
        # An empty split needs one explicit (empty) shard, or load_from_disk cannot read it back.
        dd.save_to_disk(str(tmp), num_shards={split: 1 for split, ds in dd.items() if len(ds) == 0} or None)
        (tmp / "parquet").mkdir()
        for split, ds in dd.items():
            if len(ds):  # an empty Parquet file breaks load_dataset("parquet"); the card omits it too
                ds.to_parquet(str(tmp / "parquet" / f"{split}.parquet"))
        folds = None
        if k_folds:
            sizes = Counter(a for ds in dd.values() for a in ds["article_id"])
            folds = grouped_kfold_articles(sizes, k_folds, seed=seed, sizes=sizes)
            (tmp / "folds.json").write_text(json.dumps({"k": k_folds, "seed": seed, "test_articles": folds},
                                                       indent=1) + "\n", encoding="utf-8")
        if relevance:
            (tmp / RELEVANCE_FILE).write_text("".join(json.dumps(dict(r), ensure_ascii=False) + "\n"
                                                      for r in relevance), encoding="utf-8")
        card_provenance = dict(provenance or {})
        card_provenance.setdefault("created", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        (tmp / "counts.json").write_text(json.dumps(_counts(dd), indent=1) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(dataset_card(dd, provenance=card_provenance, folds=folds), encoding="utf-8")

    write_folder_atomically(out, fill)
    return out


def _dataset_entries(folder: Path) -> set[str]:
    """Names :func:`save_dataset` writes in ``folder``: its files and one folder per split."""
    try:
        splits = json.loads((folder / "dataset_dict.json").read_text(encoding="utf-8")).get("splits", [])
    except (OSError, ValueError, AttributeError):
        splits = []
    return {"dataset_dict.json", "README.md", "counts.json", "folds.json", "parquet", RELEVANCE_FILE,
            *map(str, splits)}


def agreement_summary(adjudicated: Sequence[AdjudicatedLabel]) -> dict[str, Any]:
    """Counts of how items were settled (for provenance): by ``resolved_by``, off target, unresolved."""
    return {
        "items": len(adjudicated),
        "resolved_by": dict(Counter(a.resolved_by for a in adjudicated)),
        "off_target": sum(a.off_target for a in adjudicated),
        "unresolved": sum(a.unresolved for a in adjudicated),
        "mean_agreement": (round(sum(a.agreement for a in adjudicated) / len(adjudicated), 4)
                           if adjudicated else None),  # None, not NaN: the card's JSON stays valid
    }
