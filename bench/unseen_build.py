"""Build the unseen-article check set from its authoring files, through a real Label Studio.

The check set (``bench/unseen/``) holds articles written for the purpose from standpoints the
seeds lack, each sentence labeled by one labeler while writing it (``authoring-*.txt``: one
sentence per line, then ``||`` and its labels). This script turns an authoring file into what
the rest of Slant reads, the same way the seeds' gold was made:

1. ``<split>/articles/*.txt`` and ``<split>/manifest.toml`` (one paragraph per line; the title is in the manifest);
2. ``slant ingest`` on them; every ingested sentence must match one authored line, and the
   actors the detector found must be exactly the actors labeled on that line (a mismatch is an
   error naming the line: the labels and the detector must agree before anything is pushed);
3. ``<split>/labels.jsonl``: the labeling worksheet, one line per (sentence, target);
4. a Label Studio project (``--project``, default "Slant unseen <split>") with one task per
   sentence, the labels entered as annotations of the one labeler's account, pulled back as
   ``<split>/export.json`` (a real Label Studio JSON export) and ``<split>/annotations.jsonl``.

Run with a Label Studio running (``slant labelstudio start``) or ``LABEL_STUDIO_URL`` /
``LABEL_STUDIO_API_KEY`` set::

    python bench/unseen_build.py --split test
    python bench/unseen_build.py --split dev
    python bench/unseen_build.py --split test --no-labelstudio   # steps 1-3 only
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKSET = HERE / "unseen"
ANNOTATOR = "checkset-labeler@slant.local"
CODES = {"c": "critical", "n": "neutral", "f": "favorable"}
WRITTEN_ON = "2026-12-02"


@dataclass
class AuthoredLine:
    text: str
    labels: dict[str, str]  # target -> code (c/n/f, x = not about engagement, na = not that actor)
    line: int


@dataclass
class AuthoredArticle:
    article_id: str
    title: str
    standpoint: str
    paragraphs: list[list[AuthoredLine]] = field(default_factory=list)


def parse_authoring(path: Path) -> list[AuthoredArticle]:
    """Articles of an authoring file; raises ``ValueError`` naming ``path:line`` on a bad line."""
    articles: list[AuthoredArticle] = []
    paragraph: list[AuthoredLine] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line.startswith("==="):
            parts = [p.strip() for p in line[3:].split("|")]
            if len(parts) != 3:
                raise ValueError(f"{path}:{number}: an article header is '=== id | title | standpoint'")
            articles.append(AuthoredArticle(*parts))
            paragraph = []
            continue
        if not line:
            paragraph = []
            continue
        if not articles:
            raise ValueError(f"{path}:{number}: a sentence before the first '===' header")
        if "||" not in line:
            raise ValueError(f"{path}:{number}: no '||' between the sentence and its labels")
        text, _, codes = (s.strip() for s in line.partition("||"))
        labels = {}
        for item in filter(None, (c.strip() for c in codes.split(";"))):
            target, _, code = (s.strip() for s in item.partition("="))
            target = "engagement" if target == "eng" else target
            allowed = {"c", "n", "f", "x"} if target == "engagement" else {"c", "n", "f", "na"}
            if code not in allowed or target in labels:
                raise ValueError(f"{path}:{number}: bad or repeated label {item!r}")
            labels[target] = code
        if "engagement" not in labels:
            raise ValueError(f"{path}:{number}: no eng= label")
        if not paragraph:
            articles[-1].paragraphs.append(paragraph)
        paragraph.append(AuthoredLine(text, labels, number))
    return articles


def write_articles(articles: list[AuthoredArticle], folder: Path) -> None:
    (folder / "articles").mkdir(parents=True, exist_ok=True)
    manifest = ["# Articles written for Slant's unseen-article check set (not real publications).", ""]
    for article in articles:
        body = "\n\n".join(" ".join(line.text for line in para) for para in article.paragraphs)
        (folder / "articles" / f"{article.article_id}.txt").write_text(body + "\n", encoding="utf-8")
        manifest += [
            "[[article]]",
            f'id = "{article.article_id}"',
            f"title = {json.dumps(article.title)}",
            'source = "Slant check set (written for the purpose)"',
            'author = "Slant developer (AI assistant)"',
            f'date = "{WRITTEN_ON}"',
            'url = ""',
            f"notes = {json.dumps('Written for the purpose on ' + WRITTEN_ON + '; standpoint: ' + article.standpoint)}",
            "",
        ]
    (folder / "manifest.toml").write_text("\n".join(manifest), encoding="utf-8")


def label_records(articles: list[AuthoredArticle], records, *, path: Path) -> tuple[list[dict], list[str]]:
    """Worksheet rows for the ingested ``records``; and the problems found (empty when all agree)."""
    by_text = {(a.article_id, line.text): line for a in articles for para in a.paragraphs for line in para}
    rows, problems, seen = [], [], set()
    for record in records:
        line = by_text.get((record.article_id, record.text))
        if line is None:
            problems.append(f"{record.article_id}: ingested sentence matches no authored line: {record.text!r}")
            continue
        seen.add((record.article_id, record.text))
        found, labeled = set(record.actors()), set(line.labels) - {"engagement"}
        if found != labeled:
            problems.append(f"{path}:{line.line}: detector found {sorted(found)}, labels name {sorted(labeled)}")
            continue
        for target, code in line.labels.items():
            off = code in ("x", "na")
            rows.append({"sentence_id": record.sentence_id, "article_id": record.article_id, "target": target,
                         "label": None if off else CODES[code], "off_target": off, "note": ""})
    for key, line in by_text.items():
        if key not in seen:
            problems.append(f"{path}:{line.line}: authored line was not ingested as one sentence: {line.text!r}")
    return rows, problems


def annotation_records(rows: list[dict], records) -> list:
    from annotate.schema import AnnotationRecord

    by_id = {r.sentence_id: r for r in records}
    out = []
    for row in rows:
        sentence = by_id[row["sentence_id"]]
        out.append(AnnotationRecord(
            task_id=None, sentence_id=row["sentence_id"], article_id=row["article_id"], target=row["target"],
            label=row["label"], annotator=ANNOTATOR, off_target=row["off_target"], text=sentence.text,
            source=sentence.source, mentions=[m for m in sentence.mentions if m.actor == row["target"]]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "test"], required=True)
    parser.add_argument("--project", default=None, help="Label Studio project title")
    parser.add_argument("--no-labelstudio", action="store_true", help="stop after labels.jsonl")
    args = parser.parse_args(argv)

    from annotate.corpus import ingest_paths, load_manifest, write_jsonl

    source = CHECKSET / f"authoring-{args.split}.txt"
    folder = CHECKSET / args.split
    articles = parse_authoring(source)
    write_articles(articles, folder)
    ingested = ingest_paths([folder / "articles"], manifest=load_manifest(folder / "manifest.toml"), progress=False)
    if ingested.errors:
        print("\n".join(map(str, ingested.errors)), file=sys.stderr)
        return 1
    rows, problems = label_records(articles, ingested.records, path=source)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    write_jsonl(folder / "sentences.jsonl", ingested.records)
    (folder / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    counts: dict[str, int] = {}
    for row in rows:
        key = "off" if row["off_target"] else row["label"]
        counts[key] = counts.get(key, 0) + 1
    print(f"{args.split}: {len(articles)} articles, {len(ingested.records)} sentences, {len(rows)} labels {counts}")
    if args.no_labelstudio:
        return 0

    from annotate.labelstudio.connection import connect
    from annotate.labelstudio.pull import export_project, pull
    from annotate.labelstudio.push import find_project, push_annotations, push_sentences

    conn = connect()
    project = args.project or f"Slant unseen {args.split}"
    push_sentences(conn, ingested.records, project=project)
    by_id = {r.sentence_id: r for r in ingested.records}
    push_annotations(conn, annotation_records(rows, ingested.records), project=project, sentences=by_id,
                     progress=False)
    pulled = pull(conn, project=project, out=folder / "annotations.jsonl")
    tasks = export_project(conn, find_project(conn, project))
    (folder / "export.json").write_text(json.dumps(tasks, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.split}: Label Studio project {project!r}: {len(tasks)} tasks, {len(pulled.records)} records pulled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
