"""Bad input is one clear `error:` or `warning:` line naming the file, task or line, and the
good part of the input is still used: export files with odd tasks, predictions whose
probabilities are not probabilities, a project title that is not a string, dangling and
looping symbolic links, and a base model that is a pickle."""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from labelstudio_data import predictions_for, seed_sentences
from test_labelstudio_formats import choice, export_task

from annotate.labelstudio.tasks import task_data

REPO = Path(__file__).resolve().parent.parent


def slant(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    return subprocess.run([sys.executable, "-c", "from models.cli import main; main()", *args], cwd=REPO,
                          env={**base, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})},
                          capture_output=True, text=True, timeout=300, check=False)


def test_pull_from_file_leaves_out_bad_tasks_and_writes_strict_json(tmp_path):
    data = [task_data(s) for s in seed_sentences(3)]
    good = export_task(1, data[0], [{"id": 1, "completed_by": 1, "result": [choice("stance_0", "neutral")]}])
    two_choices = export_task(2, data[1], [{"id": 2, "completed_by": 1, "result": [
        {"from_name": "stance_0", "to_name": "text", "type": "choices", "value": {"choices": ["critical", "favorable"]}}]}])
    no_lead_time = export_task(3, data[2], [{"id": 3, "completed_by": 1, "lead_time": math.nan,
                                             "result": [choice("engagement", "neutral")]}])
    path = tmp_path / "export.json"
    # Python's json writes NaN (as some tools' exports contain it); a bare number is not a task.
    path.write_text(json.dumps([good, 42, two_choices, no_lead_time]))
    out = tmp_path / "annotations.jsonl"
    done = slant("pull", "--from-file", str(path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"warning: {path}: task 2: expected an object, got int" in done.stderr
    assert "task 3 (id 2), annotation 2: stance_0 takes one choice but has 2 ('critical', 'favorable')" in done.stderr
    assert "Traceback" not in done.stderr

    def no_constants(name):
        raise AssertionError(f"{name} in the output: not JSON")

    records = [json.loads(line, parse_constant=no_constants) for line in out.read_text().splitlines()]
    assert {r["task_id"] for r in records} == {1, 3}
    assert {r["lead_time"] for r in records if r["task_id"] == 3} == {None}
    assert "4 task(s)" in done.stdout and "2 task(s) skipped with errors" in done.stdout


def test_predictions_whose_probabilities_are_not_probabilities_are_named_by_line(tmp_path):
    sentences = seed_sentences(1)
    s = tmp_path / "sentences.jsonl"
    s.write_text(json.dumps(sentences[0].to_dict()) + "\n")
    good, *rest = [p.to_dict() for p in predictions_for(sentences, "v1")]
    bad = [dict(good, probabilities={"critical": "high", "neutral": 0.2, "favorable": 0.2}),
           dict(good, probabilities={"critical": 0, "neutral": 0, "favorable": 0}),
           dict(good, probabilities={"critical": 0.9, "neutral": 0.9, "favorable": 0.9}),
           dict(good, probabilities={"critical": 0.6, "neutral": 0.4})]
    p = tmp_path / "predictions.jsonl"
    p.write_text("".join(json.dumps(x) + "\n" for x in [good, *bad, *rest]))
    # --strict: the bad lines are reported and nothing is pushed (no server is even asked).
    done = slant("push", str(s), "--project", "probe", "--predictions", str(p), "--strict",
                 env={"SLANT_HOME": str(tmp_path / "home")})
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    for line, what in ((2, "probability of 'critical' must be a number, not 'high'"),
                       (3, "probabilities must sum to 1, got 0.0000"), (4, "probabilities must sum to 1, got 2.7000"),
                       (5, "favorable")):
        assert f"{p}:{line}:" in done.stderr and what in done.stderr, (line, done.stderr)
    assert f"{p}:1:" not in done.stderr and f"{p}:6:" not in done.stderr


def test_a_project_title_that_is_not_a_string_is_refused_before_any_request():
    from loopback import Listener

    from annotate.labelstudio.connection import Connection, LabelStudioAPIError
    from annotate.labelstudio.push import push_annotations, push_sentences

    with Listener() as server:
        conn = Connection(server.url, "t" * 40)
        for push in (push_sentences, push_annotations):
            with pytest.raises(LabelStudioAPIError, match="a project title must be a string, got dict"):
                push(conn, [], project={"title": "seeds", "x": 1, "y": 2})
        assert server.connections == 0


def test_dangling_links_and_link_loops_are_named(tmp_path):
    dangling = tmp_path / "sentences.jsonl"
    dangling.symlink_to(tmp_path / "gone.jsonl")
    loop_a, loop_b = tmp_path / "a.json", tmp_path / "b.json"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    env = {"SLANT_HOME": str(tmp_path / "home")}
    for args, what in ((["push", str(dangling), "--project", "probe"],
                        f"{dangling}: a symbolic link to {tmp_path / 'gone.jsonl'}, which does not exist"),
                       (["pull", "--from-file", str(loop_a), "--out", str(tmp_path / "o.jsonl")],
                        f"{loop_a}: a loop of symbolic links"),
                       (["push", str(loop_b), "--project", "probe"], f"{loop_b}: a loop of symbolic links")):
        done = slant(*args, env=env)
        assert done.returncode == 1 and f"error: {what}" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_base_model_with_pickle_weights_is_refused_before_anything_loads_it(tmp_path):
    from models.testing import toy_dataset
    from models.transformer import default_base_model

    planted = tmp_path / "planted"
    planted.mkdir()
    for item in Path(default_base_model()).iterdir():
        if item.suffix in (".json", ".txt"):
            shutil.copy(item, planted)
    witness = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {witness}",))

    (planted / "pytorch_model.bin").write_bytes(pickle.dumps(Payload()))
    data = tmp_path / "data"
    toy_dataset().save_to_disk(str(data))
    for command in (["train", str(data), "--out", str(tmp_path / "m")], ["crossval", str(data)]):
        done = slant(*command, "--model", "transformer", "--base-model", str(planted), "--epochs", "1")
        assert done.returncode == 2, done.stderr
        assert f"error: --base-model {planted}: no .safetensors weights; it has pytorch_model.bin" in done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 3
    assert not witness.exists() and not (tmp_path / "m").exists()
