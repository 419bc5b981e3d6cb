"""Scenario text is untrusted: nothing in it may reach the terminal as a control sequence."""

from __future__ import annotations

import re

import pytest

from libreplay.terminal import inert

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
