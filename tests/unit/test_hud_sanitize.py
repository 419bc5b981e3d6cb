"""Scenario text is untrusted: nothing in it may reach the terminal as a control sequence."""
# ruff: noqa: RUF001 - ordinary text of many scripts is the point here, look-alikes included

from __future__ import annotations

import re

import pytest

from libreplay.core.text import inert

# Every character a terminal may act on: C0 (but newline), DEL, C1.
ACTIVE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")

HOSTILE = [
    "title\x1b]0;owned\x07 rest",  # OSC: set the window title
    "clip\x1b]52;c;ZWNobyBwd25lZA==\x1b\\ after",  # OSC 52: write the clipboard
    "\x1b[2J\x1b[Hwiped",  # clear screen, cursor home
    "\x1b[31mred\x1b[0m",  # SGR colour
    "\x1b[?1049h alt screen",
    "dcs\x1bP1$qm\x1b\\ done",  # DCS request
    "reset\x1bc now",  # RIS: full terminal reset
    "8bit\x9b31m csi",  # 8-bit CSI
    "8bit\x9d0;title\x9c osc",  # 8-bit OSC with ST
    "bell\x07 backspace\x08 null\x00 del\x7f",
    "carriage\roverwrite",
    "vertical\x0btab form\x0cfeed",
    "unterminated \x1b]0;title to the end of the line\nsecond line",
    "lonely escape at the end \x1b",
    "bidi \u202eevil\u202c zero\u200bwidth",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_no_control_character_survives(text: str) -> None:
    cleaned = inert(text)
    assert not ACTIVE.search(cleaned), repr(cleaned)
    assert "\x1b" not in cleaned


def test_whole_sequences_go_with_their_parameters() -> None:
    assert inert("\x1b[31mred\x1b[0m") == "red"
    assert inert("title\x1b]0;owned\x07 rest") == "title rest"
    assert inert("clip\x1b]52;c;ZWNobyBwd25lZA==\x1b\\ after") == "clip after"
    assert inert("reset\x1bc now") == "reset now"
    assert inert("\x1b[?1049h alt screen") == " alt screen"


def test_stray_controls_become_visible_question_marks() -> None:
    assert inert("bell\x07!") == "bell?!"
    assert inert("a\x00b\x7fc\x85d") == "a?b?c?d"


def test_an_unterminated_string_sequence_ends_at_the_line() -> None:
    assert inert("keep \x1b]0;title\nsecond line") == "keep \nsecond line"


def test_ordinary_text_is_untouched() -> None:
    text = "URGENT: users getting 502s — checkout ~50% down (nginx → app:8080)\n\nsecond paragraph"
    assert inert(text) == text


def test_tabs_and_crlf_are_normalised() -> None:
    assert inert("a\tb\r\nc") == "a    b\nc"


def test_newlines_can_be_flattened_for_one_line_fields() -> None:
    assert inert("one\ntwo", keep_newlines=False) == "one two"


def test_invisible_reordering_characters_are_dropped() -> None:
    assert inert("bidi \u202eevil\u202c") == "bidi evil"


# -- invisible characters ---------------------------------------------------------------------

INVISIBLE_CASES = [
    # (what a pack wrote, what reaches the terminal)
    ("tag\U000e0041\U000e0042\U000e0043 characters", "tag characters"),  # text smuggled in tags
    ("language tag\U000e0001\U000e0065\U000e006e", "language tag"),
    ("zero\u200bwidth space", "zerowidth space"),
    ("r\u200dm -rf", "rm -rf"),  # a joiner inside an ASCII command disguises it
    ("non\u200cjoiner", "nonjoiner"),
    ("word\u2060joiner", "wordjoiner"),
    ("soft\u00adhyphen", "softhyphen"),
    ("\ufeffbyte order mark", "byte order mark"),
    ("left\u200e right\u200f marks", "left right marks"),
    ("bidi \u202aembed\u202c \u202boverride\u202c \u202dlro\u202c", "bidi embed override lro"),
    ("isolates \u2066a\u2069 \u2067b\u2069 \u2068c\u2069", "isolates a b c"),
    ("arabic letter mark\u061c", "arabic letter mark"),
    ("interlinear \ufff9base\ufffaruby\ufffb", "interlinear baseruby"),
    ("invisible\u2062times\u2064plus", "invisibletimesplus"),
    ("mongolian\u180evowel separator", "mongolianvowel separator"),
    ("hangul\u3164filler\u115f\u1160 halfwidth\uffa0", "hangulfiller halfwidth"),
    ("grapheme\u034fjoiner", "graphemejoiner"),
    ("khmer\u17b4\u17b5 inherent", "khmer inherent"),
    ("selector after ascii a\ufe0f b\ufe0e", "selector after ascii a b"),
    ("smuggled \u2764\ufe0f\ufe01\ufe02\U000e0100\U000e0101 bytes", "smuggled \u2764\ufe0f bytes"),
    ("leading \ufe0fselector", "leading selector"),
    ("reserved\u2065\ufff0\U000e0fff ignorables", "reserved ignorables"),
    ("lone surrogate \udcff from a file name", "lone surrogate ? from a file name"),
    ("line\u2028separator\u2029paragraph", "line\nseparator\nparagraph"),
    ("\x1b\u200b[31mhidden escape", "hidden escape"),  # an invisible cannot shield a sequence
    ("\x1b]0;ti\u200btle\x07shown", "shown"),
]

KEPT_CASES = [
    "ordinary ASCII: users get 502s (nginx -> app:8080), 50% down!",
    "Ünïcödé Latin: café, naïve, Straße, Œuvre, ångström",
    "Greek and Cyrillic: αβγ δέλτα, Привет, мир",
    "CJK: 日本語のテキスト, 中文文本, 한국어 텍스트",
    "Arabic and Hebrew (no overrides): مرحبا بالعالم, שלום עולם",
    "Persian with its non-joiner: می\u200cخواهم",
    "Devanagari with a joiner: क्\u200dष, and a non-joiner: क्\u200cष",
    "Thai: ภาษาไทย, Tamil: தமிழ், Georgian: ქართული",
    "Emoji: 🔥 🚀 👍🏽 ✅ and a keycap 1\u20e3",
    "Emoji presentation: \u2764\ufe0f \u263a\ufe0f \u00a9\ufe0f",
    "Emoji ZWJ sequences: 👩\u200d💻 👨\u200d👩\u200d👧 \u2764\ufe0f\u200d🔥 🏳\ufe0f\u200d🌈",
    "CJK ideographic variation sequence: 葛\U000e0100 and Mongolian: ᠠ\u180b",
    "Combining marks: e\u0301 n\u0303 a\u030a, Vietnamese: Tiếng Việt",
    "Spaces of other widths: a\u00a0b\u2003c\u3000d, Braille blank: \u2800",
    "Private use (icon fonts): \ue0b0 \uf113",
    "Symbols: → ← ✓ ✗ • … — – ± × ÷ € £ ¥ ° ‰",
]


@pytest.mark.parametrize(("text", "expected"), INVISIBLE_CASES)
def test_invisible_characters_are_dropped(text: str, expected: str) -> None:
    assert inert(text) == expected


@pytest.mark.parametrize("text", KEPT_CASES)
def test_ordinary_text_of_every_script_and_emoji_survive(text: str) -> None:
    assert inert(text) == text


def test_every_format_character_python_knows_is_dropped() -> None:
    """The table in core/text.py is spelled out: it must cover unicodedata's every Cf character
    (apart from a joiner between non-ASCII characters, tested above)."""
    import unicodedata

    format_chars = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"]
    assert len(format_chars) > 150
    survivors = [f"U+{ord(c):04X}" for c in format_chars if inert(f"a{c}b") != "ab"]
    assert survivors == []
    between_letters = [f"U+{ord(c):04X}" for c in format_chars if c in inert(f"日{c}本")]
    assert between_letters == ["U+200C", "U+200D"]


def test_no_variation_selector_survives_after_ascii_or_another_selector() -> None:
    selectors = [chr(c) for c in (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0), 0x180B, 0x180F)]
    for selector in selectors:
        assert inert(f"a{selector}") == "a"
        assert inert(f"\u2764{selector}{selector}") == f"\u2764{selector}"


def test_a_joiner_needs_visible_non_ascii_characters_on_both_sides() -> None:
    assert inert("日\u200d") == "日"
    assert inert("\u200d日") == "日"
    assert inert("日\u200d\u200d本") == "日本"  # a second joiner has an invisible neighbour
    assert inert("日\u200d \u200d本") == "日 本"
    assert inert("a\ufe0f\u200d🔥") == "a🔥"  # the selector goes with its ASCII base, then the joiner


def test_one_line_fields_flatten_line_separators_too() -> None:
    assert inert("one\u2028two", keep_newlines=False) == "one two"


def test_inert_is_idempotent() -> None:
    for text, _ in INVISIBLE_CASES:
        once = inert(text)
        assert inert(once) == once
    for text in HOSTILE + KEPT_CASES:
        once = inert(text)
        assert inert(once) == once
