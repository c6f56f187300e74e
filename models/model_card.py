"""A README.md model card written next to a saved transformer (training data, metrics, date)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def render_model_card(meta: dict[str, Any], labels: tuple[str, ...]) -> str:
    """Markdown text of the card from a model's ``slant_model.json`` metadata."""
    args = meta.get("training_args", {})
    history = meta.get("history", [])
    best = max((h for h in history if "val_macro_f1" in h), key=lambda h: h["val_macro_f1"], default=None)
    data = meta.get("training_data") or "not recorded (trained through the Python API)"
    lines = [
        f"# Slant stance classifier `{meta.get('model_version', '?')}`",
        "",
        ("Sentence + target -> stance (" + " / ".join(labels) + "). The target's mentions are wrapped in "
         f"`{meta.get('input_format', {}).get('mark_start', '')}` ... `{meta.get('input_format', {}).get('mark_end', '')}` "
         "and the target is given as the second segment."),
        "",
        f"- Base model: `{meta.get('base_model', '?')}`",
        f"- Classification head reads: `{meta.get('pooling', 'cls')}` pooling",
        f"- Trained: {meta.get('trained_at', '?')}",
        f"- Training data: {data}",
        f"- Training pairs: {meta.get('n_train', '?')}, validation pairs: {meta.get('n_validation', '?')}",
        f"- Temperature (calibration on validation): {meta.get('temperature', 1.0):.3f}",
    ]
    if meta.get("averaged_from"):
        lines.append("- Weight average of: " + ", ".join(f"`{a['model_version']}` (seed {a.get('seed')})"
                                                         for a in meta["averaged_from"]))
    if meta.get("pretrained_on"):
        lines.append(f"- First trained on: {meta['pretrained_on']}")
    if best:
        lines.append(f"- Best validation macro-F1: {best['val_macro_f1']:.4f} (epoch {best['epoch']:.2f}, step {best['step']})")
    for name, metrics in (meta.get("metrics") or {}).items():
        lines.append(f"- {name}: macro-F1 {metrics.get('macro_f1', float('nan')):.4f}, "
                     f"accuracy {metrics.get('accuracy', float('nan')):.4f}")
    lines += ["", "## Training arguments", "", "```json", json.dumps(args, indent=2), "```", "",
              ("Load with `models.registry.load_model(DIR)`; files: `model.safetensors`, tokenizer files, "
               "`labels.json` (checked against `label_config.xml` on load), `slant_model.json`."), ""]
    return "\n".join(lines)


def write_model_card(directory: Path, model: Any) -> None:
    meta = dict(model.metadata_)
    meta["temperature"] = float(model.temperature_)
    (Path(directory) / "README.md").write_text(render_model_card(meta, model.classes_), encoding="utf-8")
