"""Load NewsMTSC (Hamborg & Donnay, EACL 2021) into Slant's stance dataset features.

NewsMTSC is a target-dependent sentiment benchmark on English news. Its files are JSON
Lines; each line is a sentence with one or more targets, each target with a polarity
(2.0 = negative, 4.0 = neutral, 6.0 = positive). We map the polarity onto Slant's stance
classes (critical / neutral / favorable, names read from ``label_config.xml``) and emit one
row per target with exactly the features of :func:`annotate.dataset_features.stance_features`,
so a model can be pre-trained on NewsMTSC and then fine-tuned on annotated seeds.

Nothing is downloaded: the caller passes a local path (a directory laid out as the
published release, or a single ``.jsonl`` file).

Provenance notes:
- ``source`` is ``"newsmtsc"``: the release does not name the outlet of each sentence.
- NewsMTSC publishes consolidated labels only, not the individual annotators' votes, so
  ``n_annotators`` is 0 (unknown) and ``agreement`` is NaN (unknown), not invented figures.
- ``article_id`` is the gid prefix before the sentence number: ``allsides_1000_401`` for
  ``allsides_1000_401_25_Reality Leigh Winner_0_6``, ``polusa_v1_113704059_-1`` for
  ``polusa_v1_113704059_-1_35_Northam_148_155``. Use it to split without article leakage.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotate.dataset_features import FEATURE_NAMES, stance_features
from annotate.jsonl import iter_jsonl
from annotate.labels import load_label_set

if TYPE_CHECKING:  # pragma: no cover
    import datasets

log = logging.getLogger(__name__)

#: Split name -> file, relative to the NewsMTSC directory (the published layout).
NEWSMTSC_SPLITS: dict[str, str] = {
    "train": "train.jsonl",
    "dev_rw": "experiments-rw/dev.jsonl",
    "test_rw": "experiments-rw/test.jsonl",
    "dev_mt": "experiments-mt/dev.jsonl",
    "test_mt": "experiments-mt/test.jsonl",
}

#: NewsMTSC polarity value -> index into the stance classes (critical < neutral < favorable).
#: Kept as indices so the names themselves still come from ``label_config.xml``.
POLARITY_TO_STANCE_INDEX: dict[float, int] = {2.0: 0, 4.0: 1, 6.0: 2}

SOURCE = "newsmtsc"

# <corpus>[_v<n>]_<a>_<b>_<sentence number>_...: the article id is everything before the
# sentence number (allsides_<article>_<story>, polusa_v1_<article>_<story or -1>).
_GID_ARTICLE = re.compile(r"^(?P<article>[A-Za-z]+(?:_v\d+)?_-?\d+_-?\d+)_-?\d+_")


class NewsMTSCError(ValueError):
    """A NewsMTSC file is missing or malformed; the message names the file and line."""


def article_id_from_gid(gid: str) -> str:
    """The article part of a NewsMTSC gid (see the module docstring); raises ``ValueError``."""
    match = _GID_ARTICLE.match(gid)
    if not match:
        raise ValueError(f"gid {gid!r} does not look like <corpus>_<article>_<story>_<sentence>_...")
    return match.group("article")


def _rows_from_line(obj: dict[str, Any], *, stance: tuple[str, ...], further_mentions: bool) -> list[dict[str, Any]]:
    """Rows for one parsed line (a JSON object); raises ``ValueError`` saying what is wrong."""
    for key in ("primary_gid", "sentence_normalized", "targets"):
        if key not in obj:
            raise ValueError(f"missing key {key!r}")
    gid, text, targets = obj["primary_gid"], obj["sentence_normalized"], obj["targets"]
    if not isinstance(text, str) or not isinstance(gid, str):
        raise ValueError("'primary_gid' and 'sentence_normalized' must be strings")
    if not isinstance(targets, list) or not targets:
        raise ValueError("'targets' must be a non-empty list")
    article_id = article_id_from_gid(gid)
    rows = []
    for t_index, target in enumerate(targets):
        where = f"target {t_index}"
        try:
            polarity = float(target["polarity"])
            start, end, mention = int(target["from"]), int(target["to"]), str(target["mention"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: needs numeric 'polarity', 'from', 'to' and a 'mention' ({exc})") from None
        if polarity not in POLARITY_TO_STANCE_INDEX:
            raise ValueError(f"{where}: polarity {target['polarity']!r} is not one of 2.0, 4.0, 6.0")
        if not (0 <= start < end <= len(text)) or text[start:end] != mention:
            raise ValueError(f"{where}: span [{start}, {end}) does not hold the mention {mention!r}")
        spans = [(start, end)]
        if further_mentions:
            # Coreferences were extracted automatically by NewsMTSC; the label is about the main mention.
            for fm in target.get("further_mentions") or []:
                fs, fe = int(fm["from"]), int(fm["to"])
                if 0 <= fs < fe <= len(text) and text[fs:fe] == fm.get("mention"):
                    spans.append((fs, fe))
        rows.append(
            {
                "sentence_id": gid,
                "article_id": article_id,
                "source": SOURCE,
                "text": text,
                "target": mention,
                "target_text": mention,
                "mention_start": [s for s, _ in spans],
                "mention_end": [e for _, e in spans],
                "label": stance[POLARITY_TO_STANCE_INDEX[polarity]],
                "n_annotators": 0,
                "agreement": math.nan,
            }
        )
    return rows


def iter_newsmtsc_rows(file: str | Path, *, further_mentions: bool = False) -> Iterator[dict[str, Any]]:
    """Yield one row dict per target of a NewsMTSC ``.jsonl`` file (label as a class name).

    Raises :class:`NewsMTSCError` naming the file and the 1-based line on a malformed line.
    Blank lines are skipped (edge cases: :mod:`annotate.jsonl`).
    """
    file = Path(file)
    stance = load_label_set().stance
    if len(stance) != 3:
        raise NewsMTSCError(f"NewsMTSC has 3 polarities but label_config.xml defines {len(stance)} stances: {stance}")
    parse = functools.partial(_rows_from_line, stance=stance, further_mentions=further_mentions)
    for _, rows in iter_jsonl(file, parse, error=NewsMTSCError):
        yield from rows


def load_newsmtsc_file(file: str | Path, *, further_mentions: bool = False) -> datasets.Dataset:
    """One NewsMTSC ``.jsonl`` file as a ``datasets.Dataset`` with Slant's stance features."""
    import datasets

    columns: dict[str, list] = {name: [] for name in FEATURE_NAMES}
    for row in iter_newsmtsc_rows(file, further_mentions=further_mentions):
        for name in FEATURE_NAMES:
            columns[name].append(row[name])
    features = stance_features()
    columns["label"] = [features["label"].str2int(name) for name in columns["label"]]
    return datasets.Dataset.from_dict(columns, features=features)


