"""Inert text: what a pack or a container wrote, made safe to show in a terminal or a page.

Scenario packs are untrusted: a page, title or hint could carry escape sequences that
would move the cursor, retitle the window, change colours or worse (OSC 52 writes the
clipboard). Everything a scenario provides goes through :func:`inert` before it is drawn.
:func:`wrap` fits such text to a width (the HUD's pane, the debrief's terminal).
"""

from __future__ import annotations

import re
import textwrap
import unicodedata

# A whole escape sequence first (so its parameters vanish with it; an unterminated string
# sequence ends at the line's end), then any single control
# character left: C0 except newline and tab, DEL, and C1 (U+0080-U+009F, which some terminals
# treat like ESC + a letter).
_ESCAPE_SEQUENCE = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]?             # CSI: ESC [ params intermediates final
    | \x9b[0-?]*[ -/]*[@-~]?             # 8-bit CSI
    | \x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c|(?=\n)|$)   # OSC, DCS, SOS, PM, APC to their end
    | [\x90\x98\x9d-\x9f].*?(?:\x07|\x1b\\|\x9c|(?=\n)|$)  # the same, 8-bit introducers
    | \x1b[ -/]*[0-~]?                   # any other ESC sequence (ESC c, ESC ( B, ESC 7 …)
    """,
    re.VERBOSE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
REPLACEMENT = "?"

# Characters a terminal shows as nothing, or that make what is shown differ from what is there
# (a command that reads `rm -rf /tmp/x` but copies as something else, a file name reversed by a
# bidi override, text smuggled in tag characters). They are not escape sequences, so they are
# dropped on their own: every format character (Unicode category Cf: bidi embeddings, overrides,
# isolates and marks, zero-width space and joiners, word joiner, invisible operators, soft hyphen,
# BOM, interlinear annotation, tag characters, prepended concatenation marks ...), and every other
# Default_Ignorable_Code_Point: the Hangul fillers (shown as a blank, used to fake empty names),
# the combining grapheme joiner, the Khmer inherent vowels, the Mongolian free variation
# selectors, the variation selectors and the reserved ignorable ranges (U+2065, U+FFF0-FFF8,
# U+E0000-E0FFF). The table is spelled out rather than read from unicodedata at import (a scan of
# every code point would slow down each command); tests/unit/test_hud_sanitize.py checks that it
# covers every Cf character Python knows. Braille pattern blank (U+2800) stays: it is a visible
# cell as wide as a space and hides nothing a space could not.
_FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_VARIATION_SELECTORS = "\u180b-\u180d\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef"
_JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner (also Cf, listed above)
_IGNORABLE = (
    f"{_FORMAT}{_VARIATION_SELECTORS}\u034f\u115f\u1160\u17b4\u17b5\u2065\u3164\uffa0"
    "\ufff0-\ufff8\U000e0000-\U000e0fff"
)
_SURROGATES = "\ud800-\udfff"  # from undecodable file names (surrogateescape): unprintable
_LINE_SEPARATORS = "\u2028\u2029"  # a terminal shows no break for them; they become newlines
_INVISIBLE = re.compile(f"[{_IGNORABLE}{_SURROGATES}{_LINE_SEPARATORS}]")
_SELECTOR = re.compile(f"[{_VARIATION_SELECTORS}]")


def inert(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` with every escape sequence, control and invisible character made harmless.

    Sequences are removed whole; stray control characters (and lone surrogates) become ``?`` so
    that something visibly odd remains; invisible and reordering characters are dropped. Tabs
    become spaces (their width depends on the terminal). Carriage returns before a newline are
    dropped (``\\r\\n`` stays one line break). Ordinary text of any script, and emoji, stay.
    """
    if text.isascii() and text.isprintable():
        return text  # nothing below can match it: the common case, at list scale
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    text = _INVISIBLE.sub(_invisible_replacement, text)
    text = _ESCAPE_SEQUENCE.sub("", text)
    if not keep_newlines:
        text = text.replace("\n", " ")
    return _CONTROL.sub(REPLACEMENT, text)


def _invisible_replacement(match: re.Match[str]) -> str:
    """What one invisible character becomes: usually nothing.

    Two uses of them carry meaning and cannot disguise Latin text, so they stay: one variation
    selector right after a visible non-ASCII character (emoji presentation as in U+2764 U+FE0F,
    CJK ideographic variants, Mongolian letter forms), and a zero-width (non-)joiner between two
    visible non-ASCII characters (emoji ZWJ sequences; Persian, Arabic and Indic shaping). A
    selector after ASCII, after another selector or in a run (the "emoji smuggling" that hides
    bytes in selectors), and a joiner touching ASCII, are dropped.
    """
    char, text, at = match.group(), match.string, match.start()
    if "\ud800" <= char <= "\udfff":
        return REPLACEMENT
    if char in _LINE_SEPARATORS:
        return "\n"
    before = text[at - 1] if at > 0 else ""
    if _SELECTOR.fullmatch(char):
        return char if _visible_non_ascii(before) else ""
    if char in _JOINERS:
        after = text[at + 1] if at + 1 < len(text) else ""
        if _SELECTOR.fullmatch(before) and at > 1 and _visible_non_ascii(text[at - 2]):
            before = text[at - 2]  # the joiner follows a kept variation sequence
        return char if _visible_non_ascii(before) and _visible_non_ascii(after) else ""
    return ""


def _visible_non_ascii(char: str) -> bool:
    """A printing character beyond ASCII and C1 that is not itself one of the invisible ones."""
    return (
        char > "\x9f"
        and not _INVISIBLE.fullmatch(char)
        and unicodedata.category(char)[0] in "LMNPS"
    )


def clock(seconds: int | float) -> str:
    """``mm:ss`` (``h:mm:ss`` from an hour on), truncated to the second; the HUD and the debrief."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def duration(seconds: int | float) -> str:
    """A span for people to read, to the second under an hour (``7m 36s``), else to the minute
    (``3h 00m``); progress's stats and report."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def wrap(text: str, width: int, first_indent: str = "", indent: str = "") -> list[str]:
    """Wrap each paragraph of ``text`` to ``width``; blank lines are kept, long words broken.

    ``first_indent`` begins the first line, ``indent`` every other (a hanging indent for a
    numbered hint or a bullet).
    """
    out: list[str] = []
    for paragraph in text.split("\n"):
        if not paragraph.strip():
            out.append("")
            continue
        out += textwrap.wrap(
            paragraph,
            width=width,
            initial_indent=first_indent if not out else indent,
            subsequent_indent=indent,
            break_long_words=True,
            break_on_hyphens=False,
        ) or [""]
    return out
