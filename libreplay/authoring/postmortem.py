"""Drafting a scenario's text from a post-mortem written in Markdown.

:func:`read_postmortem` reads a blameless post-mortem (docs/postmortems.md is the format) and
returns a :class:`Draft`: the title, a page that never names the root cause, graded hints,
learning objectives, tags, the incident date and the debrief. It is plain text processing:
deterministic, no network, no model. The author edits the result; every field may be empty, and
what could not be drafted is said in ``warnings``.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from libreplay.core.errors import InvalidInput
from libreplay.core.text import inert

MAX_BYTES = 1 << 20  # a post-mortem is a document, not a log dump
PAGE_MAX = 300
HINT_MAX = 300
ITEM_MAX = 240  # one objective or follow-up
PROSE_MAX = 1200  # the debrief's fix and why
TITLE_MAX = 120
# What is read of a long document: the start of each section and of each heading (a draft needs
# no more, and it bounds the work a 1 MiB file can cause).
SECTION_MAX = 20_000
HEADING_MAX = 1_000
MAX_HINTS = 4
MIN_HINTS = 2
MAX_TAGS = 6
MAX_OBJECTIVES = 6
MAX_FOLLOW_UPS = 8


@dataclass(frozen=True)
class Draft:
    """What a post-mortem gives a new scenario; every field may be empty. The author edits the result."""

    title: str | None
    page: str | None
    hints: tuple[str, ...]
    objectives: tuple[str, ...]
    tags: tuple[str, ...]
    incident_date: str | None
    reference: str | None
    fix: str | None
    why: str | None
    follow_ups: tuple[str, ...]
    warnings: tuple[str, ...]


# --- the sections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SectionKind:
    key: str
    name: str  # as a warning shows it
    synonyms: tuple[str, ...]  # lower-case, words separated by one space


SECTIONS = (
    _SectionKind(
        "summary",
        "Summary",
        ("summary", "overview", "tl;dr", "executive summary", "what happened", "description"),
    ),
    _SectionKind("impact", "Impact", ("impact", "customer impact", "user impact", "effect")),
    _SectionKind(
        "timeline", "Timeline", ("timeline", "chronology", "sequence of events", "detection")
    ),
    _SectionKind(
        "root_cause",
        "Root cause",
        (
            "root cause", "root causes", "cause", "causes", "contributing factors",
            "what went wrong", "analysis",
        ),
    ),
    _SectionKind(
        "resolution",
        "Resolution",
        ("resolution", "mitigation", "remediation", "fix", "recovery", "how it was fixed"),
    ),
    _SectionKind(
        "lessons",
        "Lessons learned",
        ("lessons learned", "lessons", "what went well", "what went badly", "learnings"),
    ),
    _SectionKind(
        "action_items",
        "Action items",
        (
            "action items", "follow-ups", "follow ups", "next steps", "corrective actions",
            "todo",
        ),
    ),
)
# Words around a section's name that do not change what the section is: "Incident summary",
# "Root cause and contributing factors", "Timeline of the outage".
FILLER_WORDS = frozenset(
    {"a", "an", "and", "the", "of", "our", "this", "incident", "outage", "event", "brief",
     "detailed", "initial", "final", "primary", "key", "short", "full", "technical"}
)
_NUMBERING = re.compile(r"^\s*(?:(?:\d+(?:\.\d+)*|[ivx]+|[a-h])[.):]|\d+(?:\.\d+)*)\s*[-\u2013—]?\s+")
_HEADING_WORD = re.compile(r"tl;dr|[^\W_]+(?:-[^\W_]+)*")


def _heading_words(text: str) -> list[str]:
    """A heading's words, lower-case, without numbering ("3) Timeline") or punctuation."""
    text = _NUMBERING.sub("", text.lower().replace("(s)", "s") + " ", count=1)
    text = re.sub(r"\([^)]*\)", " ", text)  # "Timeline (all times UTC)"
    words: list[str] = []
    for word in _HEADING_WORD.findall(text):
        words += [word] if word == "tl;dr" else word.split("-")
    return words


