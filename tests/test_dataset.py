"""Dataset building: features, article-grouped splits, k-fold, saving, card, CLI."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import datasets
import pytest
from typer.testing import CliRunner

from annotate.adjudication import adjudicate, read_adjudicated
from annotate.dataset import (
    AnnotationFileError,
    build_dataset,
    grouped_kfold,
    read_annotations,
    save_dataset,
    split_articles,
)
from annotate.dataset_features import stance_features
from annotate.labels import ENGAGEMENT_TARGET
from tests.annotation_fixtures import CRITICAL, FAVORABLE, STANCE, A, five_article_export, record

ARTIFACTS = Path(__file__).parent / "artifacts" / "dataset"


def _write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records), encoding="utf-8")
    return path


def _articles(ds: datasets.Dataset) -> set[str]:
    return set(ds["article_id"])


def test_build_dataset_rows_features_and_grouped_splits() -> None:
    records = five_article_export()
    dd = build_dataset(records, seed=0)
    assert list(dd) == ["train", "validation", "test"]
    for ds in dd.values():
        assert ds.features == stance_features()
        assert ds.features["label"].names == list(STANCE)
    # 3/1/1 articles; 6 labeled rows per article (ties unresolved, off-target dropped).
    assert [len(_articles(dd[s])) for s in dd] == [3, 1, 1]
    assert [len(dd[s]) for s in dd] == [18, 6, 6]
    splits = list(dd.values())
    for i in range(3):
        for j in range(i + 1, 3):
            assert not _articles(splits[i]) & _articles(splits[j])
    rows = [r for ds in dd.values() for r in ds.to_list()]
    labeled = [l for l in adjudicate(records) if l.label is not None and not l.off_target]
    assert Counter((r["sentence_id"], r["target"]) for r in rows) == Counter((l.sentence_id, l.target) for l in labeled)
    names = dd["train"].features["label"].names
    for row in rows:
        if row["target"] == ENGAGEMENT_TARGET:
            assert row["target_text"] == ENGAGEMENT_TARGET and row["mention_start"] == []
        else:
            starts, ends = row["mention_start"], row["mention_end"]
            assert starts and row["text"][starts[0]:ends[0]] == row["target_text"]
        assert 0 < row["agreement"] <= 1 and row["n_annotators"] >= 2
    truth = next(r for r in rows if r["sentence_id"].endswith("/s3") and r["target"] == "pakistan")
    assert names[truth["label"]] == CRITICAL and truth["agreement"] == pytest.approx(1 / 3)
    # Another seed moves articles between splits but keeps the grouping.
    other = build_dataset(records, seed=3)
    assert [len(_articles(other[s])) for s in other] == [3, 1, 1]


def test_tie_policy_changes_what_enters() -> None:
    dd = build_dataset(five_article_export(), tie_policy="median")
    assert sum(len(ds) for ds in dd.values()) == 40  # + the two ties per article


def test_split_articles_edge_cases() -> None:
    assert [len(v) for v in split_articles(["a"]).values()] == [0, 0, 1]
    assert {k: len(v) for k, v in split_articles(["a", "b"]).items()} == {"test": 1, "validation": 0, "train": 1}
    big = split_articles([f"a{i}" for i in range(100)], val_fraction=0.1, test_fraction=0.15)
    assert (len(big["test"]), len(big["validation"]), len(big["train"])) == (15, 10, 75)
    with pytest.raises(ValueError):
        split_articles(["a", "b"], val_fraction=0.5, test_fraction=0.5)


def test_grouped_kfold_and_leave_one_article_out() -> None:
    dd = build_dataset(five_article_export())
    total = sum(len(ds) for ds in dd.values())
    loao = grouped_kfold(dd, 5)
    assert len(loao) == 5
    assert sorted(a for fold in loao for a in _articles(fold["test"])) == sorted(
        {a for ds in dd.values() for a in ds["article_id"]})
    for fold in loao:
        assert len(_articles(fold["test"])) == 1
        assert not _articles(fold["test"]) & _articles(fold["train"])
        assert len(fold["train"]) + len(fold["test"]) == total
    two = grouped_kfold(dd, 2, seed=1)
    assert sorted(len(_articles(f["test"])) for f in two) == [2, 3]
    with pytest.raises(ValueError, match="between 2 and the number of articles"):
        grouped_kfold(dd, 6)


def test_merge_several_exports_and_save(tmp_path: Path) -> None:
    records = five_article_export()
    first = _write_jsonl(tmp_path / "first.jsonl", records[: len(records) // 2])
    second = _write_jsonl(tmp_path / "second.jsonl", records[len(records) // 2:] + records[:10])  # overlap
    merged = read_annotations([first, second])
    dd = build_dataset(merged)
    assert sum(len(ds) for ds in dd.values()) == 30  # duplicates across exports count once
    out = ARTIFACTS / "saved"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_dataset(dd, out, provenance={"note": "test fixture annotators"}, k_folds=5)
    loaded = datasets.load_from_disk(str(out))
    for split in dd:
        assert loaded[split].to_list() == dd[split].to_list()
        parquet = datasets.Dataset.from_parquet(str(out / "parquet" / f"{split}.parquet"))
        assert parquet["sentence_id"] == dd[split]["sentence_id"]
    card = (out / "README.md").read_text()
    assert "| train | 18 | 3 |" in card and "test fixture annotators" in card
    for name in STANCE:
        assert name in card
    folds = json.loads((out / "folds.json").read_text())
    assert folds["k"] == 5 and sorted(len(f) for f in folds["test_articles"]) == [1] * 5
    # Saving again replaces the dataset; a folder that is not a dataset is never wiped.
    save_dataset(dd, out)
    assert not (out / "folds.json").exists()
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        save_dataset(dd, keep)
    assert (keep / "notes.txt").read_text() == "mine"


def test_a_dataset_folder_holding_other_files_is_refused(tmp_path: Path) -> None:
    # (A save that fails half way, on a full disk or killed, is tested for real in
    # tests/test_folder_outputs.py: the previous dataset stays whole.)
    dd = build_dataset(five_article_export())
    out = tmp_path / "ds"
    save_dataset(dd, out, provenance={"note": "first"})
    save_dataset(dd, out, provenance={"note": "second"})
    assert "second" in (out / "README.md").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no backup or temporary folder left behind
    # A file of the user's inside the dataset folder (a model trained into it, the input being
    # rebuilt from) would go with the swap: refused, and nothing is touched.
    (out / "annotations.jsonl").write_text("mine")
    with pytest.raises(FileExistsError, match=r"not part of the dataset \(annotations\.jsonl\)"):
        save_dataset(dd, out)
    assert (out / "annotations.jsonl").read_text() == "mine"


def test_one_article_gives_empty_splits_that_still_save_and_load(tmp_path: Path) -> None:
    records = [r for r in five_article_export() if r.article_id == "fixture-article-0"]
    dd = build_dataset(records)
    assert [len(dd[s]) for s in dd] == [6, 0, 0]
    save_dataset(dd, tmp_path / "one")
    loaded = datasets.load_from_disk(str(tmp_path / "one"))
    assert [len(loaded[s]) for s in loaded] == [6, 0, 0] and loaded["test"].features == stance_features()
    assert sorted(p.name for p in (tmp_path / "one" / "parquet").iterdir()) == ["train.parquet"]
    assert "parquet/test.parquet" not in (tmp_path / "one" / "README.md").read_text()


def test_read_annotations_names_file_and_line(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "a.jsonl", five_article_export()[:3])
    path.write_text(path.read_text() + '{"sentence_id": "x"}\nnot json\n')
    with pytest.raises(AnnotationFileError, match=r"a\.jsonl:4: "):
        read_annotations([path])
    errors: list[str] = []
    assert len(read_annotations([path], errors=errors)) == 3
    assert [e.split(": ")[0] for e in errors] == [f"{path}:4", f"{path}:5"]
    with pytest.raises(AnnotationFileError, match="no such file"):
        read_annotations([tmp_path / "missing.jsonl"])


@pytest.mark.parametrize("field, value, message", [
    ("annotator", None, "annotator must be a non-empty string"),
    ("annotator", 7, "annotator must be a non-empty string"),
    ("target", None, "target must be a non-empty string"),
    ("annotation_id", "5", "annotation_id must be an integer or null"),
    ("off_target", "false", "off_target must be true or false"),
    ("ground_truth", "false", "ground_truth must be true or false"),
    ("label", 2, "label must be a string or null"),
    ("lead_time", "3.5", "lead_time must be a number or null"),
    ("mentions", None, "mentions must be a list of objects"),
])
def test_a_field_of_the_wrong_type_is_a_bad_line_naming_the_field(tmp_path: Path, field, value, message) -> None:
    """Before, a null annotator merged unknown people into one voter and "false" counted as
    true (an item silently dropped off target); such lines are now named and skipped."""
    good = five_article_export()[:2]
    path = tmp_path / "typed.jsonl"
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in good)
                    + json.dumps({**good[0].to_dict(), field: value}) + "\n")
    errors: list[str] = []
    assert read_annotations([path], errors=errors) == good
    assert len(errors) == 1 and errors[0].startswith(f"{path}:3: ") and message in errors[0]


def test_fields_from_a_newer_writer_are_ignored_like_the_report_does(tmp_path: Path, caplog) -> None:
    records = five_article_export()[:3]
    path = tmp_path / "newer.jsonl"
    path.write_text("".join(json.dumps({**r.to_dict(), "confidence": 0.9}) + "\n" for r in records))
    with caplog.at_level("WARNING"):
        assert read_annotations([path]) == records
    assert sum("ignoring unknown AnnotationRecord field(s): confidence" in m for m in caplog.messages) <= 1
    # a missing required field is still an error naming the line
    path.write_text(json.dumps({k: v for k, v in records[0].to_dict().items() if k != "target"}) + "\n")
    with pytest.raises(AnnotationFileError, match=r"newer\.jsonl:1: .*target"):
        read_annotations([path])


def test_cli_agreement_adjudicate_dataset(tmp_path: Path) -> None:
    from models.cli import app

    runner = CliRunner(env={"COLUMNS": "200"})
    annotations = _write_jsonl(tmp_path / "annotations.jsonl", five_article_export())
    result = runner.invoke(app, ["agreement", str(annotations), "--out", str(tmp_path / "agreement.json"),
                                 "--n-boot", "50"])
    assert result.exit_code == 0, result.output
    assert "pakistan" in result.output and "Fleiss" in result.output and A in result.output
    report = json.loads((tmp_path / "agreement.json").read_text())
    assert report["targets"]["pakistan"]["n_items"] == 20

    adjudicated = tmp_path / "adjudicated.jsonl"
    result = runner.invoke(app, ["adjudicate", str(annotations), "--out", str(adjudicated),
                                 "--review-tasks", str(tmp_path / "review.json")])
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "review.json").read_text())) == 10
    reviews = _write_jsonl(tmp_path / "reviewed.jsonl",
                           [record("fixture-article-0/s1", "pakistan", "fixture-reviewer@example.test", FAVORABLE)])
    result = runner.invoke(app, ["adjudicate", str(annotations), "--out", str(adjudicated),
                                 "--reviews", str(reviews)])
    assert result.exit_code == 0 and "reviewer 1" in result.output, result.output

    result = runner.invoke(app, ["dataset", str(adjudicated), "--out", str(tmp_path / "data"), "--k-folds", "5"])
    assert result.exit_code == 0, result.output
    loaded = datasets.load_from_disk(str(tmp_path / "data"))
    assert sum(len(ds) for ds in loaded.values()) == 31  # 30 + the tie the reviewer settled
    # The raw annotations and their adjudicated file together: one row per item, the file's label wins.
    result = runner.invoke(app, ["dataset", str(annotations), str(adjudicated), "--out", str(tmp_path / "both")])
    assert result.exit_code == 0 and "more than one input" in result.output, result.output
    both = datasets.load_from_disk(str(tmp_path / "both"))
    assert sum(len(ds) for ds in both.values()) == 31
    # Both kinds of input are on the card, each file with its digest.
    card = (tmp_path / "both" / "README.md").read_text()
    digest = hashlib.sha256(adjudicated.read_bytes()).hexdigest()[:12]
    assert "| annotation file |" in card and "| adjudicated file |" in card
    assert f"| {adjudicated} | {digest} | 45 |" in card and "reviewer: 1" in card  # 45 items, 31 resolved
    rows = [r for ds in both.values() for r in ds]
    reviewed = next(r for r in rows if (r["sentence_id"], r["target"]) == ("fixture-article-0/s1", "pakistan"))
    assert both["train"].features["label"].int2str(reviewed["label"]) == FAVORABLE
    with pytest.raises(ValueError, match="more than one adjudicated label"):
        build_dataset(read_adjudicated(adjudicated) * 2)

    bad_review = _write_jsonl(tmp_path / "bad_review.jsonl",
                              [record("fixture-article-0/s1", "pakistan", "fixture-reviewer@example.test", "Favorable")])
    before = adjudicated.read_text()
    result = runner.invoke(app, ["adjudicate", str(annotations), "--out", str(adjudicated),
                                 "--reviews", str(bad_review)])
    assert result.exit_code == 1 and str(bad_review) in result.output and "Traceback" not in result.output
    assert "'Favorable' is not a stance class" in result.output and adjudicated.read_text() == before

    result = runner.invoke(app, ["adjudicate", str(annotations), "--out", str(adjudicated), "--tie-policy", "dice"])
    assert result.exit_code == 2 and "valid tie policies" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text(annotations.read_text() + "{broken\n")
    result = runner.invoke(app, ["agreement", str(bad), "--n-boot", "0", "--strict"])
    assert result.exit_code == 1 and f"{bad}:{len(five_article_export()) + 1}:" in result.output
    result = runner.invoke(app, ["dataset", str(bad), "--out", str(tmp_path / "d2"), "--k-folds", "9"])
    assert result.exit_code == 2 and "--k-folds 9" in result.output


def test_cli_options_are_checked_before_anything_is_written(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from models.cli import app

    runner = CliRunner()
    annotations = _write_jsonl(tmp_path / "annotations.jsonl", five_article_export())
    out = tmp_path / "adjudicated.jsonl"
    result = runner.invoke(app, ["adjudicate", str(annotations), "--out", str(out), "--review-tasks",
                                 str(tmp_path / "review.json"), "--review-scope", "bogus"])
    assert result.exit_code == 2 and "unknown review scope 'bogus'" in result.output
    assert not out.exists()  # before, the labels were written and then the run failed
    result = runner.invoke(app, ["adjudicate", str(annotations), "--out", str(out), "--review-scope", "disagreements"])
    assert result.exit_code == 0 and "only shape --review-tasks" in result.output
    result = runner.invoke(app, ["agreement", str(annotations), "--seed", "-1", "--n-boot", "10"])
    assert result.exit_code == 2 and "Traceback" not in result.output and "--seed" in result.output


def test_card_of_an_empty_dataset_has_valid_json_and_yaml() -> None:
    from annotate.dataset import agreement_summary, dataset_card

    dd = build_dataset([])
    assert all(len(ds) == 0 for ds in dd.values())
    summary = agreement_summary([])
    assert summary["mean_agreement"] is None and summary["items"] == 0
    card = dataset_card(dd, provenance={"adjudication": summary})
    front = card.split("---")[1]
    assert "NaN" not in card and "data_files" not in front and "task_categories" in front
