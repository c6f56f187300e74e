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
    lines += error_profile_lines(meta.get("error_profile"), labels)
    lines += ["", "## Training arguments", "", "```json", json.dumps(args, indent=2), "```", "",
              ("Load with `models.registry.load_model(DIR)`; files: `model.safetensors`, tokenizer files, "
               "`labels.json` (checked against `label_config.xml` on load), `slant_model.json`."), ""]
    return "\n".join(lines)


def error_profile_lines(summary: dict[str, Any] | None, labels: tuple[str, ...]) -> list[str]:
    """The card's "Error profile" section from ``models.error_profile.profile_summary``."""
    if not summary:
        return ["", "## Error profile", "", "None: reports of this model are uncorrected for its errors."]
    lines = ["", "## Error profile", "",
             f"Measured on {summary.get('gold', '?')} ({summary.get('method', '?')}, {summary.get('created_at', '?')}); "
             f"`{summary.get('file', 'error_profile.json')}` holds every item. Reports correct model scores with it. "
             "Mean predicted probability per true class (rows true, columns predicted):", ""]
    for kind, k in (summary.get("kinds") or {}).items():
        lines += [f"**{kind}** ({k.get('n', '?')} items from {k.get('articles', '?')} article(s)):", "",
                  "| true \\ predicted | n | " + " | ".join(labels) + " |",
                  "|---|---:|" + "---:|" * len(labels)]
        for label, row in zip(labels, k.get("confusion") or []):
            cells = " | ".join("–" if x is None else f"{x:.3f}" for x in row)
            lines.append(f"| {label} | {(k.get('counts') or {}).get(label, '?')} | {cells} |")
        lines.append("")
    return lines


def write_model_card(directory: Path, model: Any) -> None:
    meta = dict(model.metadata_)
    meta["temperature"] = float(model.temperature_)
    (Path(directory) / "README.md").write_text(render_model_card(meta, model.classes_), encoding="utf-8")
