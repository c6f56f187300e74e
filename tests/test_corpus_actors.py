"""Actor registry and mention detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotate.corpus import ActorRegistry, RegistryError, UnknownActorError, load_registry
from annotate.corpus.actors import resolve_spans
from annotate.corpus.sentences import sentence_pipeline

REQUIRED = [
    "united_states", "pakistan", "afghan_taliban", "ttp", "china", "india", "russia", "iran",
    "isis_k", "al_qaeda", "qatar", "turkiye", "afghan_government",
]


@pytest.fixture(scope="module")
def registry() -> ActorRegistry:
    return load_registry()


def found(registry: ActorRegistry, text: str) -> list[tuple[str, str]]:
    return [(m.actor, m.text) for m in registry.mentions_in(text)]


def test_registry_has_the_required_actors_with_display_names(registry: ActorRegistry) -> None:
    for actor in REQUIRED:
        assert actor in registry
        assert registry.display_name(actor)
    assert registry.display_name("turkiye") == "Türkiye"


def test_unknown_actor_error_lists_valid_ids(registry: ActorRegistry) -> None:
    with pytest.raises(UnknownActorError) as exc:
        registry.display_name("narnia")
    assert "narnia" in str(exc.value) and "pakistan" in str(exc.value) and "ttp" in str(exc.value)


@pytest.mark.parametrize(
    "text",
    [
        "the Tehreek-i-Taliban Pakistan attacked",
        "the Tehreek-e-Taliban Pakistan attacked",
        "the Pakistani Taliban attacked",
        "the TTP attacked",
        # Unicode hyphens (U+2010, U+2011) and en dashes between letters, spaced and fully
        # hyphenated spellings: each gave Pakistan and/or the Afghan Taliban before
        "the Tehreek\u2010e\u2010Taliban Pakistan attacked",
        "the Tehreek\u2011e\u2011Taliban Pakistan attacked",
        "the Tehreek\u2013e\u2013Taliban Pakistan attacked",
        "the Tehreek e Taliban Pakistan attacked",
        "the Tehreek-e-Taliban-Pakistan attacked",
        "the Pakistani-Taliban attacked",
    ],
)
def test_ttp_longest_match_is_never_pakistan_or_afghan_taliban(registry: ActorRegistry, text: str) -> None:
    mentions = found(registry, text)
    assert len(mentions) == 1 and mentions[0][0] == "ttp"


def test_metonyms_institutions_leaders_and_factions(registry: ActorRegistry) -> None:
    text = (
        "Washington and Islamabad talked while Beijing watched; Kabul refused. The ISI and the State Department "
        "disagreed. President Trump met Shehbaz Sharif. The Haqqani network and Karzai spoke. New Delhi objected."
    )
    assert found(registry, text) == [
        ("united_states", "Washington"), ("pakistan", "Islamabad"), ("china", "Beijing"), ("afghan_taliban", "Kabul"),
        ("pakistan", "ISI"), ("united_states", "State Department"), ("united_states", "Trump"),
        ("pakistan", "Shehbaz Sharif"), ("afghan_taliban", "Haqqani network"), ("afghan_government", "Karzai"),
        ("india", "New Delhi"),
    ]


def test_case_sensitive_names_and_ignored_phrases(registry: ActorRegistry) -> None:
    assert found(registry, "Either you are with us or against us.") == []
    assert found(registry, "The US and the U.S.-Pakistan deal; the US- Taliban talks.") == [
        ("united_states", "US"), ("united_states", "U.S."), ("pakistan", "Pakistan"),
        ("united_states", "US"), ("afghan_taliban", "Taliban"),
    ]
    assert found(registry, "a backdoor to the Indian Ocean") == []
    assert found(registry, "Indian influence grows") == [("india", "Indian")]
    assert found(registry, "we ate turkey; Turkey and Türkiye mediated") == [("turkiye", "Turkey"), ("turkiye", "Türkiye")]
    # Datelines and headlines in capitals, and a left quote typed for an apostrophe.
    assert found(registry, "ANKARA, TURKEY: talks with the TTP resumed") == [
        ("turkiye", "ANKARA"), ("turkiye", "TURKEY"), ("ttp", "TTP")]
    assert found(registry, "Pakistan‘s army and the Taliban‘s envoy") == [
        ("pakistan", "Pakistan"), ("afghan_taliban", "Taliban")]


def test_mention_offsets_are_relative_to_the_text(registry: ActorRegistry) -> None:
    text = "After talks, Pakistan’s ISI and Afghan government officials met."
    for m in registry.mentions_in(text):
        assert text[m.start: m.end] == m.text
    assert [m.actor for m in registry.mentions_in(text)] == ["pakistan", "pakistan", "afghan_government"]


def test_custom_registry_file(tmp_path: Path) -> None:
    path = tmp_path / "actors.toml"
    path.write_text('[actors.nato]\nname = "NATO"\ncased = ["NATO"]\naliases = ["North Atlantic Treaty Organization"]\n')
    reg = ActorRegistry.from_toml(path)
    assert reg.ids == ["nato"]
    assert found(reg, "NATO troops and the North Atlantic Treaty Organization") == [
        ("nato", "NATO"), ("nato", "North Atlantic Treaty Organization"),
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        ('[actors.x]\naliases = ["X"]\n', "display `name`"),
        ('[actors.x]\nname = "X"\nalias = ["X"]\n', "valid keys"),
        ('[actors.x]\nname = "X"\naliases = ["Same"]\n[actors.y]\nname = "Y"\naliases = ["same"]\n', "already a name of 'x'"),
        ('[actors.Bad-Id]\nname = "X"\naliases = ["X"]\n', "lowercase"),
        ("nothing = 1\n", "unknown top-level keys"),
    ],
)
def test_bad_registry_errors_name_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "actors.toml"
    path.write_text(content)
    with pytest.raises(RegistryError) as exc:
        ActorRegistry.from_toml(path)
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_non_ascii_hyphens_match_with_offsets_into_the_original_text(registry: ActorRegistry) -> None:
    text = "Al\u2011Qaeda, ISIS\u2011K and the Inter\u2011Services Intelligence"
    mentions = registry.mentions_in(text)
    assert [m.actor for m in mentions] == ["al_qaeda", "isis_k", "pakistan"]
    assert all(text[m.start:m.end] == m.text for m in mentions)
    assert mentions[0].text == "Al\u2011Qaeda"  # the text as written, not the normalised form


@pytest.mark.parametrize("text", [
    "George Washington crossed the river", "rain in Washington state", "ships in the South China Sea",
    "trade with Latin America", "a Voice of America report", "South American leaders",
    "a trump card", "the bush war",
])
def test_places_people_and_words_that_contain_an_actor_name_are_not_mentions(registry: ActorRegistry,
                                                                             text: str) -> None:
    assert found(registry, text) == []


def test_trump_and_bush_still_match_as_names_and_in_capitals(registry: ActorRegistry) -> None:
    assert found(registry, "Trump met Bush. TRUMP SAID") == [
        ("united_states", "Trump"), ("united_states", "Bush"), ("united_states", "TRUMP")]
    assert found(registry, "Donald Trump and George W. Bush") == [
        ("united_states", "Donald Trump"), ("united_states", "George W. Bush")]


# --- people, short forms, dated names ------------------------------------------------------

def dated_found(registry: ActorRegistry, text: str, day: str | None) -> list[tuple[str, str]]:
    """Mentions of ``text`` read as one article dated ``day`` (ISO) or undated (None)."""
    import datetime as dt

    spans = registry.match_spans(sentence_pipeline().make_doc(text))
    resolver = registry.resolver(dt.date.fromisoformat(day) if day else None)
    resolver.look_ahead(label for label, _, _ in spans)
    return [(actor, text[a:b]) for actor, a, b in resolve_spans(spans, resolver)]


def test_a_surname_counts_only_in_an_article_that_names_the_person_in_full(registry: ActorRegistry) -> None:
    assert found(registry, "Muttaqi said the border would reopen. Mujahid agreed.") == []
    assert found(registry, "Foreign Minister Amir Khan Muttaqi spoke. Later FM Muttaqi left for Doha.") == [
        ("afghan_taliban", "Amir Khan Muttaqi"), ("afghan_taliban", "Muttaqi")]
    # a headline's surname finds the full name further down the article
    assert found(registry, "Dar, Muttaqi discuss border. Ishaq Dar met Amir Khan Muttaqi.") == [
        ("pakistan", "Dar"), ("afghan_taliban", "Muttaqi"), ("pakistan", "Ishaq Dar"), ("afghan_taliban", "Amir Khan Muttaqi")]


def test_a_short_form_two_people_share_goes_to_the_one_named_last(registry: ActorRegistry) -> None:
    text = "Nawaz Sharif spoke first. Sharif said little. Shehbaz Sharif replied. Sharif was firm."
    assert found(registry, text) == [("pakistan", "Shehbaz Sharif"), ("pakistan", "Sharif")]
    assert found(registry, "Imran Khan criticised the talks. Khan said they would fail.") == []


def test_the_taliban_name_for_their_state_and_pak_afghan(registry: ActorRegistry) -> None:
    assert found(registry, "The IEA and the Islamic Emirate's spokesman met the Islamic Emirates delegation.") == [
        ("afghan_taliban", "IEA"), ("afghan_taliban", "Islamic Emirate"), ("afghan_taliban", "Islamic Emirates")]
    assert found(registry, "PAK-Afghan talks and Pak-Afghan trade") == [("pakistan", "PAK"), ("pakistan", "Pak")]
    assert found(registry, "talks with ISIS-K. Then ISKP.") == [("isis_k", "ISIS-K"), ("isis_k", "ISKP")]


@pytest.mark.parametrize("day, actor", [("2019-03-01", "afghan_government"), ("2021-08-14", "afghan_government"),
                                         ("2021-08-15", "afghan_taliban"), ("2026-03-10", "afghan_taliban")])
def test_dated_names_follow_the_article_date(registry: ActorRegistry, day: str, actor: str) -> None:
    text = "Afghan forces fired on the post and Kabul denied it; the Afghan side and the Afghan government were silent."
    assert {a for a, _ in dated_found(registry, text, day)} == {actor}


def test_undated_articles_keep_the_previous_reading(registry: ActorRegistry) -> None:
    text = "Afghan forces fired and Kabul denied it."
    assert dated_found(registry, text, None) == [("afghan_government", "Afghan forces"), ("afghan_taliban", "Kabul")]


def test_people_act_for_their_actor_only_while_in_office(registry: ActorRegistry) -> None:
    text = "Karzai and Ashraf Ghani spoke; Trump and Biden replied; Imran Khan agreed."
    assert dated_found(registry, text, None) == [
        ("afghan_government", "Karzai"), ("afghan_government", "Ashraf Ghani"), ("united_states", "Trump"), ("united_states", "Biden")]
    assert dated_found(registry, text, "2019-03-01") == [
        ("afghan_government", "Ashraf Ghani"), ("united_states", "Trump"), ("pakistan", "Imran Khan")]
    assert dated_found(registry, text, "2023-05-01") == [("united_states", "Biden")]
    assert dated_found(registry, text, "2025-10-26") == [("united_states", "Trump")]


def test_actors_extra_adds_to_the_built_in_registry(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text(
        '[actors.pakistan]\ninstitutions = ["Foreign Office"]\n'
        '[actors.bla]\nname = "Balochistan Liberation Army"\ncased = ["BLA"]\n'
        '[[person]]\nname = "Mohsin Naqvi"\nshort = ["Naqvi"]\nactor = "pakistan"\n'
    )
    registry = load_registry(extra=extra)
    assert registry.display_name("ttp")  # the built-in actors are all still there
    assert found(registry, "The Foreign Office blamed the BLA; Mohsin Naqvi agreed and Naqvi left. Kabul was silent.") == [
        ("pakistan", "Foreign Office"), ("bla", "BLA"), ("pakistan", "Mohsin Naqvi"), ("pakistan", "Naqvi"), ("afghan_taliban", "Kabul")]


@pytest.mark.parametrize(
    "content, message",
    [
        ('[[person]]\nname = "X Y"\nactor = "narnia"\n', "valid actor ids: afghan_government"),
        ('[[person]]\nname = "X Y"\nactor = "pakistan"\noffice = [{ actor = "pakistan", from = "soon" }]\n', "is not an ISO date"),
        ('[[person]]\nname = "X Y"\nshort = ["Taliban"]\nactor = "pakistan"\n', "is already a name of 'afghan_taliban'"),
        ('[[person]]\nname = "Kabul"\nactor = "pakistan"\n', "is already a name of 'dated #2'"),
        ('[[dated]]\nnames = ["Afghan leaders"]\nbefore = "afghan_government"\nafter = "afghan_taliban"\n', "needs a `switch` date"),
        ('[[person]]\nnom = "X"\n', "unknown keys ['nom']"),
    ],
)
def test_bad_actors_extra_entries_name_the_file_and_problem(tmp_path: Path, content: str, message: str) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text(content)
    with pytest.raises(RegistryError) as exc:
        ActorRegistry.from_toml(None, extra)
    assert str(extra) in str(exc.value) and message in str(exc.value)