def load_newsmtsc(
    path: str | Path, *, further_mentions: bool = False
) -> datasets.DatasetDict | datasets.Dataset:
    """Load NewsMTSC from a local path into Slant's stance features.

    Args:
        path: either a directory laid out like the release (``train.jsonl``,
            ``experiments-rw/{dev,test}.jsonl``, ``experiments-mt/{dev,test}.jsonl``), or
            a single ``.jsonl`` file.
        further_mentions: also put NewsMTSC's automatically found coreferences (``"her"``,
            ``"him"``) into ``mention_start``/``mention_end`` after the main mention. Off by
            default: annotators labeled the main mention.

    Returns:
        For a directory, a ``DatasetDict`` with the splits of :data:`NEWSMTSC_SPLITS` that
        exist there (``train``, ``dev_rw``, ``test_rw``, ``dev_mt``, ``test_mt``); for a
        file, a ``Dataset``. One row per target; ``label`` is the ``ClassLabel`` of
        ``label_config.xml``; ``n_annotators`` 0 and ``agreement`` NaN (unknown).

    Raises:
        NewsMTSCError: the path does not exist, a directory holds none of the split files,
            or a line is malformed (the message names file and line).
    """
    import datasets

    path = Path(path)
    if path.is_file():
        return load_newsmtsc_file(path, further_mentions=further_mentions)
    if not path.is_dir():
        raise NewsMTSCError(f"{path}: no such file or directory (expected the NewsMTSC folder or a .jsonl file)")
    splits = {}
    for split, relative in NEWSMTSC_SPLITS.items():
        file = path / relative
        if file.is_file():
            splits[split] = load_newsmtsc_file(file, further_mentions=further_mentions)
            log.info("NewsMTSC %s: %d rows from %s", split, len(splits[split]), file)
    if not splits:
        expected = ", ".join(NEWSMTSC_SPLITS.values())
        raise NewsMTSCError(f"{path}: none of the NewsMTSC files found (expected {expected})")
    return datasets.DatasetDict(splits)
