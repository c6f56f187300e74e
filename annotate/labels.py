"""The label set, read from ``label_config.xml`` (the single source of truth).

Nothing else in the project keeps a copy of the labels: the classifier's classes, the
dataset's ``ClassLabel``, the agreement's ordinal order and the Label Studio result names
all come from here.

The config stores Choice *aliases* in annotations. Stance choices are listed in ordinal
order (critical < neutral < favorable); that order is also the class-index order.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: The target name used for the sentence-level stance toward engagement.
ENGAGEMENT_TARGET = "engagement"

#: Control names in the config. Per-actor controls carry the Repeater index: ``stance_0``.
STANCE_CONTROL_PREFIX = "stance_"
NOT_ACTOR_CONTROL_PREFIX = "not_actor_"
ENGAGEMENT_CONTROL = "engagement"

_REPO_CONFIG = Path(__file__).resolve().parent.parent / "label_config.xml"


class LabelConfigError(ValueError):
    """The label config is missing or does not define the controls Slant needs."""


@dataclass(frozen=True)
class LabelSet:
    """Labels parsed from a Label Studio config.

    Attributes:
        stance: stance classes in ordinal order, e.g. ``("critical", "neutral", "favorable")``.
        engagement: every stored engagement value, in config order (includes off-target ones).
        engagement_off_target: engagement values that mean "no stance" (e.g. ``"not_about"``).
        not_actor: the stored value that flags a mention as not being that actor.
        xml: the config text itself (pushed to Label Studio unchanged).
        single_choice: the controls (``stance_`` for every ``stance_{i}``, ``engagement``) that
            take one choice (Label Studio's default, unless ``choice="multiple"``).
    """

    stance: tuple[str, ...]
    engagement: tuple[str, ...]
    engagement_off_target: tuple[str, ...]
    not_actor: str
    xml: str
    single_choice: frozenset[str] = frozenset({STANCE_CONTROL_PREFIX, ENGAGEMENT_CONTROL})

    def index(self, label: str) -> int:
        """Class index of a stance label; raises ``KeyError`` naming the valid labels."""
        try:
            return self.stance.index(label)
        except ValueError:
            raise KeyError(f"unknown stance label {label!r}; valid labels: {', '.join(self.stance)}") from None


def _stored_values(choices: ET.Element) -> list[str]:
    return [c.get("alias") or c.get("value") for c in choices.iter("Choice")]


def parse_label_config(xml: str, *, origin: str = "<string>") -> LabelSet:
    """Parse a Label Studio config into a :class:`LabelSet`.

    Raises :class:`LabelConfigError` naming ``origin`` when a required control is missing.
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise LabelConfigError(f"{origin}: not valid XML: {exc}") from exc
    by_name = {c.get("name", ""): c for c in root.iter("Choices")}

    def find(prefix: str, exact: bool = False) -> ET.Element:
        for name, element in by_name.items():
            if (name == prefix) if exact else re.fullmatch(re.escape(prefix) + r"(\{\{idx\}\}|\d+)", name):
                return element
        raise LabelConfigError(f"{origin}: no <Choices name=\"{prefix}{'' if exact else '{{idx}}'}\"> control")

    stance_control, engagement_control = find(STANCE_CONTROL_PREFIX), find(ENGAGEMENT_CONTROL, exact=True)
    stance = tuple(_stored_values(stance_control))
    not_actor_values = _stored_values(find(NOT_ACTOR_CONTROL_PREFIX))
    engagement = tuple(_stored_values(engagement_control))
    single = frozenset(name for name, control in ((STANCE_CONTROL_PREFIX, stance_control),
                                                  (ENGAGEMENT_CONTROL, engagement_control))
                       if control.get("choice", "single") != "multiple")
    if len(stance) < 2:
        raise LabelConfigError(f"{origin}: the stance control needs at least two choices, got {stance}")
    if len(not_actor_values) != 1:
        raise LabelConfigError(f"{origin}: the not_actor control needs exactly one choice, got {not_actor_values}")
    off_target = tuple(v for v in engagement if v not in stance)
    return LabelSet(stance=stance, engagement=engagement, engagement_off_target=off_target,
                    not_actor=not_actor_values[0], xml=xml, single_choice=single)


def label_config_path() -> Path:
    """Path of the project's ``label_config.xml``."""
    return _REPO_CONFIG


@lru_cache(maxsize=8)
def load_label_set(path: str | Path | None = None) -> LabelSet:
    """Read and parse ``label_config.xml`` (the repository's one by default)."""
    config = Path(path) if path is not None else _REPO_CONFIG
    if not config.is_file():
        raise LabelConfigError(f"{config}: label config not found")
    return parse_label_config(config.read_text(encoding="utf-8-sig"), origin=str(config))


def stance_labels() -> tuple[str, ...]:
    """The stance classes in ordinal order (critical < neutral < favorable)."""
    return load_label_set().stance
