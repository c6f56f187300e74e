"""The one definition of the stance dataset's columns (``datasets.Features``).

Every stance dataset Slant builds or loads (annotated seeds, NewsMTSC, merged exports) has
exactly these features, so a model trained on one can be evaluated on another. The label
is a ``ClassLabel`` whose names come from ``label_config.xml`` (never hard-coded).

``datasets`` is imported inside the function: importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from annotate.labels import load_label_set

if TYPE_CHECKING:  # pragma: no cover
    import datasets

#: Column names, in order. Documented in ``docs/schema.md`` ("Dataset features").
FEATURE_NAMES: tuple[str, ...] = (
    "sentence_id",
    "article_id",
    "source",
    "text",
    "target",  # actor id or "engagement" (NewsMTSC: the target mention text)
    "target_text",  # how the target appears: first mention surface form; "engagement" for engagement
    "mention_start",  # target spans in ``text``; empty for engagement
    "mention_end",
    "label",  # ClassLabel(names=load_label_set().stance)
    "n_annotators",
    "agreement",  # share of annotators agreeing with the final label (1.0 if one)
)


def stance_features(label_config: str | Path | None = None) -> datasets.Features:
    """The ``datasets.Features`` of a Slant stance dataset.

    Args:
        label_config: path of a Label Studio config; the repository's ``label_config.xml``
            by default. Its stance choices, in order, become the ``ClassLabel`` names.
    """
    import datasets

    stance = list(load_label_set(label_config).stance)
    return datasets.Features(
        {
            "sentence_id": datasets.Value("string"),
            "article_id": datasets.Value("string"),
            "source": datasets.Value("string"),
            "text": datasets.Value("string"),
            "target": datasets.Value("string"),
            "target_text": datasets.Value("string"),
            "mention_start": datasets.Sequence(datasets.Value("int32")),
            "mention_end": datasets.Sequence(datasets.Value("int32")),
            "label": datasets.ClassLabel(names=stance),
            "n_annotators": datasets.Value("int32"),
            "agreement": datasets.Value("float32"),
        }
    )


def empty_columns() -> dict[str, list]:
    """A column dict with every feature and no rows (for ``Dataset.from_dict``)."""
    return {name: [] for name in FEATURE_NAMES}
