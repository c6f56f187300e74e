"""Selection functions of models.active_learning: uncertainty scores, exclusions, diversity caps."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from models.active_learning import (
    aggregate_scores,
    entropy_scores,
    least_confidence_scores,
    margin_scores,
    select_round_robin,
    select_top_k,
    uncertainty_scores,
)

PROBA = np.array([
    [0.98, 0.01, 0.01],  # confident
    [1 / 3, 1 / 3, 1 / 3],  # uniform: most uncertain by every measure
    [0.5, 0.5, 0.0],  # top two tied
    [0.7, 0.2, 0.1],
])


def test_entropy_ranks_uniform_first_and_is_normalized():
    scores = entropy_scores(PROBA)
    assert scores.shape == (4,)
    assert int(np.argmax(scores)) == 1
    assert int(np.argmin(scores)) == 0
    assert scores[1] == pytest.approx(1.0)
    # [0.5, 0.5, 0] has entropy log 2, normalized by log 3; zero probabilities are fine.
    assert scores[2] == pytest.approx(math.log(2) / math.log(3))
    assert entropy_scores(np.array([[1.0, 0.0, 0.0]]))[0] == 0.0


def test_margin_prefers_tied_top_two_over_uniform_spread():
    scores = margin_scores(PROBA)
    assert scores[1] == pytest.approx(1.0) and scores[2] == pytest.approx(1.0)
    assert scores[0] == pytest.approx(1 - 0.97)
    assert scores[3] == pytest.approx(0.5)
    assert least_confidence_scores(PROBA)[1] == pytest.approx(2 / 3)


def test_entropy_selection_picks_the_uncertain_items():
    rng = np.random.default_rng(0)
    confident = rng.dirichlet([20, 1, 1], size=50)
    uncertain = rng.dirichlet([8, 8, 8], size=5)
    proba = np.vstack([confident, uncertain])
    chosen = select_top_k(uncertainty_scores(proba, strategy="entropy"), k=5)
    assert sorted(chosen.tolist()) == list(range(50, 55))


def test_invalid_input_is_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match="2-D"):
        entropy_scores(np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="probability distributions"):
        entropy_scores(np.array([[0.9, 0.9]]))
    with pytest.raises(ValueError, match="valid strategies: entropy, margin"):
        uncertainty_scores(PROBA, strategy="bald")
    assert entropy_scores(np.zeros((0, 3))).shape == (0,)


def test_random_strategy_is_reproducible_and_shaped():
    a = uncertainty_scores(PROBA, strategy="random", seed=3)
    b = uncertainty_scores(PROBA, strategy="random", seed=3)
    assert a.shape == (4,) and np.array_equal(a, b)
    assert not np.array_equal(a, uncertainty_scores(PROBA, strategy="random", seed=4))


def test_excluded_items_are_never_chosen_even_to_fill():
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    chosen = select_top_k(scores, k=4, exclude=[True, False, True, False])
    assert chosen.tolist() == [1, 3]
    assert select_top_k(scores, k=0).size == 0
    assert select_top_k(np.array([np.nan, -np.inf, 0.2]), k=3).tolist() == [2]


def test_article_cap_holds_while_other_articles_remain():
    scores = np.array([0.99, 0.98, 0.97, 0.96, 0.5, 0.4, 0.3])
    articles = ["a", "a", "a", "a", "b", "c", "c"]
    chosen = select_top_k(scores, k=4, groups={"article": articles}, max_per_group={"article": 2})
    counts = Counter(articles[i] for i in chosen)
    assert max(counts.values()) <= 2
    assert chosen.tolist() == [0, 1, 4, 5]
    # Without the cap the top four all come from article "a".
    assert set(select_top_k(scores, k=4).tolist()) == {0, 1, 2, 3}


def test_multi_valued_actor_groups_count_for_every_actor():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    actors = [("pakistan", "china"), ("pakistan",), ("china",), ("india",)]
    chosen = select_top_k(scores, k=2, groups={"actor": actors}, max_per_group=1, fill=False)
    # Item 0 uses up both pakistan and china, so 1 and 2 are skipped.
    assert chosen.tolist() == [0, 3]


def test_fill_tops_up_when_caps_leave_too_few():
    scores = np.array([0.9, 0.8, 0.7])
    articles = ["a", "a", "a"]
    assert select_top_k(scores, k=3, groups={"article": articles}, max_per_group=1, fill=False).tolist() == [0]
    assert select_top_k(scores, k=3, groups={"article": articles}, max_per_group=1).tolist() == [0, 1, 2]


def test_caps_for_unknown_group_kind_are_an_error():
    with pytest.raises(ValueError, match="unknown group kinds"):
        select_top_k(np.ones(2), k=1, groups={"article": ["a", "b"]}, max_per_group={"actor": 1})
    with pytest.raises(ValueError, match="expected 2"):
        select_top_k(np.ones(2), k=1, groups={"article": ["a"]})


def test_round_robin_visits_every_group_before_repeating():
    scores = np.array([0.99, 0.98, 0.97, 0.2, 0.1])
    groups = ["a", "a", "a", "b", "c"]
    chosen = select_round_robin(scores, k=4, groups=groups)
    assert chosen.tolist() == [0, 3, 4, 1]
    assert select_round_robin(scores, k=5, groups=groups, exclude=[False, True, False, False, False]).tolist() == [0, 3, 4, 2]


def test_aggregate_scores_by_sentence():
    pair_scores = np.array([0.1, 0.9, 0.4, 0.2])
    sentence = np.array([0, 0, 1, 1])
    assert aggregate_scores(pair_scores, sentence, n_groups=3).tolist()[:2] == [0.9, 0.4]
    assert aggregate_scores(pair_scores, sentence, n_groups=3)[2] == -np.inf
    assert aggregate_scores(pair_scores, sentence, n_groups=2, how="mean").tolist() == pytest.approx([0.5, 0.3])
    with pytest.raises(ValueError, match="in \\[0, 2\\)"):
        aggregate_scores(pair_scores, np.array([0, 0, 1, 2]), n_groups=2)


def test_random_selection_does_not_favour_sentences_with_many_actors(tmp_path):
    """`slant next --strategy random` draws sentences, not (sentence, target) pairs."""
    from annotate.schema import Mention, SentenceRecord
    from models.inputs import from_dataset
    from models.preannotate import select_next
    from models.registry import create_model
    from models.testing import toy_dataset

    def sentence(i: int, n_actors: int) -> SentenceRecord:
        names = ["Pakistan", "China", "India", "Iran", "Russia"][:n_actors]
        text = " and ".join(names) + " met."
        mentions, cursor = [], 0
        for name in names:
            start = text.index(name, cursor)
            mentions.append(Mention(actor=name.lower(), text=name, start=start, end=start + len(name)))
            cursor = start + len(name)
        return SentenceRecord(sentence_id=f"a{i % 10}/s{i}", article_id=f"a{i % 10}", index=i, text=text,
                              start=0, end=len(text), mentions=mentions)

    pool = [sentence(i, 0 if i % 2 else 5) for i in range(200)]  # half with 5 actors, half with none
    model = create_model("baseline").fit(*from_dataset(toy_dataset()["train"]))
    many = 0
    for seed in range(20):
        chosen, _, _ = select_next(model, pool, k=20, strategy="random", max_per_article=None,
                                   max_per_actor=200, seed=seed)
        many += sum(bool(pool[i].mentions) for i in chosen)
    # Per pair, the 5-actor sentences would win about 6 draws in 7 (86%); per sentence, half.
    assert 0.35 < many / 400 < 0.65, many / 400