def _section_keys(heading: str) -> tuple[str, ...]:
    """The sections a heading names: its words must be synonyms ("Root cause analysis",
    "Lessons learned and action items") or filler words ("Incident summary")."""
    words = _heading_words(heading)
    keys: list[str] = []
    at = 0
    while at < len(words):
        match = _longest_synonym(words, at)
        if match is not None:
            key, length = match
            keys += [key] if key not in keys else []
            at += length
        elif words[at] in FILLER_WORDS:
            at += 1
        else:
            return ()
    return tuple(keys)


def _longest_synonym(words: Sequence[str], at: int) -> tuple[str, int] | None:
    best: tuple[str, int] | None = None
    for kind in SECTIONS:
        for synonym in kind.synonyms:
            parts = synonym.replace("-", " ").split()
            if words[at:at + len(parts)] == parts and (best is None or len(parts) > best[1]):
                best = (kind.key, len(parts))
    return best


# --- reading and parsing -----------------------------------------------------------------------

_EXPECTED = (
    "expected a post-mortem in Markdown: a '# Title' and sections such as '## Summary', "
    "'## Timeline', '## Root cause', '## Resolution' (docs/postmortems.md)"
)


def _read_text(path: Path) -> str:
    """The file's text, or InvalidInput naming the file and saying what is expected."""
    data = _read_bounded(path)
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"{path}: larger than {MAX_BYTES // 1024} KiB; {_EXPECTED}")
    if not data:
        raise InvalidInput(f"{path}: the file is empty; {_EXPECTED}")
    if b"\x00" in data:
        raise InvalidInput(f"{path}: binary data (NUL bytes), not text; {_EXPECTED}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8 Markdown"
        ) from None
    if not text.strip():
        raise InvalidInput(f"{path}: the file holds only white space; {_EXPECTED}")
    return text


