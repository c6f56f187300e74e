"""Task data, results and export-file reading (no server needed)."""

from __future__ import annotations

import json

import pytest
from labelstudio_data import predictions_for, seed_sentences

from annotate.labels import load_label_set
from annotate.labelstudio.pull import ExportFormatError, pull_from_file, read_export_file, records_from_export
from annotate.labelstudio.records import detect_kind, read_jsonl, write_jsonl
from annotate.labelstudio.tasks import (
    TASK_DATA_KEYS,
    TaskFormatError,
    annotation_result,
    parse_result,
    prediction_payload,
    task_data,
)
from annotate.schema import AnnotationRecord, SentenceRecord

LABELS = load_label_set()


def choice(name, value):
    return {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": [value]}}


def test_task_data_follows_the_contract():
    sentence = seed_sentences()[2]
    data = task_data(sentence)
    assert tuple(data) == TASK_DATA_KEYS
    assert [a["actor"] for a in data["actors"]] == ["pakistan", "afghan_taliban", "ttp"]  # order of first mention
    ttp = data["actors"][2]
    assert ttp["mentions"] == "Tehreek-i-Taliban Pakistan, TTP, the Pakistani Taliban"
    assert [data["text"][s:e] for s, e in ttp["spans"]] == ["Tehreek-i-Taliban Pakistan", "TTP", "the Pakistani Taliban"]
    assert data["actors"][0]["name"] == "Pakistan"  # display name from the actor registry
    json.dumps(data)  # plain JSON


def test_prediction_payload_uses_aliases_scores_and_version():
    sentence = seed_sentences()[0]
    data = task_data(sentence)
    payload = prediction_payload(predictions_for([sentence], "m-1", "favorable"), data)
    assert payload["model_version"] == "m-1"
    assert payload["score"] == pytest.approx(0.6)
    names = [r["from_name"] for r in payload["result"]]
    assert names == ["stance_0", "stance_1", "stance_2", "engagement"]
    assert {r["value"]["choices"][0] for r in payload["result"]} == {"favorable"}
    assert all(r["score"] == pytest.approx(0.6) for r in payload["result"])


def test_parse_result_covers_every_target_and_off_target_flags():
    data = task_data(seed_sentences()[2])
    parsed = parse_result([choice("stance_0", "critical"), choice("not_actor_1", "not_actor"),
                           choice("engagement", LABELS.engagement_off_target[0])], data)
    assert parsed == {"pakistan": ("critical", False), "afghan_taliban": (None, True), "ttp": (None, False),
                      "engagement": (None, True)}


@pytest.mark.parametrize("result, message", [
    ([choice("stance_7", "critical")], "stance_7"),
    ([choice("stance_0", "hostile")], "'hostile'"),
    ([choice("mood", "critical")], "unknown control 'mood'"),
])
def test_parse_result_rejects_what_does_not_fit(result, message):
    with pytest.raises(TaskFormatError, match=message):
        parse_result(result, task_data(seed_sentences()[2]), where="task 9")


def test_annotation_result_inverts_parse_result():
    data = task_data(seed_sentences()[2])
    result = [choice("stance_0", "critical"), choice("stance_2", "favorable"), choice("not_actor_1", "not_actor"),
              choice("engagement", "neutral")]
    parsed = parse_result(result, data)
    records = [AnnotationRecord(task_id=1, sentence_id=data["sentence_id"], article_id="a", target=t, label=label,
                                annotator="x@example.test", off_target=off) for t, (label, off) in parsed.items()]
    assert parse_result(annotation_result(records, data), data) == parsed


def export_task(task_id, data, annotations):
    return {"id": task_id, "data": data, "annotations": annotations, "predictions": [], "meta": {}}


def test_records_from_an_export_file_keep_ids_status_and_ground_truth(tmp_path):
    data = task_data(seed_sentences()[0])
    tasks = [export_task(7, data, [
        {"id": 11, "completed_by": 3, "result": [choice("stance_1", "favorable")], "was_cancelled": False,
         "ground_truth": True, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:01:00Z", "lead_time": 12.5},
        {"id": 12, "completed_by": {"id": 4, "email": "b@example.test"}, "result": [], "was_cancelled": True,
         "ground_truth": False, "created_at": "2026-01-02T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z", "lead_time": 1.0},
    ])]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    result = pull_from_file(path, out=tmp_path / "annotations.jsonl")
    assert result.errors == []
    assert len(result.records) == 2 * 4  # two annotations x (three actors + engagement)
    first = [r for r in result.records if r.annotation_id == 11]
    assert {r.annotator for r in first} == {"3"}  # the file only has a user id: kept, not invented
    assert [(r.target, r.label) for r in first] == [("united_states", None), ("pakistan", "favorable"),
                                                    ("afghan_taliban", None), ("engagement", None)]
    assert all(r.ground_truth and r.lead_time == 12.5 and r.created_at == "2026-01-01T00:00:00Z" for r in first)
    skipped = [r for r in result.records if r.annotation_id == 12]
    assert {r.status for r in skipped} == {"skipped"} and {r.annotator for r in skipped} == {"b@example.test"}
    read = read_jsonl(tmp_path / "annotations.jsonl", AnnotationRecord.from_dict)
    assert read.errors == [] and read.records == result.records


def test_a_bad_task_does_not_sink_the_export():
    good = export_task(1, task_data(seed_sentences()[0]), [{"id": 1, "completed_by": 1, "result": [choice("stance_0", "neutral")]}])
    bad = export_task(2, task_data(seed_sentences()[1]), [{"id": 2, "completed_by": 1, "result": [choice("stance_5", "neutral")]}])
    result = records_from_export([good, bad], origin="export.json")
    assert {r.task_id for r in result.records} == {1}
    assert len(result.errors) == 1 and "export.json: task 2 (id 2)" in result.errors[0] and "stance_5" in result.errors[0]


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON: .* line 1, column 2"),
    ('{"tasks": []}', "expected a JSON list of tasks .* got a dict"),
    ('[1, "two"]', "none of the 2 items is a task object"),
])
def test_malformed_export_file_errors_name_file_and_problem(tmp_path, content, message):
    path = tmp_path / "broken-export.json"
    path.write_text(content)
    with pytest.raises(ExportFormatError, match=message) as error:
        read_export_file(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("task, message", [
    ('{"id": 5, "annotations": []}', r"task 2 \(id 5\): no 'data' object"),
    ('{"id": 5, "data": {"sentence_id": "s", "text": "t"}, "annotations": {}}',
     r"task 2 \(id 5\): 'annotations' must be a list of objects"),
    ('7', r"task 2: expected an object, got int"),
])
def test_a_malformed_task_in_an_export_file_is_named_and_left_out(tmp_path, task, message):
    import re

    from annotate.labelstudio.pull import pull_from_file

    good = export_task(1, task_data(seed_sentences()[0]), [{"id": 1, "completed_by": 1,
                                                           "result": [choice("stance_0", "neutral")]}])
    path = tmp_path / "export.json"
    path.write_text(f"[{json.dumps(good)}, {task}]")
    result = pull_from_file(path)
    assert {r.task_id for r in result.records} == {1}
    assert len(result.errors) == 1 and re.search(message, result.errors[0]) and str(path) in result.errors[0]


def test_jsonl_reading_reports_bad_lines_and_keeps_the_rest(tmp_path):
    path = tmp_path / "sentences.jsonl"
    good = [s.to_dict() for s in seed_sentences(2)]
    path.write_text(json.dumps(good[0]) + "\n{oops\n" + json.dumps(good[1]) + "\n")
    read = read_jsonl(path, SentenceRecord.from_dict)
    assert [r.sentence_id for r in read.records] == [g["sentence_id"] for g in good]
    assert len(read.errors) == 1 and read.errors[0].startswith(f"{path}:2:")
    assert detect_kind(path) == "sentences"


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    out = tmp_path / "out.jsonl"
    write_jsonl([{"a": 1}], out)

    def exploding():
        yield {"a": 2}
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_jsonl(exploding(), out)
    assert out.read_text() == '{"a": 1}\n'  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


@pytest.mark.parametrize("version", ["model-a,model-b", " model-a", ""])
def test_a_model_version_label_studio_cannot_list_is_refused_before_any_request(version):
    # Label Studio lists a task's versions comma-joined: such a version would be re-pushed on every run.
    from annotate.labelstudio.push import push_predictions

    records = predictions_for(seed_sentences(1), version)
    with pytest.raises(ValueError, match="cannot be pushed to Label Studio"):
        push_predictions(None, records, project="never-contacted")
