"""Report and dataset folders are replaced whole: a full disk or a kill between files leaves
the previous folder as it was (never half old, half new), and what a killed run left beside
it is tidied by the next run. Failures are real: a file-size limit (``RLIMIT_FSIZE``) in a
subprocess stands in for a full disk, and a writer process is killed with SIGKILL."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from annotation_fixtures import five_article_export
from test_report_fixtures import make_predictions, make_sentences

REPO = Path(__file__).resolve().parent.parent


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def slant(*args: str, file_limit: int | None = None) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess; ``file_limit`` bytes per file as a stand-in for a full disk
    (a write past it fails with EFBIG, like ENOSPC on a full disk)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SLANT_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-c", "from models.cli import main; main()", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False, env=env,
                          preexec_fn=limit if file_limit else None)


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_report_that_fails_half_way_leaves_the_previous_report_whole(tmp_path):
    sentences = make_sentences()
    s = write_jsonl(tmp_path / "s.jsonl", sentences)
    p = write_jsonl(tmp_path / "p.jsonl", make_predictions(sentences))
    out = tmp_path / "report"
    first = slant("report", "--predictions", str(p), "--sentences", str(s), "--out", str(out), "--bootstrap", "50")
    assert first.returncode == 0, first.stderr
    before = snapshot(out)
    assert set(before) == {"report.json", "articles.csv", "sources.csv", "evidence.csv", "report.html"}
    # The next run can write every file but the largest: as on a disk that fills up mid-way.
    sizes = sorted(len(v) for v in before.values())
    second = slant("report", "--predictions", str(p), "--sentences", str(s), "--out", str(out), "--bootstrap", "60",
                   "--seed", "3", file_limit=sizes[-2] + 1024)
    assert second.returncode == 1 and "error:" in second.stderr and "Traceback" not in second.stderr, second.stderr
    assert snapshot(out) == before  # every file from the first run, none from the second
    assert siblings(out) == []  # the unfinished new folder is gone
    third = slant("report", "--predictions", str(p), "--sentences", str(s), "--out", str(out), "--bootstrap", "60",
                  "--seed", "3")
    assert third.returncode == 0 and snapshot(out) != before
    assert json.loads((out / "report.json").read_text())["settings"]["seed"] == 3


def test_a_report_folder_with_other_files_is_refused_not_wiped(tmp_path):
    from annotate.report.build import ReportOptions, build_report
    from annotate.report.writer import write_report

    sentences = make_sentences()
    report = build_report(sentences=sentences, predictions=make_predictions(sentences),
                          options=ReportOptions(n_resamples=20))
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"notes\.txt"):
        write_report(report, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from annotate.atomic import write_folder_atomically

    def fill(folder):
        (folder / "report.json").write_text("new")
        (folder / "articles.csv").write_text("new")
        Path(sys.argv[2]).write_text("halfway")  # tell the test, then wait to be killed
        time.sleep(60)
        (folder / "report.html").write_text("new")

    write_folder_atomically(sys.argv[1], fill)
""")


def test_a_writer_killed_between_files_leaves_the_old_folder_and_the_next_run_tidies_up(tmp_path, caplog):
    from annotate.atomic import write_folder_atomically

    out = tmp_path / "report"
    write_folder_atomically(out, lambda f: [(f / n).write_text("old") for n in ("report.json", "articles.csv",
                                                                                  "report.html")])
    marker = tmp_path / "halfway"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(marker)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert writer.poll() is None and time.monotonic() < deadline, "the writer never got half way"
            time.sleep(0.05)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait(timeout=30)
    assert {n: v.decode() for n, v in snapshot(out).items()} == {"report.json": "old", "articles.csv": "old",
                                                                  "report.html": "old"}
    (leftover,) = siblings(out)
    assert leftover.startswith(f".report.new-{writer.pid}-")
    caplog.set_level("WARNING")
    write_folder_atomically(out, lambda f: (f / "report.json").write_text("third"))
    assert snapshot(out) == {"report.json": b"third"} and siblings(out) == []
    assert any("removed what a killed run left behind" in m for m in caplog.messages)


def test_leftovers_of_killed_runs_are_restored_removed_or_reported(tmp_path):
    from annotate.atomic import clean_folder_leftovers

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    out = tmp_path / "data_v1"
    # An older save killed between its two renames: no --out, the previous dataset aside.
    (tmp_path / f".data_v1.old-{dead}").mkdir()
    (tmp_path / f".data_v1.old-{dead}" / "dataset_dict.json").write_text("{}")
    messages = clean_folder_leftovers(out)
    assert (out / "dataset_dict.json").is_file() and "restored" in messages[0]
    # An unfinished folder of a dead writer goes; a live writer's (ours) stays; an unnamed one is reported.
    (tmp_path / f".data_v1.new-{dead}-abc").mkdir()
    (tmp_path / f".data_v1.new-{os.getpid()}-def").mkdir()
    (tmp_path / ".data_v1.tmp-xyz").mkdir()
    messages = clean_folder_leftovers(out)
    assert siblings(out) == [f".data_v1.new-{os.getpid()}-def", ".data_v1.tmp-xyz"]
    assert any("removed" in m for m in messages) and any(".data_v1.tmp-xyz" in m for m in messages)


@pytest.mark.slow
def test_slant_dataset_on_a_full_disk_is_an_error_line_and_keeps_the_previous_dataset(tmp_path):
    annotations = write_jsonl(tmp_path / "annotations.jsonl", five_article_export())
    out = tmp_path / "data"
    first = slant("dataset", str(annotations), "--out", str(out))
    assert first.returncode == 0, first.stderr
    before = snapshot(out)
    failed = slant("dataset", str(annotations), "--out", str(out), "--seed", "4", file_limit=2048)
    assert failed.returncode == 1, failed.stderr
    assert "\nerror: " in failed.stderr and "Traceback" not in failed.stderr, failed.stderr
    assert f"the dataset already at {out} is unchanged" in failed.stderr
    assert snapshot(out) == before and siblings(out) == []


def test_a_folder_reached_through_a_symbolic_link_is_replaced_and_the_link_kept(tmp_path):
    from annotate.atomic import write_folder_atomically

    real = tmp_path / "runs" / "report-1"
    write_folder_atomically(real, lambda f: (f / "report.json").write_text("old"))
    link = tmp_path / "report"
    link.symlink_to(real)
    write_folder_atomically(link, lambda f: (f / "report.json").write_text("new"))
    assert link.is_symlink() and (link / "report.json").read_text() == "new"
    assert sorted(p.name for p in real.parent.iterdir()) == ["report-1"]