def _read_bounded(path: Path) -> bytes:
    """At most MAX_BYTES + 1 bytes of a regular file. Opened without blocking and checked on the
    open descriptor, so a FIFO or device put in the file's place after a look never blocks us."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise InvalidInput(f"{path}: not a regular file; {_EXPECTED}")
    with os.fdopen(descriptor, "rb") as handle:
        try:
            return handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot be read ({exc.strerror})") from None


@dataclass(frozen=True)
class _Line:
    text: str
    code: bool = False  # inside a fenced code block: not prose


@dataclass
class _Document:
    title: str | None = None
    headings: int = 0
    sections: dict[str, list[_Line]] = field(default_factory=dict)
    lines: list[_Line] = field(default_factory=list)  # every line that is not a heading


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)


def _without_comments(text: str) -> str:
    """HTML comments removed, keeping their line breaks so that lines stay where they were."""
    return _COMMENT.sub(lambda match: "\n" * match.group().count("\n"), text)


_FRONT_MATTER = re.compile(r"\A---\n(?=[A-Za-z_][\w -]*:)(?:.*\n)*?(?:---|\.\.\.)\n")
_THEMATIC_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")


def _parse(text: str) -> _Document:
    text = _without_comments(inert(text.replace("\r\n", "\n").replace("\r", "\n")))
    parser = _Parser()
    front_matter = _FRONT_MATTER.match(text + "\n")
    if front_matter:  # YAML front matter: its lines ("date: 2023-03-14") are read, never headings
        parser.document.lines += [_Line(line) for line in front_matter.group().split("\n")]
        text = text[front_matter.end():]
    for raw in text.split("\n"):
        parser.feed(raw)
    return parser.document


class _Parser:
    """Reads a document line by line: headings open sections, other lines go to the open ones."""

    def __init__(self) -> None:
        self.document = _Document()
        self.open_keys: tuple[str, ...] = ()
        self.open_level = 0
        self.paragraph = 0  # lines of the paragraph read so far: a setext underline heads them
        self.fence: str | None = None

    def feed(self, raw: str) -> None:
        fence_match = _FENCE.match(raw)
        if self.fence is not None or fence_match:
            if self.fence is None and fence_match:
                self.fence = fence_match.group(1)[:3]
            elif self.fence is not None and raw.strip().startswith(self.fence):
                self.fence = None
            self._add(_Line(raw, code=True))
            self.paragraph = 0
            return
        heading = _atx_heading(raw) or self._setext_heading(raw)
        if heading is not None:
            self.paragraph = 0
            self._heading(*heading)
        elif _THEMATIC_BREAK.match(raw):  # (dashes under a paragraph were a setext heading)
            self._add(_Line(""))  # a rule separates, like a blank line
            self.paragraph = 0
        else:
            self._add(_Line(raw))
            self.paragraph = self.paragraph + 1 if raw.strip() else 0

    def _setext_heading(self, raw: str) -> tuple[int, str] | None:
        """The paragraph just read, when ``raw`` underlines it (=== or ---); as in CommonMark a
        list item, quote or table row followed by dashes is not a heading."""
        if not self.paragraph or not _SETEXT.match(raw):
            return None
        lines = self.document.lines[-self.paragraph:]
        first = lines[0].text
        if _LIST_MARK.match(first) or _QUOTE.match(first) or "|" in first:
            return None
        del self.document.lines[-self.paragraph:]
        for key in self.open_keys:
            del self.document.sections[key][-self.paragraph:]
        return (1 if raw.strip()[0] == "=" else 2), " ".join(line.text.strip() for line in lines)

    def _heading(self, level: int, text: str) -> None:
        """A known section opens; an unknown heading closes the open section unless it is below
        it (a timeline's "### 14:02 alert fires" stays in it as an entry)."""
        self.document.headings += 1
        text = text[:HEADING_MAX]
        keys = _section_keys(_plain(text))
        if keys:
            self.open_keys, self.open_level = keys, level
        elif self.open_keys and level > self.open_level:
            if _TIME.search(text) or _find_date(text)[0]:
                for line in ("", text, ""):
                    self._add(_Line(line))
        else:
            self.open_keys = ()
        if level == 1 and not keys and self.document.title is None:
            self.document.title = text

    def _add(self, line: _Line) -> None:
        self.document.lines.append(line)
        for key in self.open_keys:
            self.document.sections.setdefault(key, []).append(line)


def _atx_heading(raw: str) -> tuple[int, str] | None:
    match = _ATX.match(raw)
    if match is None:
        return None
    return len(match.group(1)), (match.group(2) or "").strip()


# --- plain text --------------------------------------------------------------------------------

# Bounded spans (at most SPAN characters inside a link, code span or emphasis) keep every
# pattern linear: an unclosed `**` or `[` in a 1 MiB file must not be searched for to the end
# from each of its occurrences.
SPAN = 500
_IMAGE = re.compile(rf"!\[([^\]\n]{{0,{SPAN}}})\]\([^)\n]{{0,{SPAN}}}\)")
_LINK = re.compile(rf"\[([^\]\n]{{1,{SPAN}}})\]\([^)\n]{{0,{SPAN}}}\)")
_REF_LINK = re.compile(rf"\[([^\]\n]{{1,{SPAN}}})\]\[[^\]\n]{{0,{SPAN}}}\]")
_AUTOLINK = re.compile(rf"<((?:https?|ftp)://[^>\s]{{1,{SPAN}}}|mailto:[^>\s]{{1,{SPAN}}})>")
_HTML_TAG = re.compile(
    r"</?(?:a|b|i|u|s|em|strong|code|kbd|sup|sub|span|div|p|br|hr|img|del|ins|mark|small|"
    rf"details|summary|font|center|tt|pre|blockquote)\b[^<>\n]{{0,{SPAN}}}>",
    re.IGNORECASE,
)
_CODE_SPAN = re.compile(rf"(`+)(.{{1,{SPAN}}}?)\1")
_STRONG = re.compile(rf"(\*\*|__)(?=\S)(.{{1,{SPAN}}}?)(?<=\S)\1")
_EMPHASIS = re.compile(
    rf"(?<![\w*])\*(?=\S)(.{{1,{SPAN}}}?)(?<=\S)\*(?![\w*])"
    rf"|(?<![\w])_(?=\S)(.{{1,{SPAN}}}?)(?<=\S)_(?!\w)"
)
_STRIKE = re.compile(rf"~~(?=\S)(.{{1,{SPAN}}}?)(?<=\S)~~")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_SPACE = re.compile(r"\s+")


def _plain(markdown: str) -> str:
    """One line of plain text from inline Markdown: links become their text, emphasis goes,
    `code` keeps its backticks, entities are decoded, no control character is left."""
    text = _IMAGE.sub(r"\1", markdown)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    parts: list[str] = []
    at = 0
    for span in _CODE_SPAN.finditer(text):
        parts.append(_plain_prose(text[at:span.start()]))
        parts.append("`" + _SPACE.sub(" ", span.group(2)).strip() + "`")
        at = span.end()
    parts.append(_plain_prose(text[at:]))
    return _SPACE.sub(" ", inert("".join(parts), keep_newlines=False)).strip()


def _plain_prose(text: str) -> str:
    text = _HTML_TAG.sub(" ", text)
    for _ in range(3):  # nested emphasis: ***x***, **_x_**
        text = _STRONG.sub(r"\2", text)
        text = _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)
        text = _STRIKE.sub(r"\1", text)
    return html.unescape(_ESCAPED.sub(r"\1", text))


