"""Ingestion: .txt/.jsonl/.csv readers, bad input, metadata, stable ids, JSON Lines I/O."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from annotate.corpus import (
    ArticleMeta,
    JsonlError,
    ManifestError,
    ingest_paths,
    load_manifest,
    read_sentences,
    sentence_id,
    write_jsonl,
)

ARTICLE = (
    "Pakistan accuses Kabul of harboring the Pakistani Taliban. Washington stays on the sidelines.\n"
    "China and the U.S. have leverage."
)
ARTICLE_2 = "Islamabad believes that India uses Afghanistan. The Taliban deny it."


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def messages(result) -> str:
    return "\n".join(str(e) for e in result.errors)


def test_txt_folder_records_have_ids_offsets_context_and_mentions(tmp_path: Path) -> None:
    write(tmp_path / "a1.txt", ARTICLE)
    result = ingest_paths([tmp_path])
    assert [a.article_id for a in result.articles] == ["a1"]
    recs = result.records
    assert [r.index for r in recs] == [0, 1, 2]
    assert recs[0].context_before == "" and recs[0].context_after == recs[1].text
    assert recs[2].context_before == recs[1].text and recs[2].context_after == ""
    for r in recs:
        assert ARTICLE[r.start: r.end] == r.text
        for m in r.mentions:
            assert r.text[m.start: m.end] == m.text
    assert recs[0].actors() == ["pakistan", "afghan_taliban", "ttp"]
    assert len({r.sentence_id for r in recs}) == 3


def test_sentence_ids_are_stable_and_content_derived(tmp_path: Path) -> None:
    write(tmp_path / "a1.txt", ARTICLE + "\nThe Taliban deny it.\nThe Taliban deny it.")
    first = [r.sentence_id for r in ingest_paths([tmp_path]).records]
    second = [r.sentence_id for r in ingest_paths([tmp_path]).records]
    assert first == second
    assert len(set(first)) == len(first)  # repeated sentences get distinct ids (occurrence index)
    assert sentence_id("a1", "The  Taliban deny it.") == sentence_id("a1", "The Taliban deny it.")
    assert sentence_id("a1", "x") != sentence_id("a2", "x")
    # inserting a new sentence elsewhere does not change the ids of the others
    write(tmp_path / "a1.txt", "A new first line.\n" + ARTICLE + "\nThe Taliban deny it.\nThe Taliban deny it.")
    third = [r.sentence_id for r in ingest_paths([tmp_path]).records]
    assert third[1:] == first


def test_jsonl_corpus_with_metadata_and_line_numbered_errors(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "j1", "text": ARTICLE, "title": "T1", "source": "Outlet A"}),
        "{not json",
        json.dumps({"id": "j2", "body": "no text key"}),
        "",
        json.dumps({"id": "j3", "text": ARTICLE_2, "source": "Outlet B"}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "j4", "text": 42}),
    ]
    path = write(tmp_path / "corpus.jsonl", "\n".join(lines) + "\n")
    result = ingest_paths([path])
    assert [a.article_id for a in result.articles] == ["j1", "j3"]
    assert {r.source for r in result.records} == {"Outlet A", "Outlet B"}
    assert result.records[0].title == "T1"
    errs = messages(result)
    assert f"{path}:2: not valid JSON" in errs
    assert f"{path}:3: no 'text' field" in errs
    assert f"{path}:6: expected a JSON object" in errs
    assert f"{path}:7: field 'text' must be a string" in errs


def test_csv_corpus_with_configurable_columns(tmp_path: Path) -> None:
    from annotate.corpus import ColumnMap

    path = write(
        tmp_path / "corpus.csv",
        'doc,body,outlet\nc1,"' + ARTICLE.replace('"', '""') + '",Outlet C\nc2,,Outlet D\nc3,"' + ARTICLE_2 + '",Outlet E\n',
    )
    result = ingest_paths([path], columns=ColumnMap(text="body", id="doc", source="outlet"))
    assert [a.article_id for a in result.articles] == ["c1", "c3"]
    assert result.records[0].source == "Outlet C"
    # the multi-line quoted cell of c1 spans lines 2-3, so the empty c2 row is on line 4
    assert f"{path}:4: field 'body' is empty" in messages(result)
    missing = ingest_paths([path])  # default column names: no 'text' column
    assert not missing.articles and "no 'text' column (columns: doc, body, outlet)" in messages(missing)


def test_empty_binary_and_whitespace_files_are_named_and_skipped(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", ARTICLE)
    write(tmp_path / "empty.txt", "")
    write(tmp_path / "blank.txt", "  \n\n ")
    write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    result = ingest_paths([tmp_path])
    assert [a.article_id for a in result.articles] == ["good"]
    errs = messages(result)
    assert f"{tmp_path / 'empty.txt'}: file is empty" in errs
    assert f"{tmp_path / 'blank.txt'}: file has only whitespace" in errs
    assert f"{tmp_path / 'image.txt'}: looks like a binary file" in errs


def test_cp1252_file_is_decoded_with_a_warning(tmp_path: Path) -> None:
    text = "Pakistan’s army and the Taliban’s leaders met in Doha — “talks” continued."
    write(tmp_path / "win.txt", text.encode("cp1252"))
    result = ingest_paths([tmp_path])
    assert not result.errors
    assert "“talks”" in result.records[0].text and "Pakistan’s" in result.records[0].text
    assert any("win.txt" in str(w) and "cp1252" in str(w) for w in result.warnings)
    assert [m.actor for m in result.records[0].mentions] == ["pakistan", "afghan_taliban"]


def test_file_over_the_size_limit_is_refused_quickly_and_others_processed(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", ARTICLE)
    big = tmp_path / "huge.txt"
    with open(big, "w") as fh:
        line = "Pakistan and the Taliban met again today. " * 24 + "\n"
        while fh.tell() < 50 * 1024 * 1024:
            fh.write(line)
    result = ingest_paths([tmp_path])
    assert [a.article_id for a in result.articles] == ["good"]
    assert f"{big}: file is 50.0 MB, above the 10.0 MB limit" in messages(result)
    small_limit = ingest_paths([tmp_path / "good.txt"], max_bytes=10)
    assert not small_limit.articles and "above the 10 bytes limit" in messages(small_limit)


def test_missing_paths_unsupported_files_and_duplicate_ids(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write(tmp_path / "a" / "x.txt", ARTICLE)
    write(tmp_path / "b" / "x.txt", ARTICLE_2)
    write(tmp_path / "b" / "notes.docx", "binary-ish")
    result = ingest_paths([tmp_path / "a", tmp_path / "b", tmp_path / "nope", tmp_path / "b" / "notes.docx"])
    assert [x.article_id for x in result.articles] == ["x"]
    errs = messages(result)
    assert f"{tmp_path / 'b' / 'x.txt'}: duplicate article id 'x' (first seen in {a})" in errs
    assert f"{tmp_path / 'nope'}: no such file or folder" in errs
    assert "unsupported file type '.docx'" in errs
    assert any("notes.docx" in str(w) for w in result.warnings)


def test_article_that_is_only_boilerplate_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "junk.txt", "Last Updated:\nPlease enter your comment!\nComments are closed.")
    result = ingest_paths([tmp_path])
    assert not result.articles and "no text left after removing boilerplate" in messages(result)


def test_manifest_in_folder_is_used_and_explicit_manifest_wins(tmp_path: Path) -> None:
    write(tmp_path / "a1.txt", ARTICLE)
    write(tmp_path / "manifest.toml", '[[article]]\nid = "a1"\ntitle = "Folder title"\nsource = "Folder outlet"\n')
    assert ingest_paths([tmp_path]).records[0].source == "Folder outlet"
    other = write(tmp_path / "other.csv", "id,title,source\na1,CSV title,CSV outlet\n")
    recs = ingest_paths([tmp_path / "a1.txt"], manifest=other).records
    assert (recs[0].title, recs[0].source) == ("CSV title", "CSV outlet")
    assert load_manifest(other)["a1"] == ArticleMeta(id="a1", title="CSV title", source="CSV outlet")


@pytest.mark.parametrize(
    "content, message",
    [
        ('[[article]]\ntitle = "no id"\n', "needs a non-empty `id`"),
        ('[[article]]\nid = "a"\nheadline = "x"\n', "unknown fields ['headline']"),
        ('[[article]]\nid = "a"\n[[article]]\nid = "a"\n', "duplicate article id 'a'"),
        ('[[article]]\nid = "a"\ndate = 2024-01-01\n', "must be a string"),
    ],
)
def test_bad_manifest_names_file_and_entry(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path / "manifest.toml", content)
    with pytest.raises(ManifestError) as exc:
        load_manifest(path)
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_write_jsonl_is_atomic_and_round_trips(tmp_path: Path) -> None:
    write(tmp_path / "a1.txt", ARTICLE)
    records = ingest_paths([tmp_path]).records
    out = tmp_path / "out" / "sentences.jsonl"
    assert write_jsonl(out, records) == len(records)
    assert read_sentences(out) == records
    before = out.read_bytes()

    def exploding():
        yield records[0]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_jsonl(out, exploding())
    assert out.read_bytes() == before  # the old file is untouched
    assert [p.name for p in out.parent.iterdir()] == ["sentences.jsonl"]  # no temp file left
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_read_sentences_reports_the_bad_line(tmp_path: Path) -> None:
    write(tmp_path / "a1.txt", ARTICLE)
    path = tmp_path / "s.jsonl"
    write_jsonl(path, ingest_paths([tmp_path]).records)
    lines = path.read_text().splitlines()
    write(path, "\n".join([lines[0], "{broken", *lines[1:]]) + "\n")
    with pytest.raises(JsonlError, match=r"s\.jsonl: line 2: not valid JSON"):
        read_sentences(path)
    write(path, "\n".join([lines[0], json.dumps({"sentence_id": "x"})]) + "\n")
    with pytest.raises(JsonlError, match=r"line 2: not a sentence record"):
        read_sentences(path)


def test_jsonl_lines_are_decoded_and_split_one_by_one(tmp_path: Path) -> None:
    good = json.dumps({"id": "r1", "text": "Pakistan’s army said Türkiye’s envoy met the Taliban."}, ensure_ascii=False)
    separators = json.dumps({"id": "r3", "text": "Pakistan\u2028and India\u0085met."}, ensure_ascii=False)
    path = write(tmp_path / "mixed.jsonl", good.encode() + b"\n" + b'{"id": "r2", "text": "Caf\xe9 owners in Kabul."}\n'
                 + separators.encode() + b"\n" + b'{"id": "r4", "n": ' + b"9" * 5000 + b"}\n")
    result = ingest_paths([path])
    assert [a.article_id for a in result.articles] == ["r1", "r2", "r3"]
    first = next(r for r in result.records if r.article_id == "r1")
    assert first.text.startswith("Pakistan’s army said Türkiye’s") and len(first.mentions) == 3
    warnings = [str(w) for w in result.warnings]
    assert any(w.startswith(f"{path}:2: not valid UTF-8") for w in warnings), warnings
    assert f"{path}:4: not valid JSON" in messages(result)


def test_csv_over_long_row_is_refused_alone_and_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    long_text = "Pakistan " * 20_000
    path = write(tmp_path / "big.csv", f'id,text\n\nb1,"{long_text}"\n\nb2,"{ARTICLE_2}"\nb3,"x",extra\n\nb4,"{ARTICLE}"\n')
    result = ingest_paths([path], max_bytes=100_000)
    assert [a.article_id for a in result.articles] == ["b2", "b4"]
    errors = messages(result)
    assert f"{path}:3:" in errors and "b1" not in [a.article_id for a in result.articles]
    assert f"{path}:6: row has 3 fields, header has 2" in errors


def test_manifest_csv_from_a_spreadsheet_and_non_utf8_toml(tmp_path: Path) -> None:
    csv_path = write(tmp_path / "manifest.csv", b"id,title,source\r\na1,Caf\xe9 talks \x96 Pakistan,Dawn\r\n,,\r\n,,\r\n")
    meta = load_manifest(csv_path)
    assert meta["a1"].title == "Café talks – Pakistan" and set(meta) == {"a1"}
    toml_path = write(tmp_path / "manifest.toml", b'[[article]]\nid = "a1"\ntitle = "Caf\xe9"\n')
    with pytest.raises(ManifestError, match=r"manifest\.toml: not UTF-8 text \(byte 34\)"):
        load_manifest(toml_path)


def test_csv_unclosed_quote_is_named_and_the_rows_it_swallowed_are_read(tmp_path: Path) -> None:
    runs_to_end = write(tmp_path / "open.csv", 'id,text\na1,"Pakistan spoke to the ""TTP"" today.\na2,Kabul replied.\na3,Washington watched.\n')
    result = ingest_paths([runs_to_end])
    assert [a.article_id for a in result.articles] == ["a2", "a3"]
    assert all("Kabul" not in r.text or r.article_id == "a2" for r in result.records)
    assert f"{runs_to_end}:2: unclosed quote" in messages(result) and "lines 3-4 read again as rows" in messages(result)
    # the stray quote pairs with a later row's quote instead of running to the end of the file
    mispaired = write(tmp_path / "pair.csv", 'id,text\nb1,"Pakistan spoke today.\nb2,Kabul replied.\nb3,"Washington watched."\n')
    result = ingest_paths([mispaired])
    assert [a.article_id for a in result.articles] == ["b2", "b3"]
    assert f"{mispaired}:2: malformed CSV: ',' expected after '\"' on line 4" in messages(result)
    glued = write(tmp_path / "glued.csv", 'id,text\nc1,"Pakistan" spoke.\nc2,Kabul replied.\n')
    result = ingest_paths([glued])
    assert [a.article_id for a in result.articles] == ["c2"]
    assert f"{glued}:2: malformed CSV" in messages(result) and "text after a closing quote" in messages(result)


def test_one_stray_byte_falls_back_to_cp1252_for_its_line_only(tmp_path: Path) -> None:
    content = "Türkiye and Pakistan met in Doha.\nThe talks \x96 brief \x96 ended.\nTürkiye’s envoy left.\n"
    txt = write(tmp_path / "stray.txt", content.encode().replace(b"\xc2\x96", b"\x96"))
    result = ingest_paths([txt])
    texts = [r.text for r in result.records]
    assert texts == ["Türkiye and Pakistan met in Doha.", "The talks – brief – ended.", "Türkiye’s envoy left."]
    assert [str(w) for w in result.warnings] == [
        f"{txt}:2: not valid UTF-8 on line(s) 2 (first bad byte at offset 45); only those lines decoded as cp1252 (Windows-1252)"
    ]
    row = write(tmp_path / "stray.csv", b"id,text\ns1,T\xc3\xbcrkiye met Pakistan.\ns2,Caf\xe9 owners in Kabul.\n")
    result = ingest_paths([row])
    assert [r.text for r in result.records] == ["Türkiye met Pakistan.", "Café owners in Kabul."]
    assert [w.line for w in result.warnings] == [3]


def test_excluded_output_file_is_not_read_from_a_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path / "a1.txt", ARTICLE)
    out = tmp_path / "sentences.jsonl"
    write_jsonl(out, ingest_paths([tmp_path], exclude=[out]).records)
    with caplog.at_level("INFO", logger="annotate.corpus.readers"):
        again = ingest_paths([tmp_path], exclude=[tmp_path / "." / "sentences.jsonl"])  # compared resolved
    assert [a.article_id for a in again.articles] == ["a1"] and not again.errors
    assert f"{out}: not read, it is this run's output file" in caplog.text
    named = ingest_paths([out, tmp_path / "a1.txt"], exclude=[out])
    assert f"{out}: is the output file of this run; not read as input" in messages(named)


def test_manifest_ids_that_match_no_article_are_a_warning(tmp_path: Path) -> None:
    write(tmp_path / "a1.txt", ARTICLE)
    write(tmp_path / "a2.txt", "")  # read and failed: its id is not a typo
    manifest = write(tmp_path / "manifest.toml", "".join(
        f'[[article]]\nid = "{i}"\ntitle = "T"\n' for i in ("a1", "a2", "al", "a3")))
    result = ingest_paths([tmp_path])
    assert [str(w) for w in result.warnings] == [
        f"{manifest}: 2 manifest entries match no article read: 'al', 'a3' (a typo in the id?)"
    ]
    assert result.records[0].title == "T"  # matched entries still apply
    explicit = ingest_paths([tmp_path / "a1.txt"], manifest={"a1": ArticleMeta("a1"), "b": ArticleMeta("b")})
    assert [str(w) for w in explicit.warnings] == ["manifest: 1 manifest entry matches no article read: 'b' (a typo in the id?)"]


def test_utf16_files_apple_double_files_and_a_nul_in_one_csv_row(tmp_path: Path) -> None:
    write(tmp_path / "notepad.txt", ("\ufeff" + ARTICLE_2).encode("utf-16-le"))
    write(tmp_path / "excel.csv", "id,text\nu1,Türkiye and Pakistan met.\n".encode("utf-16"))
    write(tmp_path / "._notepad.txt", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    nul = write(tmp_path / "rows.csv", b"id,text\nn1,Pakistan\x00 spoke.\nn2,Kabul replied.\n")
    result = ingest_paths([tmp_path])
    assert [a.article_id for a in result.articles] == ["u1", "notepad", "n2"]
    assert result.records[0].text == "Türkiye and Pakistan met."
    assert [str(e) for e in result.errors] == [f"{nul}:2: field 'text' holds a NUL byte (binary data?); row skipped"]
    assert not result.warnings


def test_ingest_does_not_import_torch_and_torch_still_imports_after(tmp_path: Path) -> None:
    """spaCy's thinc imports torch when it is installed (4 s); ingest keeps it out, and a
    later `import torch` in the same process (slant run trains next) still works."""
    import subprocess
    import sys

    seeds = Path(__file__).resolve().parent.parent / "seeds"
    script = ("import sys\nfrom annotate.corpus import ingest_paths\n"
              f"result = ingest_paths([{str(seeds)!r}])\n"
              "print(len(result.records), 'torch' in sys.modules)\n"
              "import torch\nprint(float(torch.ones(3).sum()))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.split() == ["242", "False", "3.0"], out.stderr


def test_the_manifest_date_decides_what_dated_names_and_people_stand_for(tmp_path: Path) -> None:
    text = "Afghan forces fired on a post, Kabul said. President Ashraf Ghani spoke."
    write(tmp_path / "old.txt", text)
    write(tmp_path / "new.txt", text)
    write(tmp_path / "undated.txt", text)
    write(tmp_path / "manifest.toml", '[[article]]\nid = "old"\ndate = "2019-03-01"\n'
                                      '[[article]]\nid = "new"\ndate = "2026-03-10T08:00:00Z"\n')
    result = ingest_paths([tmp_path])
    actors = {a: [(m.text, m.actor) for r in result.records if r.article_id == a for m in r.mentions]
              for a in ("old", "new", "undated")}
    assert actors["old"] == [("Afghan forces", "afghan_government"), ("Kabul", "afghan_government"),
                             ("Ashraf Ghani", "afghan_government")]
    assert actors["new"] == [("Afghan forces", "afghan_taliban"), ("Kabul", "afghan_taliban")]  # Ghani: former
    assert actors["undated"] == [("Afghan forces", "afghan_government"), ("Kabul", "afghan_taliban"),
                                 ("Ashraf Ghani", "afghan_government")]


def test_a_date_that_is_not_iso_is_a_warning_and_the_article_is_read_undated(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Kabul said no.")
    write(tmp_path / "manifest.toml", '[[article]]\nid = "a"\ndate = "26/10/2025"\n')
    result = ingest_paths([tmp_path])
    assert [m.actor for m in result.records[0].mentions] == ["afghan_taliban"]
    warning = next(str(w) for w in result.warnings if "26/10/2025" in str(w))
    assert "a.txt" in warning and "not an ISO 8601 date" in warning


def test_removed_lines_per_article_are_in_the_records_and_the_summary(tmp_path: Path) -> None:
    page = ("Home\nPakistan\nWorld\nAIRLINK 107.70 Increased By ▲ 1.59 (1.5%)\nSign In Now\n"
            "Pakistan and the Taliban met in Istanbul.\nShare Tweet WhatsApp Email\n")
    write(tmp_path / "page.txt", page)
    write(tmp_path / "clean.txt", ARTICLE)
    result = ingest_paths([tmp_path])
    by_id = {a.article_id: a for a in result.articles}
    expected = {"navigation_list": 3, "number_dense": 1, "paywall_prompt": 1, "share_bar": 1}
    assert by_id["page"].removed_lines == expected and by_id["clean"].removed_lines == {}
    assert result.removed_line_counts() == expected
    records = [r for r in result.records if r.article_id == "page"]
    assert [r.text for r in records] == ["Pakistan and the Taliban met in Istanbul."]
    assert all(r.removed_lines == expected for r in records)
    out = tmp_path / "out" / "s.jsonl"
    out.parent.mkdir()
    write_jsonl(out, result.records)
    assert [r.removed_lines for r in read_sentences(out)] == [r.removed_lines for r in result.records]


def test_a_bad_removed_lines_value_names_the_line(tmp_path: Path) -> None:
    good = {"sentence_id": "a" * 16, "article_id": "x", "index": 0, "text": "Hi.", "start": 0, "end": 3}
    path = write(tmp_path / "s.jsonl", json.dumps(good) + "\n" + json.dumps({**good, "removed_lines": {"share_bar": -1}}) + "\n")
    with pytest.raises(JsonlError) as exc:
        read_sentences(path)
    assert "line 2" in str(exc.value) and "removed_lines" in str(exc.value)


def test_a_jsonl_rows_own_date_dates_its_mentions(tmp_path: Path) -> None:
    rows = [{"id": "old", "date": "2020-02-29", "text": "Kabul was not a party to the deal."},
            {"id": "new", "date": "2025-10-19", "text": "Kabul was not a party to the deal."}]
    path = write(tmp_path / "c.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = ingest_paths([path])
    assert {r.article_id: r.mentions[0].actor for r in result.records} == {"old": "afghan_government", "new": "afghan_taliban"}
