"""The main job, end to end: articles -> Label Studio -> gold labels -> model -> slant report.

:func:`run_pipeline` is what ``slant run`` (and ``make run``) calls. Each step is a call
into the module that owns it; this file only wires them together and records what each
step produced in a :class:`PipelineResult` (also written to ``<work>/pipeline.json``).

Steps:
 1. ingest the articles (``annotate.corpus``) -> ``sentences.jsonl``
 2. start the local Label Studio (or use ``LABEL_STUDIO_URL``/``LABEL_STUDIO_API_KEY``) and
    push the sentences as tasks
 3. push the stored gold annotations (``<seeds>/gold/export.json``) into that project and
    pull the project back -> ``annotations.jsonl`` (the real round trip)
 4. agreement -> ``agreement.json``; adjudication -> ``adjudicated.jsonl``
 5. the ``datasets`` dataset grouped by article -> ``data/``
 6. train the baseline (the yardstick) and the transformer -> ``models/``
 7. predict every (sentence, target) -> ``predictions.jsonl``, pushed as pre-annotations
 8. the slant report -> ``report/report.html``, ``report.json``, CSV tables
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "Slant seeds"


@dataclass
class PipelineResult:
    """Where everything went and the headline figures of each step."""

    work: Path
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    labelstudio_url: str | None = None
    project_id: int | None = None
    report_html: Path | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return json.loads(json.dumps(data, default=str))


def _step(result: PipelineResult, name: str, say: Callable[[str], None]):
    """Announce a step; the returned callback records its figures and time."""
    started = time.perf_counter()
    say(f"[{len(result.steps) + 1}] {name} ...")

    def done(**figures: Any) -> None:
        figures["seconds"] = round(time.perf_counter() - started, 1)
        result.steps[name] = figures
        shown = ", ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, (dict, list)))
        say(f"    {shown}")

    return done


def run_pipeline(
    *,
    seeds: str | Path = "seeds",
    work: str | Path = "work",
    project: str = DEFAULT_PROJECT,
    gold: str | Path | None = None,
    labelstudio: bool = True,
    model: str = "transformer",
    epochs: int | None = None,
    base_model: str | None = None,
    pretrain: str | Path | None = None,
    recipe: str = "default",
    say: Callable[[str], None] = print,
) -> PipelineResult:
    """Run the main job on a folder of articles (the built-in seeds by default).

    Args:
        seeds: folder of articles (``.txt``/``.jsonl``/``.csv``) with an optional ``manifest.toml``
            and gold annotations in ``gold/export.json``.
        work: output folder (created; files in it are replaced atomically).
        project: Label Studio project title.
        gold: a Label Studio JSON export with the human labels (default ``<seeds>/gold/export.json``).
        labelstudio: with False, skip the server: gold labels are read from the export file directly.
        model: ``"transformer"`` (default) or ``"baseline"``: the model that predicts for the report.
        epochs: transformer epochs (default: the training arguments' default).
        base_model: a local Hugging Face checkpoint to fine-tune (default: the packaged MiniLM).
        pretrain: a dataset in the same shape (e.g. the NewsMTSC folder) to train on first.
        recipe: how the transformer is trained (``models.recipes``): ``"default"`` (frozen
            encoder, head on the shipped transfer data and the seeds), ``"seeds-only"``, ...
    """
    from annotate.adjudication import adjudicate, write_adjudicated
    from annotate.agreement import agreement_report
    from annotate.corpus import ingest_paths, write_jsonl
    from annotate.dataset import build_dataset, relevance_rows, save_dataset
    from annotate.labelstudio.pull import pull, pull_from_file
    from annotate.report import ReportOptions, make_report
    from annotate.report.writer import atomic_write_text
    from models.recipes import get_recipe
    from models.registry import get_model_class

    get_model_class(model)  # an unknown name fails now, not after ingest, labels and the dataset
    chosen = get_recipe(recipe)
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    started = time.perf_counter()
    seeds, work = Path(seeds), Path(work)
    work.mkdir(parents=True, exist_ok=True)
    result = PipelineResult(work=work)
    gold = Path(gold) if gold is not None else seeds / "gold" / "export.json"
    manifest = seeds / "manifest.toml"

    # 1. corpus
    done = _step(result, "ingest", say)
    ingested = ingest_paths([seeds], progress=True)
    if not ingested.records:
        raise RuntimeError(f"{seeds}: no article could be processed: " + "; ".join(map(str, ingested.errors)))
    sentences_path = work / "sentences.jsonl"
    write_jsonl(sentences_path, ingested.records)
    done(articles=len(ingested.articles), sentences=len(ingested.records),
         mentions=sum(len(r.mentions) for r in ingested.records), errors=[str(e) for e in ingested.errors],
         out=str(sentences_path))

    # 2-3. Label Studio round trip
    annotations_path = work / "annotations.jsonl"
    conn = None
    if labelstudio:
        from annotate.labelstudio.connection import connect
        from annotate.labelstudio.push import push_annotations, push_sentences
        from annotate.labelstudio.server import LocalServer

        done = _step(result, "labelstudio", say)
        if not (os.environ.get("LABEL_STUDIO_URL") and os.environ.get("LABEL_STUDIO_API_KEY")):
            status = LocalServer().start()
            say(f"    Label Studio running at {status.url} (pid {status.pid})")
        conn = connect()
        pushed = push_sentences(conn, ingested.records, project=project)
        result.labelstudio_url, result.project_id = conn.url, pushed.project_id
        done(url=conn.url, project_id=pushed.project_id, tasks_created=pushed.created,
             tasks_already_there=pushed.skipped, errors=pushed.errors)

        done = _step(result, "gold labels", say)
        gold_records = pull_from_file(gold).records
        by_id = {r.sentence_id: r for r in ingested.records}
        added = push_annotations(conn, gold_records, project=project, sentences=by_id, progress=True)
        pulled = pull(conn, project=project, out=annotations_path)
        records = pulled.records
        done(gold_file=str(gold), annotations_added=added.annotations_added,
             annotations_already_there=added.annotations_skipped, records_pulled=len(records),
             errors=added.errors + pulled.errors, out=str(annotations_path))
    else:
        done = _step(result, "gold labels", say)
        records = pull_from_file(gold, out=annotations_path).records
        done(gold_file=str(gold), records=len(records), out=str(annotations_path))

    # 4. agreement and adjudication
    done = _step(result, "agreement and adjudication", say)
    agreement = agreement_report(records)
    atomic_write_text(work / "agreement.json", json.dumps(agreement, indent=2))
    adjudicated = adjudicate(records)
    write_adjudicated(adjudicated, work / "adjudicated.jsonl")
    overall = agreement.get("overall", {})
    done(annotators=overall.get("n_annotators"), items_with_two_or_more_labels=overall.get("n_items"),
         adjudicated=len(adjudicated), unresolved=sum(1 for a in adjudicated if a.label is None and not a.off_target))

    # 5. dataset
    done = _step(result, "dataset", say)
    from annotate.corpus import load_manifest

    meta = load_manifest(manifest) if manifest.is_file() else None
    dataset = build_dataset(adjudicated, sentences=ingested.records, manifest=meta)
    relevance = relevance_rows(adjudicated, dataset=dataset, sentences={r.sentence_id: r for r in ingested.records})
    data_dir = save_dataset(dataset, work / "data", provenance={"annotations": [str(gold)]}, relevance=relevance)
    done(splits={name: len(split) for name, split in dataset.items()}, out=str(data_dir))

    # 6. models: the baseline is the yardstick, the chosen model predicts
    from models.train import train
    trained = {}
    for name in dict.fromkeys(["baseline", model]):
        done = _step(result, f"train {name}", say)
        args, transfer, repeat = None, None, 1
        if name == "transformer":
            # The seeds are five pro-talks articles, 86% neutral: the recipe adds transfer data
            # that argues both ways, and balanced class weights keep rare stances from being swallowed.
            args = chosen.args if epochs is None else replace(chosen.args, epochs=epochs)
            transfer, repeat = chosen.transfer, chosen.in_domain_repeat
        fit = train(data_dir, model=name, args=args, out=work / "models" / f"seeds-{name}",
                    base_model=base_model if name == "transformer" else None,
                    pretrain=pretrain, transfer=transfer, in_domain_repeat=repeat)
        test = fit.metrics.get("test", {})
        trained[name] = fit
        scored = fit.metrics.get("relevance") or {}
        done(out=str(fit.out), test_macro_f1=round(test.get("macro_f1", float("nan")), 4),
             test_accuracy=round(test.get("accuracy", float("nan")), 4), test_pairs=test.get("n"),
             model_version=fit.model.model_version,
             **({"recipe": chosen.name} if name == "transformer" else {}),
             **({"relevance_precision": round(scored["precision"], 4),
                 "relevance_recall": round(scored["recall"], 4)} if "precision" in scored else {}))

    # 7. predictions, pushed as pre-annotations
    from models.predict import predict

    done = _step(result, "predict", say)
    predictions_path = work / "predictions.jsonl"
    summary = predict(sentences_path, model=trained[model].model, out=predictions_path)
    pre = {}
    if conn is not None:
        from annotate.jsonl import read_jsonl
        from annotate.labelstudio.push import push_predictions
        from annotate.schema import PredictionRecord

        prediction_records = read_jsonl(predictions_path, PredictionRecord.from_dict)
        pushed = push_predictions(conn, prediction_records, project=project)
        pre = {"predictions_added": pushed.predictions_added, "predictions_already_there": pushed.predictions_skipped}
    done(pairs=summary.pairs, model_version=summary.model_version, out=str(predictions_path), **pre)

    # 8. report
    done = _step(result, "report", say)
    profile = trained[model].out / "error_profile.json"  # models.error_profile: what the report corrects for
    report = make_report(sentences=sentences_path, predictions=predictions_path, annotations=annotations_path,
                         manifest=manifest if manifest.is_file() else None, out_dir=work / "report",
                         options=ReportOptions(labelstudio_url=result.labelstudio_url, project_id=result.project_id),
                         error_profile=profile if profile.is_file() else None)
    result.report_html = report.paths.html
    done(out=str(report.paths.html), problems=report.problems)

    result.seconds = round(time.perf_counter() - started, 1)
    atomic_write_text(work / "pipeline.json", json.dumps(result.to_dict(), indent=2))
    return result