def _section_start(lines: Sequence[_Line]) -> tuple[list[_Line], bool]:
    """The first SECTION_MAX characters of a section's lines, and whether that is not all."""
    kept: list[_Line] = []
    total = 0
    for line in lines:
        if total + len(line.text) > SECTION_MAX:
            kept.append(_Line(line.text[: SECTION_MAX - total], line.code))
            return kept, True
        kept.append(line)
        total += len(line.text) + 1
    return kept, False


def _items(lines: Sequence[_Line]) -> list[str]:
    """A section's prose as items: each list item, table row or paragraph, in plain text.
    In a paragraph, a line that starts with a time starts a new item (a timeline as lines)."""
    items: list[str] = []
    current: list[str] = []
    last_was_row = False

    def flush() -> None:
        if current:
            items.append(_plain(" ".join(current)))
            current.clear()

    for line in lines:
        raw = _QUOTE.sub("", line.text)
        if line.code or not raw.strip() or _LINK_DEFINITION.match(raw):
            flush()
            last_was_row = False
            continue
        if _TABLE_RULE.match(raw):
            if last_was_row and items:
                items.pop()  # the header row ("Time | Event") is not an item
            last_was_row = False
            continue
        if raw.lstrip().startswith("|"):
            flush()
            cells = [cell.strip() for cell in raw.strip().strip("|").split("|")]
            items.append(_plain(" — ".join(cell for cell in cells if cell)))
            last_was_row = True
            continue
        last_was_row = False
        marker = _LIST_MARK.match(raw)
        if marker:
            flush()
            raw = raw[marker.end():]
        elif _TIME_FIRST.match(_plain(raw[:40])):
            flush()
        current.append(raw.strip())
    flush()
    return [item for item in items if item and not item.endswith(":")]


