"""Two `slant push` processes at once against a REAL Label Studio 1.23.2: one project, every
sentence once. Through the local server they take turns (a file lock under SLANT_HOME); as two
machines (separate SLANT_HOMEs, no shared lock) each removes the duplicates it made. A title
that two projects share is an error naming both ids, never a silent pick."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from labelstudio_data import seed_sentences

pytestmark = [pytest.mark.slow, pytest.mark.labelstudio]

REPO = Path(__file__).resolve().parent.parent


def sentences_file(path: Path, copies: int = 60) -> Path:
    sentences = [s for i in range(copies) for s in seed_sentences(prefix=f"c{i:02d}-")]
    path.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in sentences), encoding="utf-8")
    return path


def start_push(path: Path, title: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from models.cli import main; main()", "push", str(path),
                             "--project", title], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "SLANT_HOME"))}
    return {**env, "HF_HUB_OFFLINE": "1", "SLANT_LOG_LEVEL": "INFO", **extra}


def project_ids(label_studio, title: str) -> list[int]:
    from annotate.labelstudio.push import list_projects

    return list_projects(label_studio.connection()).get(title, [])


def sentence_counts(label_studio, project_id: int) -> Counter:
    from annotate.labelstudio.push import existing_tasks

    every: list[tuple[str, int]] = []
    existing_tasks(label_studio.connection(), project_id, every=every)
    return Counter(sentence_id for sentence_id, _ in every)


def run_two(path: Path, title: str, envs: list[dict[str, str]]) -> list[tuple[int, str]]:
    processes = [start_push(path, title, env) for env in envs]  # started together, racing
    results = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        results.append((process.returncode, out, err))
    return results


def test_two_pushes_through_the_local_server_take_turns(label_studio, project_title, tmp_path):
    path = sentences_file(tmp_path / "s300.jsonl")
    env = base_env(SLANT_HOME=str(label_studio.home))  # the local server's token file: the shared lock
    results = run_two(path, project_title, [env, env])
    assert all(code == 0 for code, _, _ in results), results
    (project_id,) = project_ids(label_studio, project_title)
    counts = sentence_counts(label_studio, project_id)
    assert len(counts) == 300 and set(counts.values()) == {1}, counts.most_common(3)
    summaries = sorted(out.strip().splitlines()[-1] for _, out, _ in results)
    assert any("300 task(s) created, 0 already there" in s for s in summaries), summaries
    assert any("0 task(s) created, 300 already there" in s for s in summaries), summaries
    assert any("another push into project" in err for _, _, err in results)  # one waited for the other


def test_two_pushes_from_two_machines_remove_the_duplicates_they_race_into(label_studio, project_title, tmp_path):
    path = sentences_file(tmp_path / "s300.jsonl")
    # Separate SLANT_HOMEs: no lock in common, as on two machines talking to one server.
    envs = [base_env(SLANT_HOME=str(tmp_path / f"machine-{i}"), LABEL_STUDIO_URL=label_studio.url,
                     LABEL_STUDIO_API_KEY=label_studio.token()) for i in range(2)]
    results = run_two(path, project_title, envs)
    assert all(code == 0 for code, _, _ in results), results
    (project_id,) = project_ids(label_studio, project_title)
    counts = sentence_counts(label_studio, project_id)
    assert len(counts) == 300 and set(counts.values()) == {1}, counts.most_common(3)
    texts = "\n".join(out + err for _, out, err in results)
    assert label_studio.token() not in texts
    # Whether the two really overlapped depends on timing; when they did, it is said.
    raced = "created at the same time elsewhere" in texts or "duplicate(s) of a concurrent push removed" in texts
    print(f"two-machine push: the pushes {'raced and were reconciled' if raced else 'did not overlap'}")


def test_two_machines_pushing_into_an_existing_project_keep_each_sentence_once(label_studio, project_title,
                                                                                tmp_path):
    """The project exists, so both pushes go straight to listing its tasks and importing: the
    case where two parallel pushes of 300 sentences left 599 tasks."""
    from annotate.labelstudio.push import ensure_project

    project_id, _ = ensure_project(label_studio.connection(), project_title)
    path = sentences_file(tmp_path / "s300.jsonl")
    envs = [base_env(SLANT_HOME=str(tmp_path / f"machine-{i}"), LABEL_STUDIO_URL=label_studio.url,
                     LABEL_STUDIO_API_KEY=label_studio.token()) for i in range(2)]
    results = run_two(path, project_title, envs)
    assert all(code == 0 for code, _, _ in results), results
    counts = sentence_counts(label_studio, project_id)
    assert len(counts) == 300 and set(counts.values()) == {1}, counts.most_common(3)
    outs = [out for _, out, _ in results]
    removed = [o for o in outs if "duplicate(s) of a concurrent push removed" in o]
    print(f"existing project: {len(removed)} push(es) removed duplicates: {[o.strip() for o in outs]}")


def test_a_title_two_projects_share_is_an_error_naming_both(label_studio, project_title, tmp_path):
    headers = {"Authorization": f"Token {label_studio.token()}"}
    made = [httpx.post(f"{label_studio.url}/api/projects", headers=headers, json={"title": project_title},
                       timeout=120).json()["id"]
            for _ in range(2)]
    path = sentences_file(tmp_path / "s5.jsonl", copies=1)
    env = base_env(SLANT_HOME=str(label_studio.home))
    for args in (["push", str(path), "--project", project_title],
                 ["pull", "--project", project_title, "--out", str(tmp_path / "a.jsonl")]):
        done = subprocess.run([sys.executable, "-c", "from models.cli import main; main()", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"error: 2 projects on {label_studio.url} are titled {project_title!r} (ids {made[0]}, {made[1]})" \
            in done.stderr
    assert project_ids(label_studio, project_title) == made  # nothing created, nothing written
    assert not (tmp_path / "a.jsonl").exists()
