"""`slant preannotate` / `slant next` user errors: clear messages, non-zero exit, no traceback, no token."""

from __future__ import annotations

import json

import pytest
from labelstudio_data import seed_sentences
from test_loop_backend import tiny_model
from typer.testing import CliRunner

from models.cli import app

runner = CliRunner()
TOKEN = "f" * 40


@pytest.fixture
def files(tmp_path, monkeypatch):
    # A server that is not running: nothing listens on port 1.
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TOKEN)
    pool = tmp_path / "sentences.jsonl"
    pool.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in seed_sentences()), encoding="utf-8")
    _, model_dir = tiny_model(tmp_path)
    return pool, model_dir


def run(*args: str):
    result = runner.invoke(app, list(args))
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert TOKEN not in output
    assert "Traceback" not in output
    return result.exit_code, output


@pytest.mark.slow
def test_missing_pool_file_is_named(files, tmp_path):
    _, model_dir = files
    code, output = run("next", "--model", str(model_dir), "--pool", str(tmp_path / "nope.jsonl"), "--project", "p")
    assert code != 0 and "nope.jsonl" in output and "no such file" in output


@pytest.mark.slow
def test_missing_model_dir_is_named(files, tmp_path):
    pool, _ = files
    code, output = run("preannotate", str(pool), "--project", "p", "--model", str(tmp_path / "no-model"))
    assert code != 0 and "no-model" in output and "not found" in output


@pytest.mark.slow
def test_unknown_strategy_lists_the_valid_ones(files):
    pool, model_dir = files
    code, output = run("next", "--model", str(model_dir), "--pool", str(pool), "--project", "p", "--strategy", "bald")
    assert code != 0 and "bald" in output and "entropy, margin" in output


@pytest.mark.slow
def test_server_not_running_is_a_clear_error(files):
    pool, model_dir = files
    code, output = run("preannotate", str(pool), "--project", "p", "--model", str(model_dir))
    assert code != 0 and "127.0.0.1:1" in output
    code, output = run("next", "--model", str(model_dir), "--pool", str(pool), "--project", "p", "--k", "2")
    assert code != 0 and "127.0.0.1:1" in output
