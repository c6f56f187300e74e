"""Find the train / validation / test splits of a stance dataset, wherever it comes from.

Accepted: a ``DatasetDict`` (or a plain dict of ``Dataset``), a directory written by
``save_to_disk`` (``slant dataset``), or a NewsMTSC folder / ``.jsonl`` file
(``annotate.newsmtsc.load_newsmtsc``). NewsMTSC's ``dev_rw`` + ``dev_mt`` together serve as
validation and ``test_rw`` as the test split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

VALIDATION_NAMES = ("validation", "valid", "dev")


class DatasetLoadError(ValueError):
    """The path is not a stance dataset Slant can read; the message names it."""


@dataclass
class Splits:
    """The splits a model needs; ``validation`` and ``test`` may be missing (``None``)."""

    train: Any
    validation: Any | None
    test: Any | None
    origin: str
    all: dict[str, Any]


def load_dataset_any(source: Any) -> dict[str, Any]:
    """A dict of split name -> ``datasets.Dataset`` from any accepted source."""
    if isinstance(source, dict) or type(source).__name__ == "DatasetDict":
        return dict(source)
    if type(source).__name__ == "Dataset":
        return {"train": source}
    path = Path(source)
    if not path.exists():
        raise DatasetLoadError(f"{path}: no such dataset (expected a `slant dataset` folder or NewsMTSC data)")
    if path.is_file() and path.suffix == ".jsonl" or (path / "train.jsonl").is_file():
        from annotate.newsmtsc import load_newsmtsc

        loaded = load_newsmtsc(path)
        return {"train": loaded} if type(loaded).__name__ == "Dataset" else dict(loaded)
    import datasets

    if (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file():
        try:
            loaded = datasets.load_from_disk(str(path))
        except Exception as exc:  # datasets raises several types for damaged folders
            raise DatasetLoadError(f"{path}: cannot read the saved dataset: {exc}") from exc
        return {"train": loaded} if isinstance(loaded, datasets.Dataset) else dict(loaded)
    raise DatasetLoadError(f"{path}: not a saved dataset (no dataset_dict.json) and not NewsMTSC (no train.jsonl)")


def describe_source(source: Any) -> str:
    """A one-line name for ``source``: its path, or the kind and splits of an in-memory
    dataset (whose repr spans many lines and says nothing about where it came from)."""
    if isinstance(source, (str, Path)):
        return str(source)
    kind = type(source).__name__
    if isinstance(source, dict) or kind == "DatasetDict":
        return f"an in-memory {kind} (splits: {', '.join(map(str, source)) or 'none'})"
    if kind == "Dataset":
        return f"an in-memory Dataset ({len(source)} rows)"
    return f"an in-memory {kind}"


def resolve_splits(source: Any) -> Splits:
    """Train, validation and test splits (see the module docstring for the names used)."""
    import datasets

    parts = load_dataset_any(source)
    if "train" not in parts:
        raise DatasetLoadError(f"{describe_source(source)}: no 'train' split "
                               f"(found: {', '.join(sorted(parts)) or 'none'})")
    validation = next((parts[n] for n in VALIDATION_NAMES if n in parts), None)
    devs = [parts[n] for n in ("dev_rw", "dev_mt") if n in parts]
    if validation is None and devs:
        validation = datasets.concatenate_datasets(devs) if len(devs) > 1 else devs[0]
    test = parts.get("test", parts.get("test_rw"))
    return Splits(train=parts["train"], validation=validation, test=test, origin=describe_source(source), all=parts)


def split_by_name(source: Any, name: str):
    """One named split; ``validation`` also finds NewsMTSC's dev sets. Error lists the names."""
    parts = load_dataset_any(source)
    if name in parts:
        return parts[name]
    splits = resolve_splits(source)
    alias = {"validation": splits.validation, "test": splits.test, "train": splits.train}.get(name)
    if alias is None:
        raise DatasetLoadError(f"{describe_source(source)}: no split {name!r}; available: {', '.join(sorted(parts))}")
    return alias
