"""Sentence splitting with spaCy's rule-based sentencizer on a blank English pipeline.

No model is downloaded. spaCy's English tokenizer exceptions keep abbreviations such as
"U.S.", "Feb." and "Gen." whole, so the sentencizer does not split after them. Two small
adjustments: a hyphen after an abbreviation ("U.S.-Pakistan") is split off so the actor matcher
sees "U.S." (likewise a dangling hyphen: "US- Taliban"), and an opening quotation mark that the
sentencizer leaves at the end of a sentence (curly, or a straight one glued to the next word)
is moved to the start of the next one. Military ranks and a few other abbreviations common in
South Asian news ("Lt.", "Brig.", "Rs.") are added to spaCy's exceptions.

Because "U.S." stays whole, it cannot end a sentence either ("... for the U.S. However, ...").
A third component splits there when the next word is one that starts sentences and does not
follow an abbreviation inside one ("However", "The", "It", ...), in the way Punkt uses frequent
sentence starters; "the U.S. President" stays one sentence. The same component splits after an
ellipsis followed by such a word ("talks would go on... The Taliban refused"; "the talks...
were slow" stays whole), and keeps "No." with its number ("No. 10 Downing Street").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # spaCy is imported lazily: importing annotate.corpus stays cheap
    from spacy.language import Language
    from spacy.tokens import Doc

_OPENING_QUOTES = {"“", "«", "„"}
_CLOSING_QUOTES = {"”", "»"}
_MAX_QUOTE_MERGES = 2
_ALL_QUOTES = _OPENING_QUOTES | _CLOSING_QUOTES | {'"', "‘"}
_QUOTE_FIXER = "slant_opening_quote_fixer"
_ABBREVIATION_BOUNDARY = "slant_abbreviation_boundary"

#: Abbreviations that can end a sentence: dotted initialisms ("U.S.", "D.C.") and these words.
#: Titles ("Gen.", "Dr.") are left out on purpose: a name follows them.
_SENTENCE_FINAL_ABBREVIATIONS = {"etc.", "inc.", "ltd.", "co.", "corp.", "jr.", "sr.", "govt.", "dept."}
#: Abbreviations spaCy's English exceptions lack and that are common in South Asian and
#: military news ("Lt. Gen. Nadeem Anjum", "Rs. 9 trillion"): kept whole, so no sentence ends
#: after them (unless a sentence starter follows one of the sentence-final ones above).
_EXTRA_ABBREVIATIONS = ("Lt.", "Maj.", "Col.", "Brig.", "Capt.", "Cdr.", "Cmdr.", "Sgt.", "Cpl.", "Pvt.", "Amb.",
                        "Hon.", "Supt.", "Insp.", "Rs.", "Approx.", "approx.", "Art.", "Govt.", "govt.", "Dept.",
                        "Fig.", "Vol.")
_ELLIPSES = {"...", "…", ". . ."}
#: "No. 10", "Nos. 3 and 4": the tokenizer splits "No" from its period, and the sentencizer
#: then starts a sentence at the number.
#: Capitalised only: "I said no. 5 people came" ends a sentence.
_NUMBER_ABBREVIATIONS = {"No", "Nos"}
#: Capitalised words that open a sentence after such an abbreviation (closed-class words and
#: discourse adverbs: none of them continues a sentence after "the U.S.").
_SENTENCE_STARTERS = {
    "The", "This", "That", "These", "Those", "It", "Its", "He", "She", "They", "We", "I", "His", "Her",
    "Their", "Our", "There", "But", "However", "Meanwhile", "Moreover", "Furthermore", "Also", "And",
    "Yet", "So", "Still", "Instead", "Nevertheless", "Then", "Now", "Thus", "Hence", "Therefore",
    "In", "On", "At", "After", "Before", "When", "While", "If", "Although", "Since", "As", "For",
    "A", "An", "Some", "Many", "Most", "Such", "Earlier", "Later",
}


def import_spacy() -> None:
    """Import spaCy without torch. spaCy's thinc imports torch whenever it is installed (4 of
    spaCy's 5 s import time here), though a tokenizer and sentencizer never use it, and
    ``annotate`` does not import torch. ``sys.modules["torch"] = None`` makes that import fail
    for the moment spaCy loads; torch imports normally afterwards. If torch is already loaded
    (``slant run`` after training), nothing is changed."""
    import sys

    if "spacy" in sys.modules or "torch" in sys.modules:
        return
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy  # noqa: F401
    finally:
        if sys.modules.get("torch", False) is None:
            del sys.modules["torch"]


def _register_components() -> None:
    import_spacy()
    from spacy.language import Language

    if _ABBREVIATION_BOUNDARY in Language.factories:
        return

    @Language.component(_QUOTE_FIXER)
    def quote_fixer(doc: Doc) -> Doc:
        """Keep quotations whole, and opening quotes at the start of their sentence.

        The sentencizer splits inside a quotation of several sentences, which separates the quote
        from its attribution ("... engage in talks,” he wrote"); a sentence start inside an open
        quotation is undone (at most ``_MAX_QUOTE_MERGES`` times, so a quote that is never closed
        cannot swallow a paragraph). An opening quote left at the end of a sentence moves to the
        next one ("...address. “Either you are with us").
        """
        if not any(q in doc.text for q in _ALL_QUOTES):
            return doc  # nothing to fix (the common case)
        texts = [t.text for t in doc]
        spaced = [bool(t.whitespace_) for t in doc]
        starts = [bool(t.is_sent_start) for t in doc]

        def opens(j: int) -> bool:
            # a closing-quote glyph with spaces on both sides is used as an opening quote
            # ('said to the USA. ” The Americans walked away ... their court” like')
            if texts[j] in _OPENING_QUOTES:
                return True
            return texts[j] in _CLOSING_QUOTES and j > 0 and spaced[j - 1] and spaced[j]

        def opens_single(j: int) -> bool:
            # a left single quote glued to the next word ("said. ‘Pakistan is ready,’") opens a
            # quotation; it only moves to its sentence (single quotes are not counted for depth:
            # the same glyph family is typed for apostrophes)
            return texts[j] == "‘" and j > 0 and spaced[j - 1] and not spaced[j]

        def opens_straight(j: int) -> bool:
            # a straight quote glued to the next word after a space ('TTP. "We will act,"')
            return texts[j] == '"' and (j == 0 or spaced[j - 1]) and not spaced[j]

        def closes_straight(j: int) -> bool:
            # glued to the word before and not to the next: 'act," a spokesman', an inch mark '11" '
            return texts[j] == '"' and j > 0 and not spaced[j - 1] and (spaced[j] or j == len(texts) - 1)

        depth = 0  # open curly quotes
        straight_open = False
        merges = 0
        for i in range(len(doc)):
            if i > 0 and starts[i]:
                if ((opens(i - 1) or opens_single(i - 1) or opens_straight(i - 1)) and i - 1 > 0
                        and not starts[i - 1]):
                    starts[i - 1], starts[i] = True, False
                    doc[i - 1].is_sent_start = True
                    doc[i].is_sent_start = False
                    merges = 0  # a new sentence, opened by the (still open) quote
                elif (depth > 0 or straight_open) and merges < _MAX_QUOTE_MERGES:
                    starts[i] = False
                    doc[i].is_sent_start = False
                    merges += 1
                else:
                    depth, straight_open, merges = 0, False, 0
                    if opens(i - 1):
                        depth = 1
            if opens(i):
                depth += 1
            elif texts[i] in _CLOSING_QUOTES:
                depth = max(depth - 1, 0)
            elif texts[i] == '"':
                # by its shape where it has one, so an inch mark or a stray quote does not
                # leave a quotation "open" that swallows the next sentences
                straight_open = True if opens_straight(i) else False if closes_straight(i) else not straight_open
        return doc

    @Language.component(_ABBREVIATION_BOUNDARY)
    def abbreviation_boundary(doc: Doc) -> Doc:
        """Start a sentence after a sentence-final abbreviation or an ellipsis followed by a
        sentence starter; keep "No." and its number in one sentence."""
        for token in doc[:-1]:
            nxt = doc[token.i + 1]
            if (nxt.is_sent_start and nxt.like_num and token.text == "." and token.whitespace_ and token.i > 0
                    and doc[token.i - 1].text in _NUMBER_ABBREVIATIONS and not doc[token.i - 1].whitespace_):
                nxt.is_sent_start = False
                continue
            if nxt.is_sent_start or nxt.text not in _SENTENCE_STARTERS or not token.whitespace_:
                continue
            if _ends_sentence(token.text) or token.text in _ELLIPSES:
                nxt.is_sent_start = True
        return doc


def _ends_sentence(word: str) -> bool:
    """Whether an abbreviation token can be the last word of a sentence ("U.S.", "etc.")."""
    if not word.endswith(".") or len(word) < 2:
        return False
    letters = word.split(".")[:-1]
    dotted_initialism = len(letters) >= 2 and all(len(x) == 1 and x.isalpha() for x in letters)
    return dotted_initialism or word.lower() in _SENTENCE_FINAL_ABBREVIATIONS


@lru_cache(maxsize=1)
def sentence_pipeline() -> Language:
    """A blank English pipeline with the sentencizer (cached; built on first use)."""
    import_spacy()
    import spacy
    from spacy.util import compile_infix_regex, compile_suffix_regex

    _register_components()
    nlp = spacy.blank("en")
    # spaCy's 1,000,000-character guard is for parsers and NER; a tokenizer plus sentencizer
    # handles a paragraph as long as the ingest size limit (10 MB by default) allows.
    nlp.max_length = 12_000_000
    infixes = list(nlp.Defaults.infixes) + [r"(?<=[A-Za-z]\.)[-‐–—](?=[A-Za-z])"]
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    # a dangling hyphen ("the US- Taliban talks", "Pakistan- US-Taliban") is its own token
    # and a left single quote typed for an apostrophe ("Pakistan‘s") splits off like "’s"
    suffixes = list(nlp.Defaults.suffixes) + [r"(?<=[A-Za-z])[-‐]", r"(?<=[A-Za-z])‘[sS]"]
    nlp.tokenizer.suffix_search = compile_suffix_regex(suffixes).search
    from spacy.symbols import ORTH

    for abbreviation in _EXTRA_ABBREVIATIONS:
        nlp.tokenizer.add_special_case(abbreviation, [{ORTH: abbreviation}])
    nlp.add_pipe("sentencizer")
    nlp.add_pipe(_ABBREVIATION_BOUNDARY)
    nlp.add_pipe(_QUOTE_FIXER)
    return nlp


def split_sentences(text: str) -> list[str]:
    """Split one paragraph of text into sentences (convenience for callers and tests)."""
    doc = sentence_pipeline()(text)
    return [s.text for s in doc.sents if s.text.strip()]


def iter_docs(texts: Iterable[str], *, batch_size: int = 64) -> Iterator[Doc]:
    """Run the sentence pipeline over many blocks of text."""
    yield from sentence_pipeline().pipe(texts, batch_size=batch_size)
