"""Does a model's report read each article's slant the right way round?

A pure function over a report dict (``build_report``): for every article and dimension where
both the model score and the human score are sufficient, compare their signs. This is the
check a reviewer makes first ("is this op-ed against talks scored against talks?"), and the
one the unseen-article benchmark (``bench/unseen.py``) and leave-one-article-out
cross-validation report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def slant_sign(score: float, *, dead_zone: float = 0.1) -> int:
    """-1, 0 or +1: scores within ``[-dead_zone, dead_zone]`` are 0 ("no slant").

    Human scores are means of -1/0/+1 labels, so one favorable sentence among ten neutral
    ones is +0.1: the default dead zone calls that no slant rather than a lean.
    """
    if dead_zone < 0:
        raise ValueError(f"dead_zone must be >= 0, got {dead_zone}")
    if score > dead_zone:
        return 1
    if score < -dead_zone:
        return -1
    return 0


def headline_dimensions(report: Mapping[str, Any]) -> list[str]:
    """Dimension keys with per-actor net rows left out where a headline dimension has the same
    target (net Pakistan only repeats pro-Pakistan; net Taliban repeats critical-of-Taliban
    with the sign flipped), so no cell is counted twice."""
    dims = report.get("dimensions", {})
    headline_targets = {d["target"] for d in dims.values() if not d.get("per_actor")}
    return [key for key, d in dims.items() if not (d.get("per_actor") and d["target"] in headline_targets)]


def sign_agreement(report: Mapping[str, Any], human_report: Mapping[str, Any] | None = None, *,
                   dead_zone: float = 0.1, model_key: str = "model", human_key: str = "human") -> dict[str, Any]:
    """Article x dimension sign agreement between the model and the human scores of ``report``
    (or, with ``human_report``, between ``report``'s model scores and ``human_report``'s human
    scores: a model-only report, as a user without labels gets, against the gold).

    Returns ``{"dimensions": {dim: {"cells", "right"}}, "overall": {"cells", "right",
    "agreement"}, "cells": [...]}``; each cell lists article, dimension, both scores and
    whether the signs agree. ``agreement`` is None when no cell has both scores (e.g. a
    report without human labels). Cells where either score is insufficient are not counted.
    """
    per_dim: dict[str, dict[str, int]] = {}
    cells = []
    keep = headline_dimensions(report)
    humans = (human_report if human_report is not None else report).get("articles", {})
    for article_id, article in sorted(report.get("articles", {}).items()):
        for dim in keep:
            model = (article.get("dimensions", {}).get(dim) or {}).get(model_key) or {}
            human = ((humans.get(article_id) or {}).get("dimensions", {}).get(dim) or {}).get(human_key) or {}
            if model.get("score") is None or human.get("score") is None:
                continue
            right = slant_sign(model["score"], dead_zone=dead_zone) == slant_sign(human["score"], dead_zone=dead_zone)
            block = per_dim.setdefault(dim, {"cells": 0, "right": 0})
            block["cells"] += 1
            block["right"] += int(right)
            cells.append({"article_id": article_id, "dimension": dim, "model": model["score"],
                          "human": human["score"], "right": right})
    total = sum(b["cells"] for b in per_dim.values())
    right = sum(b["right"] for b in per_dim.values())
    return {"dimensions": per_dim,
            "overall": {"cells": total, "right": right, "agreement": round(right / total, 4) if total else None},
            "cells": cells}


__all__ = ["headline_dimensions", "sign_agreement", "slant_sign"]
