"""Small real fixtures for tests and smoke runs: a tiny random BERT and a separable stance set.

The tiny BERT is a real ``BertForSequenceClassification`` checkpoint (random weights, 2
layers, hidden size 32) saved with the packaged MiniLM's tokenizer, so fine-tuning,
saving, loading and quantizing run the same code paths as the real model, in seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annotate.labels import load_label_set

_TEMPLATES = {
    # index into the stance labels (critical, neutral, favorable): names come from label_config.xml
    0: ["{s} condemned {t} for the attack.", "{s} said {t} had failed and lied.", "{t} was blamed for the terrible violence."],
    1: ["{s} met {t} on Monday.", "{t} held a meeting in the capital.", "{s} said {t} will travel next week."],
    2: ["{s} praised {t} for the peace deal.", "{t} was welcomed as a helpful partner.", "{s} thanked {t} for its generous support."],
}
_SUBJECTS = ["The minister", "Officials", "A spokesman", "Analysts"]
_TARGETS = [("pakistan", "Pakistan"), ("china", "Beijing"), ("ttp", "the TTP"), ("united_states", "Washington")]


def toy_rows(*, articles: int = 4) -> list[dict[str, Any]]:
    """Rows in the stance dataset features whose label is obvious from the verb."""
    stance = load_label_set().stance
    rows = []
    n = 0
    for label_index, templates in _TEMPLATES.items():
        for template in templates:
            for subject in _SUBJECTS:
                for target, surface in _TARGETS:
                    text = template.format(s=subject, t=surface)
                    start = text.index(surface)
                    rows.append({
                        "sentence_id": f"s{n:04d}", "article_id": f"article_{n % articles}", "source": "toy",
                        "text": text, "target": target, "target_text": surface,
                        "mention_start": [start], "mention_end": [start + len(surface)],
                        "label": stance[label_index], "n_annotators": 1, "agreement": 1.0,
                    })
                    n += 1
    return rows


def toy_dataset(*, articles: int = 4):
    """A ``DatasetDict`` (train / validation / test split by article) of :func:`toy_rows`."""
    import datasets

    from annotate.dataset_features import stance_features

    features = stance_features()
    rows = toy_rows(articles=articles)
    by_split = {"train": [], "validation": [], "test": []}
    for row in rows:
        article = int(row["article_id"].rsplit("_", 1)[1])
        split = "test" if article == articles - 1 else "validation" if article == articles - 2 else "train"
        by_split[split].append(row)

    def build(items):
        columns = {name: [r[name] for r in items] for name in features}
        columns["label"] = [features["label"].str2int(x) for x in columns["label"]]
        return datasets.Dataset.from_dict(columns, features=features)

    return datasets.DatasetDict({name: build(items) for name, items in by_split.items()})


def tiny_bert(directory: str | Path, *, hidden_size: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Save a randomly initialised tiny BERT + the packaged MiniLM tokenizer to ``directory``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from models.transformer import default_base_model

    directory = Path(directory)
    tokenizer = AutoTokenizer.from_pretrained(default_base_model())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden_size, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=hidden_size * 2, max_position_embeddings=256, num_labels=len(load_label_set().stance))
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory
