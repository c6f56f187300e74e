"""Benchmark: push 10,000 tasks to Label Studio and pull them back.

Prints seconds for ``slant push`` (our push_sentences: project lookup, idempotency check,
batched import with predictions-free tasks) and ``slant pull`` (export + flatten), next
to ONE raw label-studio-sdk ``projects.import_tasks`` call with the same 10,000 tasks
into another project (the floor: the server's own import time).

Usage:
    python bench/labelstudio.py                      # starts a throwaway server in a temp dir
    python bench/labelstudio.py --url URL --token-file FILE   # or an existing server
Each run uses fresh projects; the temporary server is stopped by pid at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotate.labels import load_label_set
from annotate.labelstudio.connection import connect
from annotate.labelstudio.pull import pull
from annotate.labelstudio.push import existing_tasks, push_annotations, push_sentences
from annotate.labelstudio.server import LocalServer
from annotate.labelstudio.tasks import task_data
from annotate.schema import AnnotationRecord, Mention, SentenceRecord

LABELS = load_label_set()

ACTORS = [("pakistan", "Pakistan"), ("afghan_taliban", "the Taliban"), ("ttp", "TTP"), ("united_states", "Washington"),
          ("china", "Beijing"), ("india", "New Delhi")]


def synthetic_sentences(n: int, seed: int = 0) -> list[SentenceRecord]:
    """``n`` distinct sentences mentioning 1-3 actors (benchmark data, not a corpus)."""
    rng = random.Random(seed)
    sentences = []
    for i in range(n):
        chosen = rng.sample(ACTORS, rng.randint(1, 3))
        parts, mentions, cursor = [], [], 0
        for actor, surface in chosen:
            prefix = f"Sentence {i}: " if not parts else " and "
            cursor += len(prefix)
            parts.append(prefix + surface)
            mentions.append(Mention(actor, surface, cursor, cursor + len(surface)))
            cursor += len(surface)
        text = "".join(parts) + " met to discuss the ceasefire."
        sentences.append(SentenceRecord(sentence_id=f"bench-{i:06d}", article_id=f"bench-article-{i // 40:04d}",
                                        index=i % 40, text=text, start=0, end=len(text), mentions=mentions,
                                        context_before="The previous sentence.", context_after="The next sentence.",
                                        title="Benchmark article", source="Benchmark outlet"))
    return sentences


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(conn, n: int, batch_size: int) -> dict[str, float]:
    sentences = synthetic_sentences(n)
    tag = uuid.uuid4().hex[:6]
    figures: dict[str, float] = {}

    start = time.perf_counter()
    result = push_sentences(conn, sentences, project=f"bench-push-{tag}", batch_size=batch_size)
    figures["push"] = time.perf_counter() - start
    assert result.created == n, result.summary()

    start = time.perf_counter()
    again = push_sentences(conn, sentences, project=f"bench-push-{tag}", batch_size=batch_size, progress=False)
    figures["push again (idempotent no-op)"] = time.perf_counter() - start
    assert again.created == 0 and again.skipped == n

    start = time.perf_counter()
    pulled = pull(conn, project=f"bench-push-{tag}")
    figures["pull (tasks without annotations)"] = time.perf_counter() - start
    assert pulled.tasks == n

    # Annotated tasks: one annotation per task (benchmark labels, one synthetic annotator),
    # pushed back as annotation records and pulled again.
    records = []
    for i, sentence in enumerate(sentences):
        for target in [*sentence.actors(), "engagement"]:
            records.append(AnnotationRecord(
                task_id=None, sentence_id=sentence.sentence_id, article_id=sentence.article_id, target=target,
                label=LABELS.stance[(i + len(target)) % len(LABELS.stance)], annotator="bench-annotator@example.test",
                annotation_id=i + 1, created_at="2026-01-01T00:00:00Z", updated_at="2026-01-01T00:00:00Z",
                lead_time=5.0, text=sentence.text, source=sentence.source,
                mentions=[m for m in sentence.mentions if m.actor == target]))
    start = time.perf_counter()
    annotated = push_annotations(conn, records, project=f"bench-annotated-{tag}", batch_size=batch_size,
                                 sentences={s.sentence_id: s for s in sentences})
    figures["push annotated tasks (1 annotation each)"] = time.perf_counter() - start
    assert annotated.annotations_added == n, annotated.summary()
    start = time.perf_counter()
    pulled = pull(conn, project=f"bench-annotated-{tag}")
    figures[f"pull ({len(pulled.records)} records)"] = time.perf_counter() - start
    assert pulled.annotations == n and len(pulled.records) == len(records)

    # The floor: one raw SDK import_tasks call with the same task data.
    tasks = [{"data": task_data(s)} for s in sentences]
    raw_project = conn.sdk.projects.create(title=f"bench-raw-{tag}", label_config=load_label_set().xml)
    start = time.perf_counter()
    response = conn.sdk.projects.import_tasks(id=raw_project.id, request=tasks)
    figures["raw SDK import_tasks (one call)"] = time.perf_counter() - start
    assert response.task_count == n
    start = time.perf_counter()
    assert len(existing_tasks(conn, raw_project.id)) == n
    figures["list tasks (idempotency check alone)"] = time.perf_counter() - start
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--url")
    parser.add_argument("--token-file", type=Path)
    args = parser.parse_args()

    server = None
    if args.url:
        conn = connect(args.url, args.token_file.read_text().strip() if args.token_file else os.environ.get("LABEL_STUDIO_API_KEY"))
    else:
        server = LocalServer(state_dir=Path(tempfile.mkdtemp(prefix="slant-bench-")) / "labelstudio", port=free_port())
        t0 = time.perf_counter()
        server.start(timeout=900)
        print(f"server start (empty data dir, migrations): {time.perf_counter() - t0:.1f} s")
        conn = connect(server.url, server.token())
    try:
        figures = run(conn, args.n, args.batch_size)
    finally:
        if server is not None:
            server.stop()
    raw = figures["raw SDK import_tasks (one call)"]
    print(f"\nLabel Studio {conn.check()} on {platform.machine()}, {os.cpu_count()} cores; {args.n} tasks, batch {args.batch_size}")
    print(f"{'step':40s} {'seconds':>9s} {'x raw import':>13s}")
    for name, seconds in figures.items():
        print(f"{name:40s} {seconds:9.2f} {seconds / raw:13.2f}")


if __name__ == "__main__":
    main()
