"""Cleaning: each boilerplate kind is removed, offsets into the original text survive, rules are data."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotate.corpus import RulesError, clean_text, load_rules

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def kept(text: str, rules=None) -> list[str]:
    return [b.text for b in clean_text(text, rules).blocks]


def assert_offsets_point_into_original(text: str) -> None:
    cleaned = clean_text(text)
    for block in cleaned.blocks:
        assert len(block.offsets) == len(block.text)
        assert block.offsets == sorted(block.offsets)
        for ch, off in zip(block.text, block.offsets):
            assert ch == text[off] or (ch == " " and text[off].isspace())


@pytest.mark.parametrize(
    "boilerplate, rule",
    [
        ("Last Updated: March 3, 2025", "last_updated"),
        ("Last Updated:", "last_updated"),
        ("Please enter your comment!", "comment_form"),
        ("Please enter your name here", "comment_form"),
        ("Comments are closed.", "comments_closed"),
        ("Support Dawat Media Center\nEvery contribution, however big or small, powers our journalism.",
         "donation_heading"),
        ("If there were ever a time to join us, it is now. Every contribution, however big or small, powers our journalism.", "donation_appeal"),
        ("DNB Bank AC # 0530 2294668", "payment_details"),
        ("Vipps: #557320", "payment_details"),
        ("Written by: Maryam Naveed", "byline"),
        ("Posted by Admin on March 3, 2024", "byline"),
        ("Translated from Urdu by Ali Khan", "editorial_note"),
        ("This article first appeared in Dawn.", "editorial_note"),
        ("The content is opinion based.", "opinion_disclaimer"),
    ],
)
def test_whole_boilerplate_lines_are_removed(boilerplate: str, rule: str) -> None:
    text = f"Pakistan warned Kabul.\n{boilerplate}\nThe Taliban replied."
    cleaned = clean_text(text)
    assert [b.text for b in cleaned.blocks] == ["Pakistan warned Kabul.", "The Taliban replied."]
    assert rule in {name for _, _, name in cleaned.removed}


@pytest.mark.parametrize("line", [
    "Saudi Arabia said it would make a donation to Afghan refugees, according to a US official.",
    "“Our country will make a donation to the fund,” the Qatari minister told reporters.",
    "Reported by local media, the blast killed 12 Pakistani soldiers in Bajaur.",
    "Translated from Pashto, the Taliban statement published on Sunday accused Pakistan of airstrikes.",
    "Support the Peace Process",
])
def test_article_text_that_looks_like_boilerplate_stays(line: str) -> None:
    """Each of these lines was deleted by a cleaning rule: "US" read as the outlet's "us", a
    quoted minister as an appeal, "Reported by local media" as a byline, a translated
    statement as an editorial note, a subheading as a donation heading."""
    text = f"Pakistan warned Kabul.\n{line}\nThe Taliban replied."
    assert kept(text) == ["Pakistan warned Kabul.", line, "The Taliban replied."]


def test_a_line_introducing_a_quotation_is_not_a_repeated_heading() -> None:
    text = ("The Pakistani foreign office said:\n“We reject this.”\n"
            "Later the Pakistani foreign office said it would respond.")
    assert kept(text)[0] == "The Pakistani foreign office said:"


def test_photo_caption_removed_inside_a_paragraph_with_offsets_kept() -> None:
    text = "Intro line.\nWashington wants talks with the Taliban. (Reuters Image). It also wants calm."
    cleaned = clean_text(text)
    assert cleaned.blocks[1].text == "Washington wants talks with the Taliban. It also wants calm."
    assert_offsets_point_into_original(text)
    # the text after the caption still maps to its original position
    block = cleaned.blocks[1]
    i = block.text.index("It also")
    assert text[block.offsets[i]: block.offsets[i] + 7] == "It also"


def test_bullet_glyphs_and_list_numbers_removed_item_text_kept() -> None:
    text = "Steps:\n  • A plan was developed.\n  • 23000 US troops would withdraw.\n1. Assurance by the Taliban.\nII. Strategic Dimensions"
    assert kept(text) == [
        "Steps:", "A plan was developed.", "23000 US troops would withdraw.", "Assurance by the Taliban.", "Strategic Dimensions",
    ]


def test_repeated_title_line_and_teaser_lines_dropped_first_or_longer_copy_kept() -> None:
    text = (
        "Direct Dialogue Between the United States and the Taliban in Kabul\n"
        "By line\n"
        "Direct Dialogue Between the United States and the Taliban in Kabul\n"
        "Washington aims to curb China's influence in Afghan affairs, making cooperation important.\n"
        "Body. Washington aims to curb China's influence in Afghan affairs, making cooperation important. More.\n"
        "He said.\n"
        "Later he said. Then he left.\n"
    )
    blocks = kept(text)
    assert blocks.count("Direct Dialogue Between the United States and the Taliban in Kabul") == 1
    assert blocks[0].startswith("Direct Dialogue")  # the first copy is the one kept
    assert "Washington aims to curb China's influence in Afghan affairs, making cooperation important." not in blocks
    assert any(b.startswith("Body.") for b in blocks)
    assert "He said." in blocks  # a short sentence is never dropped for appearing inside another line


def test_doubled_word_and_glued_text_from_concatenated_files() -> None:
    text = "In recent months the President Donald TrumpTrump decided to withdraw.\nPlease enter your name hereJust days after Pakistan warned Kabul."
    blocks = kept(text)
    assert blocks[0] == "In recent months the President Donald Trump decided to withdraw."
    assert blocks[1] == "Just days after Pakistan warned Kabul."


def test_glued_words_break_even_without_a_removal_rule() -> None:
    rules = load_rules(defaults=True)
    no_comment_rule = type(rules)(tuple(r for r in rules.rules if r.name != "comment_form"), rules.dedupe_lines, rules.dedupe_min_words)
    blocks = kept("something ends hereJust days after Pakistan warned Kabul.", no_comment_rule)
    assert blocks == ["something ends here", "Just days after Pakistan warned Kabul."]


def test_ordinary_camel_case_names_are_not_split() -> None:
    assert kept("William McKenty and LinkedIn and iPhone users.") == ["William McKenty and LinkedIn and iPhone users."]


def test_seed_boilerplate_gone_and_every_kept_char_maps_to_the_original() -> None:
    banned = [
        "Last Updated", "Reuters Image", "Please enter your", "Comments are closed", "Support Dawat",
        "Every contribution", "Vipps", "DNB Bank", "Written by", "TrumpTrump", "•", "Kindly read",
    ]
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        cleaned = clean_text(text)
        for phrase in banned:
            assert phrase not in cleaned.text, (path.name, phrase)
        assert_offsets_point_into_original(text)


def test_user_rules_extend_override_and_disable(tmp_path: Path) -> None:
    extra = tmp_path / "rules.toml"
    extra.write_text(
        'disable = ["last_updated"]\n'
        "[[rule]]\nname = \"subscribe\"\npattern = '^Subscribe to our newsletter.*$'\n"
    )
    rules = load_rules(extra)
    assert "subscribe" in rules.names and "last_updated" not in rules.names
    blocks = kept("Subscribe to our newsletter today\nLast Updated: now\nPakistan spoke.", rules)
    assert blocks == ["Last Updated: now", "Pakistan spoke."]


@pytest.mark.parametrize(
    "content, message",
    [
        ("[[rule]]\nname = \"bad\"\npattern = '(unclosed'\n", "invalid regular expression"),
        ("[[rule]]\nname = \"x\"\npattern = 'a'\naction = \"explode\"\n", "not one of"),
        ("[[rule]]\npattern = 'a'\n", "name"),
        ('disable = ["no_such_rule"]\n', "valid rule names"),
        ("this is = not toml = at all", "not valid TOML"),
    ],
)
def test_bad_rules_file_names_file_and_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(content)
    with pytest.raises(RulesError) as exc:
        load_rules(path)
    assert str(path) in str(exc.value)
    assert message in str(exc.value)


def test_windows_line_endings_are_cleaned_like_unix_ones() -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        crlf = text.replace("\n", "\r\n")
        assert clean_text(crlf).text == clean_text(text).text, path.name
        assert_offsets_point_into_original(crlf)


@pytest.mark.parametrize("news", [
    "Saudi Arabia said it would make a donation of $1bn to Pakistan's flood victims.",
    "Pakistan said every contribution to the Afghan peace process counts.",
    "Translated from Pashto, the Taliban statement accused Pakistan of airstrikes.",
    "Support Grows For Taliban Talks",
])
def test_reporting_that_resembles_boilerplate_is_kept(news: str) -> None:
    assert clean_text(news + "\nThe Taliban agreed.").text.startswith(news)


def test_a_photo_credit_inside_a_sentence_keeps_the_sentence_end() -> None:
    text = "The strike killed 12 soldiers, Pakistan's army told reporters (AFP). The Taliban denied any role."
    assert clean_text(text).text == "The strike killed 12 soldiers, Pakistan's army told reporters. The Taliban denied any role."
    # After a sentence end the credit takes its own period with it (the seeds' case).
    assert clean_text("It is important. (Reuters Image).").text == "It is important."


# --- web-page furniture --------------------------------------------------------------------

@pytest.mark.parametrize(
    "noise, rule",
    [
        ("Sign In Now", "paywall_prompt"),
        ("Already a subscriber? Log in", "paywall_prompt"),
        ("Subscribe to continue reading this premium article.", "paywall_prompt"),
        ("/images/2025/10/istanbul-talks.jpg", "image_file"),
        ("clashes-kurram-2026.jpg 1200w", "image_file"),
        ("https://www.example.org/news/2025/10/26/talks", "bare_url"),
        ("Delegations meet in Istanbul on Saturday. — Photo via X", "caption_credit"),
        ("Photo: AFP", "caption_credit"),
        ("Afghan soldiers at a checkpoint. — AFP/File", "caption_credit"),
        ("Smoke rises near the border crossing. Photo: Getty Images", "caption_credit"),
        ("Figure 1: Militant attacks in Pakistan by month. Source: project data.", "caption_credit"),
        ("Share Tweet WhatsApp Email", "share_bar"),
        ("Facebook | X | LinkedIn | Copy link", "share_bar"),
        ("Comments (4)", "share_bar"),
        ("Follow us on Google News", "follow_prompt"),
        ("Read: Border ceasefire holds for a third day", "related_link"),
        ("Published October 26, 2025 Updated 10:42pm", "publication_line"),
        ("Home > Opinion > Columns", "menu_bar"),
        ("Markets • Economy • Companies • World", "menu_bar"),
        ("AIRLINK 107.70 Increased By ▲ 1.59 (1.5%)", "number_dense"),
        ("KSE-100 165,432.10 ▲ 1,234.55 (0.75%)", "number_dense"),
        ("October 26, 2025", "number_dense"),
        ("HomeLatestPakistanWORLDBusinessSPORTS", "navigation_list"),
        ("Skip to main content", "skip_link"),
        ("#PeaceTalks #Kabul", "social_embed"),
        ("Talks are the only way forward for both countries. #PeaceTalks #Pakistan", "social_embed"),
        ("— A Reader (@a_reader) June 3, 2022", "social_embed"),
        ("We use cookies to improve your experience. By continuing you agree to our use of cookies.", "cookie_notice"),
        ("Accept All", "cookie_notice"),
        ("Advertisement", "advert_label"),
        ("Tags: Pakistan, Taliban, TTP, Afghanistan", "tag_line"),
        ("Copyright © 2025 All rights reserved.", "copyright_line"),
        ("Listen to this article 5 min", "reading_time"),
        ("By our correspondent", "short_byline"),
        ("Commentary by the South Asia Program", "short_byline"),
        ("Print Edition: Lahore", "edition_line"),
        ("Like Loading...", "page_widget"),
        ("Search for:", "page_widget"),
        ("Reporting by a staff reporter; Editing by a desk editor", "wire_footer"),
        ("About the author: a researcher on South Asian security.", "author_box"),
        ("The writer is a former ambassador to Kabul.", "author_box"),
        ("Click to share on X (Opens in new window)", "share_bar"),
        ("Residents gather at the site of the strike. REUTERS/Stringer", "caption_credit"),
    ],
)
def test_web_page_noise_lines_are_removed_and_counted(noise: str, rule: str) -> None:
    text = f"Pakistan warned Kabul on Monday.\n{noise}\nThe Taliban replied on Tuesday."
    cleaned = clean_text(text)
    assert [b.text for b in cleaned.blocks] == ["Pakistan warned Kabul on Monday.", "The Taliban replied on Tuesday."]
    assert cleaned.removed_lines() == {rule: 1}


def test_a_menu_saved_one_item_per_line_goes_but_a_subheading_stays() -> None:
    menu = "Home\nPakistan\n\nWorld\nBusiness\n"
    body = "The talks in Istanbul ended on Friday.\nWhat comes next\nBoth sides will meet again in November."
    cleaned = clean_text(menu + body)
    assert cleaned.text == body
    assert cleaned.removed_lines() == {"navigation_list": 4}


def test_related_block_takes_the_link_titles_under_its_heading() -> None:
    text = "The Taliban replied.\nRelated Articles\nPakistan's Counterterrorism Dilemma\nThe Taliban at Five\nIt rained."
    assert kept(text) == ["The Taliban replied.", "It rained."]


def test_an_agency_credit_after_the_last_sentence_goes_and_the_sentence_stays() -> None:
    text = "The two sides will meet again in Istanbul on Oct 25. — Reuters\nNext."
    cleaned = clean_text(text)
    assert kept(text) == ["The two sides will meet again in Istanbul on Oct 25.", "Next."]
    assert cleaned.removed_lines() == {}  # text removed inside a kept line is not a removed line


@pytest.mark.parametrize("news", [
    "Pakistan's stock market fell 2.3 percent to 107,700 points on Monday after the talks collapsed.",
    "In 2023, 645 people were killed in 2,100 attacks.",
    "Exports through Torkham fell to $48 million in January from $121 million a year earlier.",
    "The two sides will sign in Istanbul next week, officials said.",
    "A photo released by the ISPR shows soldiers near the border.",
    "“Log in to read the agreement,” the spokesman joked.",
    "Pakistan Afghanistan Talks Collapse",
    "Three steps would help:",
    "He shared a photo - taken in Kabul - on X.",
    "Readers who follow the talks closely will not be surprised.",
    "By then it was over.",
    "Copyright law in Pakistan protects broadcasters.",
    "Pakistan will not accept all the Taliban's demands.",
    "Reported by local media, the blast killed 12 Pakistani soldiers.",
    "Menu prices in Kabul have doubled since the border closed.",
])
def test_web_page_rules_keep_article_text_that_looks_like_noise(news: str) -> None:
    assert kept(f"Pakistan warned Kabul.\n{news}\nThe Taliban replied.") == ["Pakistan warned Kabul.", news, "The Taliban replied."]


def test_detectors_are_named_rules_a_user_can_switch_off_or_tune(tmp_path: Path) -> None:
    ticker = "AIRLINK 107.70 Increased By ▲ 1.59 (1.5%)"
    off = tmp_path / "off.toml"
    off.write_text('disable = ["number_dense", "paywall_prompt"]\n')
    rules = load_rules(off)
    assert "number_dense" not in rules.names and "navigation_list" in rules.names
    assert kept(f"{ticker}\nSign In Now\nPakistan spoke.", rules) == [ticker, "Sign In Now", "Pakistan spoke."]
    tuned = tmp_path / "tuned.toml"
    tuned.write_text('[[detector]]\nname = "number_dense"\nkind = "number_dense"\nparams = { min_numbers = 5 }\n')
    assert kept(f"{ticker}\nPakistan spoke.", load_rules(tuned)) == [ticker, "Pakistan spoke."]


@pytest.mark.parametrize(
    "content, message",
    [
        ('[[detector]]\nname = "d"\nkind = "no_such_kind"\n', "is not one of ['headline_list', 'navigation_list', 'number_dense']"),
        ('[[detector]]\nname = "d"\nkind = "number_dense"\nparams = { min_share = "high" }\n', "must be float"),
        ('[[detector]]\nname = "d"\nkind = "number_dense"\nparams = { window = 3 }\n', "valid: ['max_lowercase_words', 'min_numbers', 'min_share']"),
        ('[[detectors]]\nname = "d"\n', "unknown top-level keys ['detectors']"),
    ],
)
def test_bad_detector_entries_name_file_and_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(content)
    with pytest.raises(RulesError) as exc:
        load_rules(path)
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_a_sidebar_of_other_headlines_goes_but_a_short_list_in_the_article_stays() -> None:
    sidebar = ("Cricket board names new selection committee for home series\n"
               "Heatwave to continue in Sindh and Punjab, says Met Office\n"
               "Government raises petrol price by Rs 5 for next fortnight\n\n"
               "Karachi traffic plan announced for Eid holidays\n"
               "\"We will not back down,\" says union leader after talks...\n")
    body = ("The sides discussed three issues:\nThe status of the former tribal areas\n"
            "The release of prisoners\nA longer ceasefire\nNo details were given.")
    cleaned = clean_text(body + "\n" + sidebar)
    assert cleaned.text == body
    assert cleaned.removed_lines() == {"headline_list": 5}


def test_a_most_read_list_goes_with_its_numbers() -> None:
    text = "The editorial ends here.\nMost Read\n1. Petrol prices cut again\n2. Heavy rain forecast\nNext."
    assert kept(text) == ["The editorial ends here.", "Next."]


def test_you_may_also_like_takes_its_teasers_cut_off_mid_sentence() -> None:
    text = ("The jirga member said talks went on late.\nYou May Also Like\nFlood relief convoy reaches Swat\n"
            "PESHAWAR: Traders in the city say the closure of the main bazaar has...\nNext paragraph.")
    assert kept(text) == ["The jirga member said talks went on late.", "Next paragraph."]