_LINK_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s*\S+")
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(`A-Z0-9])")


def _sentences(items: Iterable[str]) -> list[str]:
    return [part.strip() for item in items for part in _SENTENCE_END.split(item) if part.strip()]


def _as_sentence(text: str) -> str:
    return text if text[-1] in ".!?…" else text + "."


def _fit(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:—-") + "…"


# --- dates and times ---------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        (("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")),
        start=1,
    )
    for name in names
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_DATE_PATTERNS = (
    (re.compile(r"(?<!\d)(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?!\d)"), "ymd"),
    (re.compile(rf"(?<!\d){_DAY}\s+{_MONTH},?\s+(\d{{4}})(?!\d)", re.IGNORECASE), "dmy"),
    (re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+(\d{{4}})(?!\d)", re.IGNORECASE), "mdy"),
)
_TIME = re.compile(r"(?<![\d:])(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?![\d:])")
_TIME_FIRST = re.compile(r"^\W{0,3}(?:\d{4}[-/]\d{1,2}[-/]\d{1,2}[T ]?)?(?:[01]?\d|2[0-3]):[0-5]\d")
_DATE_LINE_START = re.compile(r"^\W{0,8}(?:incident date|date|when|occurred)", re.IGNORECASE)
_DATE_LINE = re.compile(
    r"^(?:incident date|date of (?:the )?incident|date|when|occurred(?: on)?)\s*(?:\([^)]*\))?"
    r"\s*[:|—\u2013-]\s*(.+)$",
    re.IGNORECASE,
)


def _find_date(text: str) -> tuple[str | None, str | None]:
    """The first date written in ``text`` as YYYY-MM-DD, and the text of the first impossible
    one met before it (for a warning)."""
    found: list[tuple[int, str, tuple[int, int, int]]] = []
    for pattern, order in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            groups = match.groups()
            if order == "ymd":
                year, month, day = int(groups[0]), int(groups[1]), int(groups[2])
            elif order == "dmy":
                day, month, year = int(groups[0]), _MONTHS[groups[1].lower()], int(groups[2])
            else:
                month, day, year = _MONTHS[groups[0].lower()], int(groups[1]), int(groups[2])
            found.append((match.start(), match.group(), (year, month, day)))
    impossible: str | None = None
    for _, written, (year, month, day) in sorted(found):
        try:
            return dt.date(year, month, day).isoformat(), impossible
        except ValueError:
            impossible = impossible or written
    return None, impossible


_LEADING_TIME = re.compile(
    r"^\W{0,3}(?:\d{4}[-/]\d{1,2}[-/]\d{1,2}[T ]?)?(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
    r"(?:\s*(?:UTC|utc|GMT|Z|[A-Z]{1,4}T)\b)?[\s:|,.*)\]\u2013\u2014-]*"
)


def _strip_time(text: str) -> str:
    """A timeline entry without its leading date and time ("14:02 UTC —")."""
    return _LEADING_TIME.sub("", text).strip()


# --- words: what names the root cause ----------------------------------------------------------

STOP_WORDS = frozenset(
    [
        "about", "above", "after", "again", "against", "also", "among", "around", "been", "before",
        "being", "below", "between", "both", "could", "didn", "does", "doing", "done", "down", "during",
        "each", "either", "every", "from", "further", "have", "having", "here", "into", "itself",
        "just", "like", "made", "make", "many", "more", "most", "much", "must", "only", "other", "over",
        "same", "should", "some", "such", "than", "that", "their", "them", "then", "there", "these",
        "they", "this", "those", "through", "under", "until", "very", "were", "what", "when", "where",
        "which", "while", "will", "with", "within", "without", "would", "your", "ours", "still",
        "today", "yesterday", "hour", "hours", "minute", "minutes", "second", "seconds", "time",
        "times", "incident", "incidents", "outage", "issue", "issues", "problem", "problems", "team",
        "someone", "something", "nothing", "everything", "error", "errors", "request", "requests",
        "response", "responses", "user", "users", "customer", "customers", "service", "services",
        "system", "systems",
    ]
)
# Short words that name a cause as surely as long ones do.
SHORT_DISTINCTIVE = frozenset({"dns", "tls", "ssl", "oom", "cpu", "nfs", "ntp", "k8s", "ttl", "vpn"})
CAUSAL = re.compile(
    r"\b(?:because|due to|caused|root cause|as a result of|triggered by|owing to|led to|the cause)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+")


def _word_key(word: str) -> str:
    """Two words are the same when their first six letters are (upstream/upstreams,
    config/configuration); a crude stem that errs towards matching, the safe side here."""
    if len(word) < 6 and len(word) > 4 and word.endswith("s"):
        word = word[:-1]
    return word[:6]


def _distinctive(text: str) -> set[str]:
    keys = set()
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS or re.fullmatch(r"(?:19|20)\d\d", word):
            continue
        if len(word) >= 4 or word in SHORT_DISTINCTIVE:
            keys.add(_word_key(word))
    return keys


class _CauseWords:
    """The distinctive words of the root cause and the resolution, asked whether a word is one of
    them, begins one or is begun by one ("cert" names the same thing as "certificate"). Every
    word's prefixes are indexed, so that a long cause section costs no more per question."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(words)
        self.prefixes = frozenset(word[:end] for word in self.words for end in range(3, len(word)))

    def related(self, word: str) -> bool:
        if word in self.words or word in self.prefixes:
            return True
        return any(word[:end] in self.words for end in range(3, len(word)))


@dataclass(frozen=True)
class _CauseFilter:
    """Tells whether a sentence may be in the page: it must share no distinctive word with the
    root cause or the resolution (words of the impact are symptoms, so they do not count), and
    must not explain (because, due to, caused …)."""

    cause: _CauseWords

    @classmethod
    def of(cls, cause_text: str, impact_sentences: Sequence[str]) -> _CauseFilter:
        symptoms: set[str] = set()
        for sentence in impact_sentences:
            if not CAUSAL.search(sentence):
                symptoms |= _distinctive(sentence)
        related_to_symptom = _CauseWords(symptoms).related
        cause = _distinctive(cause_text)
        return cls(_CauseWords(word for word in cause if not related_to_symptom(word)))

    def allows(self, sentence: str) -> bool:
        if CAUSAL.search(sentence):
            return False
        return not any(self.cause.related(word) for word in _distinctive(sentence))


# --- tags --------------------------------------------------------------------------------------

TAG_VOCABULARY: tuple[tuple[str, str], ...] = (
    ("nginx", r"nginx"),
    ("apache", r"apache|httpd"),
    ("haproxy", r"haproxy"),
    ("envoy", r"envoy"),
    ("postgres", r"postgres(?:ql)?|psql|pgbouncer"),
    ("mysql", r"mysql|mariadb"),
    ("redis", r"redis"),
    ("memcached", r"memcached?"),
    ("mongodb", r"mongo(?:db)?"),
    ("elasticsearch", r"elasticsearch|opensearch"),
    ("kafka", r"kafka"),
    ("rabbitmq", r"rabbitmq"),
    ("sidekiq", r"sidekiq"),
    ("celery", r"celery"),
    ("dns", r"dns|nameservers?|resolv\.conf"),
    ("tls", r"tls|ssl|certificates?|certs?"),
    ("disk", r"disks?|inodes?|no space left|disk space|filesystem full"),
    ("memory", r"memory"),
    ("oom", r"oom(?:-?killer|-?killed)?|out of memory"),
    ("cpu", r"cpu"),
    ("network", r"network|firewall|iptables|packet loss"),
    ("load-balancer", r"load[- ]balancers?"),
    ("reverse-proxy", r"reverse[- ]prox(?:y|ies)|upstreams?"),
    ("kubernetes", r"kubernetes|k8s|kubectl"),
    ("docker", r"docker"),
    ("systemd", r"systemd"),
    ("cron", r"cron(?:job|tab)?s?"),
    ("config-management", r"config(?:uration)? management|ansible|puppet|chef|saltstack"),
    ("database", r"databases?"),
    ("cache", r"cache|caching"),
    ("replication", r"replication|replicas?|failover"),
    ("timeout", r"time-?outs?|timed out"),
    ("rate-limit", r"rate[- ]limit(?:s|ed|ing)?"),
    ("connection-pool", r"connection pool|too many connections"),
    ("migration", r"migrations?"),
    ("backup", r"backups?"),
    ("ntp", r"ntp|clock skew|clock drift"),
    ("http", r"http"),
    ("502", r"502|bad gateway"),
    ("503", r"503"),
    ("504", r"504|gateway time-?out"),
)
_TAG_PATTERNS = tuple(
    (tag, re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.IGNORECASE))
    for tag, pattern in TAG_VOCABULARY
)


def _tags(text: str) -> tuple[str, ...]:
    """Vocabulary words found in the text: the most mentioned first, then the first mentioned."""
    found = []
    for tag, pattern in _TAG_PATTERNS:
        positions = [match.start() for match in pattern.finditer(text)]
        if positions:
            found.append((-len(positions), positions[0], tag))
    return tuple(tag for _, _, tag in sorted(found)[:MAX_TAGS])


# --- the draft ---------------------------------------------------------------------------------

_ALERT = re.compile(
    r"\b(?:alert\w*|alarm\w*|pag(?:e|ed|es|ing|er)|pagerduty|opsgenie|reports?|reported|"
    r"notic(?:e|ed|es)|5xx|50[0-4]|error rate|errors?|fired|fires|triggered|complain\w*|on-?call)\b",
    re.IGNORECASE,
)
_DENIED_ALERT = re.compile(r"\b(?:no|not|never|without)\s+(?:\w+\s+)?" + _ALERT.pattern, re.IGNORECASE)
_INVESTIGATION = re.compile(
    r"\b(?:check(?:s|ed|ing)?|look(?:s|ed|ing)?|inspect\w*|investigat\w*|examin\w*|review\w*|"
    r"grep\w*|tail\w*|reads?|curl\w*|dig|ssh|quer(?:y|ies|ied)|diff|compar\w*|confirm\w*|"
    r"probe[sd]?|test(?:s|ed)?|verif\w*)\b",
    re.IGNORECASE,
)
_TITLE_PREFIX = re.compile(
    r"^(?:post[- ]?mortem|incident (?:report|review|post[- ]?mortem)|post[- ]incident review|"
    r"pir|rca|retrospective)\b\s*(?:[:|—\u2013-]\s*|$)",
    re.IGNORECASE,
)


def read_postmortem(path: Path) -> Draft:
    """Raise InvalidInput (libreplay.core.errors) naming the file for: missing/unreadable file,
    empty (or only whitespace), not Markdown text (binary/NUL bytes, not UTF-8, or no Markdown
    heading at all — say what is expected), absurdly large (more than 1 MiB)."""
    document = _parse(_read_text(path))
    if not document.headings:
        raise InvalidInput(f"{path}: no Markdown heading found; {_EXPECTED}")
    # the name goes into the draft (warnings, reference): no control character from it either
    return _Drafter(document, _SPACE.sub(" ", inert(path.name, keep_newlines=False))).draft()


class _Drafter:
    """Turns a parsed document into a :class:`Draft`, collecting warnings as it goes."""

    def __init__(self, document: _Document, file_name: str) -> None:
        self.document = document
        self.file_name = file_name
        self.warnings: list[str] = []
        self.items: dict[str, list[str]] = {}
        for kind in SECTIONS:
            lines, cut = _section_start(document.sections.get(kind.key, []))
            self.items[kind.key] = _items(lines)
            if cut:
                self.warn(f"the '{kind.name}' section is longer than {SECTION_MAX} characters: "
                          "only its start was read")
            if not self.items[kind.key]:
                self._missing(kind)

    def _missing(self, kind: _SectionKind) -> None:
        found = "no" if kind.key not in self.document.sections else "an empty"
        accepted = ", ".join(synonym[0].upper() + synonym[1:] for synonym in kind.synonyms)
        self.warn(f"{found} '{kind.name}' section (headings accepted: {accepted})")

    def warn(self, text: str) -> None:
        self.warnings.append(f"{self.file_name}: {text}")

    def draft(self) -> Draft:
        heading = _plain(self.document.title) if self.document.title else ""
        title = self._title(heading)
        root_cause, resolution = self.items["root_cause"], self.items["resolution"]
        lessons, actions = self.items["lessons"], self.items["action_items"]
        page = self._page()
        hints = self._hints()
        date = self._incident_date()
        return Draft(
            title=title,
            page=page,
            hints=hints,
            objectives=_short_items(lessons or actions, MAX_OBJECTIVES, first_sentence=True),
            tags=self._tags(heading),
            incident_date=date,
            reference=_fit(heading, TITLE_MAX) if heading else self.file_name,
            fix=_prose(resolution),
            why=_prose(root_cause),
            follow_ups=_short_items(actions or lessons, MAX_FOLLOW_UPS, first_sentence=False),
            warnings=tuple(self.warnings),
        )

    def _tags(self, heading: str) -> tuple[str, ...]:
        """From what the incident was (title, summary, impact, root cause, resolution), not from
        every tool the timeline mentions; from the other sections when those say nothing."""
        keys = ("summary", "impact", "root_cause", "resolution")
        text = "\n".join([heading, *(item for key in keys for item in self.items[key])])
        others = "\n".join(item for key in self.items if key not in keys for item in self.items[key])
        return _tags(text) or _tags(others)

    def _title(self, heading: str) -> str | None:
        title = heading
        while _TITLE_PREFIX.match(title):
            title = _TITLE_PREFIX.sub("", title, count=1).strip()
        if not heading:
            self.warn("no first-level heading ('# Title') to draft the title from")
            return None
        if not title:
            self.warn(f"the first-level heading '{heading}' is no title: write one")
            return None
        return _fit(title, TITLE_MAX)

    def _page(self) -> str | None:
        """Symptoms only: the first alert of the timeline, then the impact, then the summary,
        each sentence kept only if the cause filter allows it, whole sentences up to PAGE_MAX."""
        impact = _sentences(self.items["impact"])
        cause = " ".join(self.items["root_cause"] + self.items["resolution"])
        allowed = _CauseFilter.of(cause, impact).allows
        alert = self._first_alert()
        alert_sentences = (
            _sentences([_strip_time(self.items["timeline"][alert])]) if alert is not None else []
        )
        candidates = alert_sentences + impact + _sentences(self.items["summary"])
        page = ""
        for sentence in candidates:
            if not allowed(sentence) or sentence in page:
                continue
            longer = f"{page} {_as_sentence(sentence)}".strip()
            if len(longer) > PAGE_MAX:
                if not page:
                    page = _fit(_as_sentence(sentence), PAGE_MAX)
                break
            page = longer
        if not page:
            self.warn("no page drafted: no alert, impact or summary sentence that keeps the root "
                      "cause out of it; write the page yourself")
            return None
        return page

    def _first_alert(self) -> int | None:
        """Where the timeline's first alert is: an entry with a time and a word such as alert,
        paged, reported or 5xx that is not denied ("no alert fired")."""
        for at, item in enumerate(self.items["timeline"]):
            if _TIME.search(item) and _ALERT.search(_DENIED_ALERT.sub("", item)):
                return at
        return None

    def _hints(self) -> tuple[str, ...]:
        """Graded: where to look (the first investigation step of the timeline, else the area of
        the root cause), a narrower step, what is wrong, and last the answer."""
        timeline = [_strip_time(item) for item in self.items["timeline"]]
        alert = self._first_alert()
        after_alert = 0 if alert is None else alert + 1
        steps = [item for item in timeline[after_alert:] if item and _INVESTIGATION.search(item)]
        root_cause = _sentences(self.items["root_cause"])
        answer = _sentences(self.items["resolution"])[:1]
        graded: list[str] = []
        if steps:
            graded.append(steps[0])
        elif root_cause and (areas := _tags(" ".join(root_cause))):
            graded.append(f"Start with {', '.join(areas[:2])}.")
        if len(steps) > 1:
            graded.append(steps[1])
        graded += root_cause[:1] + answer
        hints: list[str] = []
        for fitted in (_fit(_as_sentence(hint), HINT_MAX) for hint in graded):
            if fitted not in hints:
                hints.append(fitted)
        if len(hints) < MIN_HINTS:
            self.warn(f"only {len(hints)} hint(s) drafted, a scenario usually has "
                      f"{MIN_HINTS}-{MAX_HINTS}: write more")
        return tuple(hints)

    def _incident_date(self) -> str | None:
        """From a date line ("Date: 14 March 2023") first, else the timeline's first dated entry."""
        lines = [
            _plain(_LIST_MARK.sub("", line.text[:HEADING_MAX])).lstrip("| ")
            for line in self.document.lines
            if not line.code and _DATE_LINE_START.match(line.text)
        ]
        candidates = [match.group(1) for line in lines if (match := _DATE_LINE.match(line))]
        candidates += self.items["timeline"]
        for text in candidates:
            date, impossible = _find_date(text)
            if impossible:
                self.warn(f"impossible date '{impossible}' ignored")
            if date:
                return date
        self.warn("no incident date: add a line such as 'Date: 2023-03-14'")
        return None


def _short_items(items: Sequence[str], limit: int, *, first_sentence: bool) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        text = _sentences([item])[0] if first_sentence else item
        text = _fit(text.rstrip(".;"), ITEM_MAX)
        if text and text not in out:
            out.append(text)
    return tuple(out[:limit])


def _prose(items: Sequence[str]) -> str | None:
    if not items:
        return None
    return _fit(" ".join(_as_sentence(item) for item in items), PROSE_MAX)
