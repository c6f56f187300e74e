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


@pytest.mark.slow
def test_dry_run_pool_repeats_extra_fields_and_bad_caps(files, tmp_path):
    pool, model_dir = files
    lines = [dict(json.loads(line), lang="en") for line in pool.read_text(encoding="utf-8").splitlines()]
    doubled = tmp_path / "doubled.jsonl"
    # two copies of the same sentences file, from a newer writer that adds a field
    doubled.write_text("".join(json.dumps(line) + "\n" for line in lines * 2), encoding="utf-8")
    code, output = run("next", "--model", str(model_dir), "--pool", str(doubled), "--project", "p", "--k", "6",
                       "--max-per-article", "0", "--max-per-actor", "6", "--dry-run")
    assert code == 0, output
    assert f"of {len(lines)} pool sentences" in output and f"{len(lines)} line(s) repeat a sentence id" in output
    chosen = [row.split()[1] for row in output.splitlines() if row.startswith(("  0.", "  1."))]
    assert len(lines) < 6 and len(chosen) == len(set(chosen)) == len(lines)  # before: repeats filled k
    code, output = run("next", "--model", str(model_dir), "--pool", str(pool), "--project", "p", "--max-per-actor",
                       "-3", "--dry-run")
    assert code == 2 and "--max-per-actor" in output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("{oops\n", encoding="utf-8")
    code, output = run("next", "--model", str(model_dir), "--pool", str(empty), "--project", "p", "--dry-run")
    assert code != 0 and "no usable sentence in the pool" in output
