"""The Python API takes what the CLI takes (paths) as well as objects, returns data, and
refuses the wrong kind of argument with a TypeError naming the parameter."""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets
import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from annotate.adjudication import adjudicate, write_adjudicated
from annotate.agreement import agreement_report
from annotate.corpus import ingest_paths, write_jsonl
from annotate.dataset import build_dataset, read_annotations
from tests.annotation_fixtures import five_article_export

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _annotations_file(tmp_path: Path) -> tuple[list, Path]:
    records = five_article_export()
    path = tmp_path / "annotations.jsonl"
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records), encoding="utf-8")
    return records, path


def test_agreement_adjudication_and_dataset_take_paths_like_the_cli(tmp_path: Path) -> None:
    records, path = _annotations_file(tmp_path)
    assert agreement_report(path, n_boot=20) == agreement_report(records, n_boot=20)
    assert agreement_report(str(path), n_boot=20) == agreement_report([r.to_dict() for r in records], n_boot=20)
    assert adjudicate(path) == adjudicate(records)
    assert read_annotations(str(path)) == records  # one path, not its characters
    from_records = build_dataset(records)
    assert build_dataset(path)["train"].to_list() == from_records["train"].to_list()
    adjudicated = tmp_path / "adjudicated.jsonl"
    write_adjudicated(adjudicate(records), adjudicated)
    assert build_dataset(adjudicated)["train"].to_list() == from_records["train"].to_list()


def test_build_dataset_takes_sentences_and_manifest_files(tmp_path: Path) -> None:
    result = ingest_paths(str(SEEDS))  # a single path string works too
    assert len(result.records) == 242
    sentences = tmp_path / "sentences.jsonl"
    write_jsonl(sentences, result.records)
    records, _ = _annotations_file(tmp_path)
    from annotate.corpus import load_manifest

    by_path = build_dataset(records, sentences=sentences, manifest=SEEDS / "manifest.toml")
    by_object = build_dataset(records, sentences=result.records, manifest=load_manifest(SEEDS / "manifest.toml"))
    assert by_path["train"].to_list() == by_object["train"].to_list()


@pytest.mark.parametrize("call, message", [
    (lambda r: agreement_report(r[0]), "records must be a path or an iterable of AnnotationRecords"),
    (lambda r: adjudicate(42), "records must be a path or an iterable of AnnotationRecords"),
    (lambda r: adjudicate([r[0], "x"]), r"records\[1\] is a str, not a AnnotationRecord"),
    (lambda r: build_dataset(r[0]), "records_or_adjudicated must be a path or an iterable"),
    (lambda r: build_dataset(r, sentences=[1]), r"sentences\[0\] is a int, not a SentenceRecord"),
])
def test_the_wrong_kind_of_argument_is_a_type_error_naming_the_parameter(call, message) -> None:
    with pytest.raises(TypeError, match=message):
        call(five_article_export())


def test_evaluate_and_predict_take_a_fitted_model_and_return_data(tmp_path: Path) -> None:
    from models.evaluate import evaluate
    from models.inputs import from_dataset
    from models.predict import predict
    from models.registry import create_model
    from models.testing import toy_dataset

    data = toy_dataset()
    X, y = from_dataset(data["train"])
    model = create_model("baseline").fit(X, y)
    model.save(tmp_path / "m")
    from_object = evaluate(model, data)
    from_dir = evaluate(tmp_path / "m", data)
    assert from_object["macro_f1"] == from_dir["macro_f1"] and from_object["model_version"] == model.model_version
    # A dataset with validation and test only is enough to refit the temperature.
    only_two = datasets.DatasetDict({"validation": data["validation"], "test": data["test"]})
    refit = evaluate(model, only_two, refit_temperature=True)["calibration"]
    assert refit.get("refit_temperature", 0) > 0 or "refit_skipped" in refit
    with pytest.raises(ValueError, match="needs a validation split"):
        evaluate(model, datasets.DatasetDict({"test": data["test"]}), refit_temperature=True)

    sentences = ingest_paths([SEEDS]).records[:20]
    summary = predict(sentences, model=model, progress=False)  # records in, nothing written
    assert summary.out is None and summary.pairs == len(summary.records) > 20
    assert {r.model_version for r in summary.records} == {model.model_version}
    written = tmp_path / "predictions.jsonl"
    again = predict([s.to_dict() for s in sentences], model=model, out=written, progress=False)
    lines = [json.loads(line) for line in written.read_text().splitlines()]
    assert lines == [r.to_dict() for r in again.records] == [r.to_dict() for r in summary.records]
    assert np.isclose(sum(lines[0]["probabilities"].values()), 1.0, atol=1e-5)


def test_run_pipeline_refuses_an_unknown_model_before_any_work(tmp_path: Path) -> None:
    from models.pipeline import run_pipeline
    from models.registry import UnknownModelError

    with pytest.raises(UnknownModelError, match="valid models: baseline, transformer"):
        run_pipeline(seeds=SEEDS, work=tmp_path / "work", labelstudio=False, model="bert", say=lambda s: None)
    assert not (tmp_path / "work").exists()
