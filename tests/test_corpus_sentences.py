"""Sentence splitting: abbreviations, quotations, bullet lists and glued text."""

from __future__ import annotations

from annotate.corpus import ingest_article, split_sentences


def test_abbreviations_do_not_end_sentences() -> None:
    text = (
        "On Feb. 6, more than 30 people were killed in Islamabad. Army Chief Gen. Asim Munir issued a warning. "
        "The U.S. is the foremost country that can negotiate a deal. Prof. Dr. Burhani agreed."
    )
    assert split_sentences(text) == [
        "On Feb. 6, more than 30 people were killed in Islamabad.",
        "Army Chief Gen. Asim Munir issued a warning.",
        "The U.S. is the foremost country that can negotiate a deal.",
        "Prof. Dr. Burhani agreed.",
    ]


def test_ranks_and_rupees_do_not_end_sentences_but_govt_can() -> None:
    assert split_sentences("Lt. Gen. Nadeem Anjum led the ISI. Maj. Gen. Ahmed spoke. Col. Khan and Brig. Ali "
                           "and Capt. Raza too.") == [
        "Lt. Gen. Nadeem Anjum led the ISI.", "Maj. Gen. Ahmed spoke.", "Col. Khan and Brig. Ali and Capt. Raza too."]
    assert split_sentences("The budget was Rs. 9 trillion. It passed.") == ["The budget was Rs. 9 trillion.",
                                                                           "It passed."]
    assert split_sentences("It was approved by the Govt. The opposition objected.") == [
        "It was approved by the Govt.", "The opposition objected."]


def test_abbreviation_can_end_a_sentence_in_mid_line() -> None:
    text = ("Aid went to the U.S. However, Pakistan objected. The U.S. President spoke in Washington, D.C. "
            "The talks failed. Gen. Asim Munir met U.S. officials, jets etc. It ended.")
    assert split_sentences(text) == [
        "Aid went to the U.S.",
        "However, Pakistan objected.",
        "The U.S. President spoke in Washington, D.C.",  # a name or title after it: no split
        "The talks failed.",
        "Gen. Asim Munir met U.S. officials, jets etc.",
        "It ended.",
    ]


def test_an_ellipsis_can_end_a_sentence_and_no_keeps_its_number() -> None:
    text = ("He said the talks would go on... The Taliban refused. The talks… were slow. "
            "Sharif met him at No. 10 Downing Street. Pakistan ranked No. 1. The rest followed. I said no. 5 came.")
    assert split_sentences(text) == [
        "He said the talks would go on...",
        "The Taliban refused.",
        "The talks… were slow.",  # no sentence starter after the ellipsis: one sentence
        "Sharif met him at No. 10 Downing Street.",
        "Pakistan ranked No. 1.",
        "The rest followed.",
        "I said no.",  # lowercase "no." is the word no
        "5 came.",
    ]


def test_a_single_opening_quote_starts_the_next_sentence() -> None:
    text = "Pakistan’s army struck. ‘Pakistan is ready,’ he said. It ‘works’ fine."
    assert split_sentences(text) == ["Pakistan’s army struck.", "‘Pakistan is ready,’ he said.", "It ‘works’ fine."]


def test_quotation_stays_with_its_attribution() -> None:
    text = "“The military option is a mistake. Pakistan should engage in talks,” he wrote. Then he left."
    assert split_sentences(text) == [
        "“The military option is a mistake. Pakistan should engage in talks,” he wrote.",
        "Then he left.",
    ]


def test_opening_quote_starts_the_next_sentence() -> None:
    text = "Bush said in the National address. “Either you are with us or with the terrorists”. Moreover, he spoke."
    assert split_sentences(text) == [
        "Bush said in the National address.",
        "“Either you are with us or with the terrorists”.",
        "Moreover, he spoke.",
    ]


def test_straight_quotes_open_and_close_by_their_shape() -> None:
    """A straight opening quote left at a sentence end moves to its sentence; before, it
    counted as "open" and merged the quotation into the sentence before it. An inch mark
    does not open a quotation."""
    assert split_sentences('Pakistan warned the TTP. "We will act," a spokesman said. The group denied it.') == [
        "Pakistan warned the TTP.", '"We will act," a spokesman said.', "The group denied it."]
    assert split_sentences('He said, "The US must leave." "We agree," the Taliban replied.') == [
        'He said, "The US must leave."', '"We agree," the Taliban replied.']
    assert split_sentences('The 5\'11" commander of the TTP was killed. Pakistan said so. Kabul denied it.') == [
        'The 5\'11" commander of the TTP was killed.', "Pakistan said so.", "Kabul denied it."]
    # a straight quotation of several sentences still stays with its attribution
    assert split_sentences('"We will not talk. We will fight," he said. Nobody believed it.') == [
        '"We will not talk. We will fight," he said.', "Nobody believed it."]


def test_closing_quote_inside_sentence_is_kept() -> None:
    text = "They warned Kabul: “Choose between Pakistan and TTP.” The US has commended Pakistan."
    assert split_sentences(text) == ["They warned Kabul: “Choose between Pakistan and TTP.”", "The US has commended Pakistan."]


def test_an_unclosed_quote_cannot_swallow_a_paragraph() -> None:
    text = "He said “one. Two. Three. Four. Five. Six."
    assert len(split_sentences(text)) >= 2


def test_bullet_list_items_are_sentences_and_lines_are_boundaries() -> None:
    text = "Steps taken:\n  • A plan was developed\n  • 23000 US troops would withdraw till Sep 2012.\nPartner of the U.S.\nHowever, the U.S. will return."
    records = ingest_article("a", text)
    assert [r.text for r in records] == [
        "Steps taken:",
        "A plan was developed",
        "23000 US troops would withdraw till Sep 2012.",
        "Partner of the U.S.",
        "However, the U.S. will return.",
    ]


def test_glued_text_from_concatenated_files_is_split_and_deduplicated() -> None:
    text = (
        "In recent months the President Donald TrumpTrump decided to withdraw its troops.\n"
        "Please enter your comment!\nPlease enter your name hereJust days after Pakistan warned Kabul, a diplomat spoke."
    )
    records = ingest_article("a", text)
    assert [r.text for r in records] == [
        "In recent months the President Donald Trump decided to withdraw its troops.",
        "Just days after Pakistan warned Kabul, a diplomat spoke.",
    ]
    # start/end are offsets into the original text, which still has the glue
    assert text[records[1].start: records[1].end] == records[1].text
    assert text[records[0].start: records[0].end].startswith("In recent months the President Donald TrumpTrump")
