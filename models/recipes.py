"""Named training recipes: what the main job (``slant run``) and ``slant analyze`` build.

A recipe fixes everything a trained model depends on besides its in-domain data: the training
arguments, the transfer data mix and how often the in-domain pairs are repeated. The default
was chosen on the unseen-article check set's dev split (``bench/unseen.py``; figures and the
designs that lost are in ``docs/benchmarks.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from models.training_args import TrainingArguments
from models.transfer import TransferMix


class UnknownRecipeError(KeyError):
    """No recipe of that name; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would repr-quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Recipe:
    """A named way to train the transformer.

    Attributes:
        name: registry key.
        description: one line for ``--help`` and the model card.
        args: the transformer's training arguments.
        transfer: the transfer mix trained on beside the dataset (None: in-domain data only).
        in_domain_repeat: with ``transfer``, how often the dataset's train split is repeated.
    """

    name: str
    description: str
    args: TrainingArguments
    transfer: TransferMix | None = None
    in_domain_repeat: int = 1


def _recipes() -> dict[str, Recipe]:
    return {
        "default": Recipe(
            name="default",
            description="frozen MiniLM encoder, logistic-regression head on NewsMTSC + topic stance "
                        "(+ engagement-proxy motions) + the dataset's train split x3",
            args=TrainingArguments(encoder="frozen", head_c=0.1, class_weight="balanced", pooling="mean+target",
                                   engagement_phrasing="motion"),
            transfer=TransferMix(newsmtsc=3000, topic=3000, unrelated=800, engagement_proxy=True),
            in_domain_repeat=3),
        "seeds-only": Recipe(
            name="seeds-only",
            description="fine-tuned MiniLM on the dataset alone, balanced class weights (the default until "
                        "2026-12: reads every mention of talks as support)",
            args=TrainingArguments(class_weight="balanced", engagement_phrasing="description")),
        "fine-tune-transfer": Recipe(
            name="fine-tune-transfer",
            description="fine-tuned MiniLM (1 epoch) on the default's transfer mix; about 10x the default's "
                        "training time on 2 cores",
            args=TrainingArguments(epochs=1, class_weight="balanced", max_length=96, engagement_phrasing="motion"),
            transfer=TransferMix(newsmtsc=3000, topic=3000, unrelated=800, engagement_proxy=True),
            in_domain_repeat=3),
    }


RECIPE_NAMES = tuple(_recipes())


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; :class:`UnknownRecipeError` lists the valid names."""
    recipes = _recipes()
    if name not in recipes:
        raise UnknownRecipeError(f"unknown recipe {name!r}; valid: {', '.join(recipes)}")
    return recipes[name]


__all__ = ["RECIPE_NAMES", "Recipe", "UnknownRecipeError", "get_recipe"]
