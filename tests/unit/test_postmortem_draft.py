"""read_postmortem: a Markdown post-mortem becomes a scenario draft (docs/postmortems.md)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path

import pytest

from libreplay.authoring.postmortem import SECTIONS, Draft, read_postmortem
from libreplay.core.errors import InvalidInput

DOCS = Path(__file__).resolve().parents[2] / "docs"
SAMPLE = DOCS / "examples" / "postmortem-checkout-502.md"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

FULL = """\
# Post-mortem: Login failures

Date: 2024-05-02

## Summary

Users could not log in for 20 minutes. The session store ran out of memory and evicted keys.

## Impact

About 3,000 users could not log in.

## Timeline

- 10:00 Alert fired: login error rate above 10%.
- 10:05 On-call checks the login service logs.
- 10:20 Resolved.

## Root cause

The session store ran out of memory and evicted keys.

## Resolution

We raised the memory limit of the session store.

## Lessons learned

- Watch memory of the session store.

## Action items

- Alert on evictions.
"""


def write(tmp_path: Path, text: str | bytes, name: str = "postmortem.md") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def draft_of(tmp_path: Path, text: str) -> Draft:
    return read_postmortem(write(tmp_path, text))


def strings(draft: Draft) -> list[str]:
    """Every string of a draft."""
    out: list[str] = []
    for value in vars(draft).values():
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, tuple):
            out += value
    return out


# --- the sample ---------------------------------------------------------------------------------


def test_sample_gives_every_field() -> None:
    draft = read_postmortem(SAMPLE)
    assert draft.title == "Checkout failing with 502 Bad Gateway"
    assert draft.reference == "Post-mortem: Checkout failing with 502 Bad Gateway"
    assert draft.incident_date == "2023-03-14"
    assert draft.warnings == ()
    assert draft.page is not None and len(draft.page) <= 300
    assert "502" in draft.page and "checkout" in draft.page.lower()
    assert draft.page.startswith("PagerDuty pages the on-call SRE")  # the first alert, no time
    assert draft.fix is not None and draft.fix.startswith("We set the upstream")
    assert draft.why is not None and "3001" in draft.why and "rendered file for each host" in draft.why
    assert draft.objectives[2] == "`nginx -t` proves that a file is valid, not that it is right"
    assert len(draft.objectives) == 4 and len(draft.follow_ups) == 4
    assert draft.follow_ups[0].startswith("Show the rendered per-host diff")
    assert not any(item.startswith("[") for item in draft.follow_ups)  # checkboxes gone
    # "backup" is in the timeline only: tags say what the incident was about
    assert draft.tags == ("nginx", "502", "reverse-proxy", "config-management", "http")


def test_sample_page_never_names_the_root_cause() -> None:
    page = read_postmortem(SAMPLE).page
    assert page is not None
    for word in ("upstream", "3001", "3000", "config management", "ansible", "template",
                 "variable", "inventory", "port", "nginx", "reload"):
        assert not re.search(rf"\b{word}\b", page, re.IGNORECASE), word


def test_sample_hints_are_graded_and_end_with_the_answer() -> None:
    draft = read_postmortem(SAMPLE)
    assert 2 <= len(draft.hints) <= 4
    assert draft.hints[0].startswith("Priya checks the nginx error log")  # where to look
    assert draft.hints[-2] == (
        "The nginx upstream for checkout is rendered by config management from a template."
    )
    assert draft.hints[-1].startswith("We set the upstream in `/etc/nginx/conf.d/checkout.conf`")
    assert "app:3000" in draft.hints[-1]  # the answer


def test_the_documented_example_is_the_sample_s_draft() -> None:
    text = (DOCS / "postmortems.md").read_text(encoding="utf-8")
    example = json.loads(text.split("## Example", 1)[1].split("```json\n", 1)[1].split("```")[0])
    draft = json.loads(json.dumps(dataclasses.asdict(read_postmortem(SAMPLE))))  # tuples as lists
    assert example == {key: draft[key] for key in example}
    assert len(example) >= 7


def test_the_draft_is_deterministic(tmp_path: Path) -> None:
    first = read_postmortem(SAMPLE)
    assert read_postmortem(SAMPLE) == first
    copy = write(tmp_path, SAMPLE.read_text(encoding="utf-8"))
    again = read_postmortem(copy)
    assert (again.title, again.page, again.hints, again.tags) == (
        first.title, first.page, first.hints, first.tags
    )


def test_every_string_is_plain_and_bounded() -> None:
    draft = read_postmortem(SAMPLE)
    for text in strings(draft):
        assert text == text.strip() and text
        assert "  " not in text and "\n" not in text and not CONTROL.search(text)
        assert "**" not in text and "<!--" not in text
    assert all(re.fullmatch(r"[a-z0-9-]+", tag) for tag in draft.tags)
    assert len(draft.tags) <= 6


def test_a_short_post_mortem(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, FULL)
    assert draft.page == (
        "Alert fired: login error rate above 10%. About 3,000 users could not log in. "
        "Users could not log in for 20 minutes."
    )
    assert draft.hints == (
        "On-call checks the login service logs.",
        "The session store ran out of memory and evicted keys.",
        "We raised the memory limit of the session store.",
    )
    assert draft.objectives == ("Watch memory of the session store",)
    assert draft.follow_ups == ("Alert on evictions",)
    assert draft.warnings == ()


# --- headings -----------------------------------------------------------------------------------


def test_headings_in_other_cases_numbered_and_setext(tmp_path: Path) -> None:
    text = (
        "Login failures\n==============\n\nDate: 2024-05-02\n\n"
        "1. SUMMARY:\n-----------\n\nUsers could not log in.\n\n"
        "## 2) impact\n\nAbout 3,000 users could not log in.\n\n"
        "### 3. Timeline (all times UTC) ###\n\n- 10:00 Alert fired: login errors.\n\n"
        "## IV. Root Cause(s)\n\nThe session store ran out of memory.\n\n"
        "## A) Resolution.\n\nWe raised the memory limit.\n\n"
        "## Lessons Learned!\n\n- Watch memory.\n\n"
        "## 7 - Action Items\n\n- Alert on evictions.\n"
    )
    draft = draft_of(tmp_path, text)
    # "1. SUMMARY" over a line of dashes is a list item in Markdown, not a heading
    assert [w for w in draft.warnings if "'Summary'" not in w] == []
    assert draft.title == "Login failures"
    assert draft.why == "The session store ran out of memory."
    assert draft.fix == "We raised the memory limit."
    assert draft.objectives == ("Watch memory",) and draft.follow_ups == ("Alert on evictions",)


def test_setext_headings(tmp_path: Path) -> None:
    text = (
        "Login failures\n===\n\nSummary\n-------\n\nUsers could not log in.\n\n"
        "Root cause\n----------\n\nThe cert expired.\n"
    )
    draft = draft_of(tmp_path, text)
    assert draft.title == "Login failures"
    assert draft.why == "The cert expired."
    assert draft.page == "Users could not log in."


@pytest.mark.parametrize(
    ("key", "synonym"),
    [(kind.key, synonym) for kind in SECTIONS for synonym in kind.synonyms],
)
def test_every_synonym_names_its_section(tmp_path: Path, key: str, synonym: str) -> None:
    name = next(kind.name for kind in SECTIONS if kind.key == key)
    draft = draft_of(tmp_path, f"# Outage\n\n## {synonym.title()}\n\nSomething at 10:00 on 2024-01-02.\n")
    missing = [w for w in draft.warnings if "section (headings accepted" in w]
    assert not any(f"'{name}'" in w for w in missing), missing
    assert len(missing) == len(SECTIONS) - 1


@pytest.mark.parametrize(
    ("heading", "field"),
    [
        ("Incident summary", "page"),
        ("Executive Summary", "page"),
        ("TL;DR", "page"),
        ("Root cause analysis", "why"),
        ("Root cause and contributing factors", "why"),
        ("How it was fixed", "fix"),
        ("Follow-ups", "follow_ups"),
        ("What went well / what went badly?", "objectives"),
    ],
)
def test_words_around_a_section_name(tmp_path: Path, heading: str, field: str) -> None:
    draft = draft_of(tmp_path, f"# Outage\n\n## {heading}\n\nUsers saw errors.\n")
    value = getattr(draft, field)
    assert value in ("Users saw errors.", ("Users saw errors",)), (heading, value)


def test_an_unknown_heading_ends_a_section(tmp_path: Path) -> None:
    text = "# Outage\n\n## Root cause\n\nThe disk filled up.\n\n## Appendix: graphs\n\nA chart.\n"
    assert draft_of(tmp_path, text).why == "The disk filled up."


def test_code_blocks_are_not_headings_nor_prose(tmp_path: Path) -> None:
    text = "# Outage\n\n## Root cause\n\nThe disk filled up.\n\n```\n# not a heading\nrm -rf /\n```\n"
    draft = draft_of(tmp_path, text)
    assert draft.why == "The disk filled up."


def test_front_matter_and_rules(tmp_path: Path) -> None:
    text = (
        "---\ntitle: ignored\ndate: 2022-11-05\n---\n# Outage\n\n## Summary\n\n"
        "Users saw errors.\n***\nNot a heading\n\n---\n\n## Root cause\n\nThe disk filled up.\n"
    )
    draft = draft_of(tmp_path, text)
    assert draft.incident_date == "2022-11-05"
    assert draft.title == "Outage"
    assert draft.page == "Users saw errors. Not a heading."
    assert draft.why == "The disk filled up."


def test_a_heading_that_is_only_a_prefix_is_no_title(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, "# Post-mortem\n\n## Summary\n\nUsers saw errors.\n")
    assert draft.title is None and draft.reference == "Post-mortem"
    assert "postmortem.md: the first-level heading 'Post-mortem' is no title: write one" in (
        draft.warnings
    )


# --- missing sections ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "heading"),
    [
        ("Summary", "## Summary"),
        ("Impact", "## Impact"),
        ("Timeline", "## Timeline"),
        ("Root cause", "## Root cause"),
        ("Resolution", "## Resolution"),
        ("Lessons learned", "## Lessons learned"),
        ("Action items", "## Action items"),
    ],
)
def test_each_missing_section_warns_and_still_drafts(tmp_path: Path, name: str, heading: str) -> None:
    start = FULL.index(heading)
    end = FULL.find("\n## ", start + 1)
    draft = draft_of(tmp_path, FULL[:start] + (FULL[end + 1:] if end != -1 else ""))
    missing = [w for w in draft.warnings if "section (headings accepted: " in w]
    assert len(missing) == 1
    assert missing[0].startswith(f"postmortem.md: no '{name}' section (headings accepted: ")
    assert draft.title == "Login failures" and draft.incident_date == "2024-05-02"
    assert draft.page is not None and "memory" not in draft.page


def test_missing_warning_names_the_accepted_headings(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, "# Outage\n\n## Summary\n\nUsers could not log in.\n")
    assert (
        "postmortem.md: no 'Root cause' section (headings accepted: Root cause, Root causes, "
        "Cause, Causes, Contributing factors, What went wrong, Analysis)"
    ) in draft.warnings
    assert draft.page == "Users could not log in." and draft.why is None and draft.hints == ()


def test_lessons_and_action_items_stand_in_for_each_other(tmp_path: Path) -> None:
    only_actions = draft_of(tmp_path, "# Outage\n\n## Action items\n\n- Alert on evictions.\n")
    assert only_actions.objectives == only_actions.follow_ups == ("Alert on evictions",)
    only_lessons = draft_of(tmp_path, "# Outage\n\n## Lessons\n\n- Watch memory.\n")
    assert only_lessons.objectives == only_lessons.follow_ups == ("Watch memory",)


def test_no_title(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, "## Summary\n\nUsers could not log in.\n")
    assert draft.title is None and draft.reference == "postmortem.md"
    assert any("no first-level heading" in w for w in draft.warnings)


# --- the page never names the root cause --------------------------------------------------------


def test_the_cert_expired_never_lands_in_the_page(tmp_path: Path) -> None:
    text = (
        "# API down\n\n## Summary\n\nClients could not reach the API. The cert expired at 09:00.\n\n"
        "## Root cause\n\nThe cert expired: its renewal job had been failing silently.\n\n"
        "## Resolution\n\nWe issued a new certificate.\n"
    )
    draft = draft_of(tmp_path, text)
    assert draft.page == "Clients could not reach the API."


def test_a_shortened_word_still_names_the_cause(tmp_path: Path) -> None:
    text = (
        "# API down\n\n## Summary\n\nThe cert lapsed. Clients saw handshake failures.\n\n"
        "## Root cause\n\nThe TLS certificate expired.\n"
    )
    assert draft_of(tmp_path, text).page == "Clients saw handshake failures."


def test_an_impact_that_explains_is_left_out(tmp_path: Path) -> None:
    text = (
        "# API down\n\n## Impact\n\nCheckout failed for everyone because the cert expired. "
        "Orders dropped by 80%.\n\n## Root cause\n\nThe cert expired.\n"
    )
    page = draft_of(tmp_path, text).page
    assert page == "Orders dropped by 80%."


def test_symptom_words_of_the_impact_stay(tmp_path: Path) -> None:
    text = (
        "# Outage\n\n## Summary\n\nThe checkout page failed. Redis was full.\n\n"
        "## Impact\n\nCheckout returned 500 for 10 minutes.\n\n"
        "## Root cause\n\nRedis ran out of memory, so checkout could not store carts.\n"
    )
    page = draft_of(tmp_path, text).page
    assert page == "Checkout returned 500 for 10 minutes. The checkout page failed."
    assert "redis" not in page.lower()


def test_the_first_alert_that_does_not_name_the_cause(tmp_path: Path) -> None:
    text = (
        "# Outage\n\n## Timeline\n\n| Time | Event |\n|---|---|\n"
        "| 09:58 | DNS record for api deleted by a cleanup script; no alert fired |\n"
        "| 10:02 | Pingdom alert: api.example.com unreachable |\n"
        "| 10:10 | On-call checks the dns zone |\n\n"
        "## Root cause\n\nA cleanup script deleted the DNS record of the api.\n"
    )
    draft = draft_of(tmp_path, text)
    assert draft.page == "Pingdom alert: api.example.com unreachable."
    assert draft.hints[0] == "On-call checks the dns zone."


def test_a_denied_alert_is_no_alert(tmp_path: Path) -> None:
    text = (
        "# Outage\n\n## Timeline\n\n- 09:00 Nightly job finished, no alert fired.\n"
        "- 09:05 Pager: login errors above 5%.\n- 09:07 On-call looks at the job's logs.\n"
    )
    draft = draft_of(tmp_path, text)
    assert draft.page == "Pager: login errors above 5%."
    assert draft.hints == ("On-call looks at the job's logs.",)
    assert "postmortem.md: only 1 hint(s) drafted, a scenario usually has 2-4: write more" in (
        draft.warnings
    )


def test_no_page_without_symptoms(tmp_path: Path) -> None:
    text = "# Outage\n\n## Summary\n\nThe disk filled up.\n\n## Root cause\n\nThe disk filled up.\n"
    draft = draft_of(tmp_path, text)
    assert draft.page is None
    assert any("no page drafted" in w for w in draft.warnings)


def test_a_long_page_is_cut_to_whole_sentences(tmp_path: Path) -> None:
    sentences = " ".join(f"Shoppers in region {n} saw failures at checkout." for n in range(20))
    page = draft_of(tmp_path, f"# Outage\n\n## Summary\n\n{sentences}\n").page
    assert page is not None and 250 < len(page) <= 300 and page.endswith("checkout.")


def test_tags_come_from_a_vocabulary(tmp_path: Path) -> None:
    text = (
        "# Outage\n\n## Summary\n\nSidekiq jobs piled up; the Redis OOM killer struck twice. "
        "Redis, redis, REDIS.\n\n## Timeline\n\n- 10:00 Kafka lag alert.\n"
    )
    assert draft_of(tmp_path, text).tags == ("redis", "sidekiq", "oom")
    only_timeline = "# Outage\n\n## Timeline\n\n- 10:00 Postgres replica lag alert.\n"
    assert draft_of(tmp_path, only_timeline).tags == ("postgres", "replication")


# --- hints --------------------------------------------------------------------------------------


def test_hints_without_a_timeline_nudge_to_the_area(tmp_path: Path) -> None:
    text = (
        "# Outage\n\n## Root cause\n\nPostgres ran out of connections. The pool was too small.\n\n"
        "## Resolution\n\nWe raised max_connections to 200. Then we restarted.\n"
    )
    hints = draft_of(tmp_path, text).hints
    assert hints == (
        "Start with postgres.",
        "Postgres ran out of connections.",
        "We raised max_connections to 200.",
    )


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Date: 2023-03-14",
        "**Incident date:** 2023/03/14",
        "- Date: 14 March 2023",
        "Date: Tuesday, 14th Mar 2023",
        "Incident date: March 14, 2023",
        "Date: 2023-03-14T14:02:00Z",
        "| Date | 2023-03-14 |",
    ],
)
def test_date_lines(tmp_path: Path, line: str) -> None:
    draft = draft_of(tmp_path, f"# Outage\n\n{line}\n\n## Summary\n\nUsers saw errors on 2020-01-01.\n")
    assert draft.incident_date == "2023-03-14"


def test_date_from_the_timeline(tmp_path: Path) -> None:
    text = "# Outage\n\n## Timeline\n\n- 2023-07-01 10:00 Alert fired.\n- 2023-07-02 09:00 Done.\n"
    assert draft_of(tmp_path, text).incident_date == "2023-07-01"


def test_an_impossible_date_is_ignored_with_a_warning(tmp_path: Path) -> None:
    text = "# Outage\n\nDate: 2023-02-30\n\n## Timeline\n\n- 2023-03-01 10:00 Alert fired.\n"
    draft = draft_of(tmp_path, text)
    assert draft.incident_date == "2023-03-01"
    assert "postmortem.md: impossible date '2023-02-30' ignored" in draft.warnings
    alone = draft_of(tmp_path, "# Outage\n\nDate: 31 April 2023\n")
    assert alone.incident_date is None
    assert "postmortem.md: impossible date '31 April 2023' ignored" in alone.warnings


# --- plain text ---------------------------------------------------------------------------------


def test_inline_markup_is_stripped(tmp_path: Path) -> None:
    text = (
        "# Post-mortem: *The* **[checkout](https://wiki/x) outage**\n\n## Root cause\n\n"
        "> The `max_conns` value in [the config][cfg] was **_too low_** ~~after~~ since "
        "<b>the</b> change &amp; the snake_case_name stayed. <!-- internal note -->\n"
        "> See <https://wiki.example/pm>. ![graph](g.png)\n\n"
        "[cfg]: https://example/config\n"
    )
    draft = draft_of(tmp_path, text)
    assert draft.title == "The checkout outage"
    assert draft.why == (
        "The `max_conns` value in the config was too low after since the change & the "
        "snake_case_name stayed. See https://wiki.example/pm. graph."
    )


def test_html_comments_across_lines_are_dropped(tmp_path: Path) -> None:
    text = "# Outage\n\n## Summary\n\nUsers saw errors.\n<!--\n## Root cause\nsecret\n-->\n"
    draft = draft_of(tmp_path, text)
    assert draft.page == "Users saw errors." and draft.why is None


def test_control_characters_never_survive(tmp_path: Path) -> None:
    evil = "\x1b[31mred\x1b[0m \x1b]0;title\x07bell\x07 del\x7f c1\x85 bs\x08 \u202eabc"
    text = (
        f"# Outage {evil}\n\nDate: 2023-01-02\n\n## Summary\n\nUsers saw {evil}.\n\n"
        f"## Timeline\n\n- 10:00 alert {evil}\n- 10:01 checks {evil}\n\n"
        f"## Root cause\n\nBroken {evil}.\n\n## Resolution\n\nFixed {evil}.\n\n"
        f"## Lessons\n\n- {evil}\n\n## Action items\n\n- {evil}\n"
    )
    draft = draft_of(tmp_path, text)
    assert draft.title is not None and "red" in draft.title
    for value in strings(draft):
        assert not CONTROL.search(value), repr(value)
        assert "\u202e" not in value and "\x1b" not in value


def test_a_file_name_with_control_characters_stays_out_of_the_draft(tmp_path: Path) -> None:
    path = write(tmp_path, "## Summary\n\nUsers saw errors.\n", "pm\x1b[2J\nx\x07.md")
    draft = read_postmortem(path)
    assert draft.reference == "pm x?.md"
    assert all(w.startswith("pm x?.md: ") for w in draft.warnings)
    for value in strings(draft):
        assert not CONTROL.search(value), repr(value)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "empty"),
        (b"  \n\t\n   \n", "white space"),
        (b"# Title\x00\x01\x02binary", "NUL bytes"),
        (b"# Caf\xe9 outage\n\n## Summary\n", "not UTF-8"),
        (b"Just some notes about the outage.\nNo headings here.\n", "no Markdown heading"),
        (b"#" * ((1 << 20) + 1), "larger than 1024 KiB"),
    ],
    ids=["empty", "whitespace", "binary", "not-utf8", "no-heading", "too-large"],
)
def test_bad_files_are_invalid_input_naming_the_file(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = write(tmp_path, content, "incident.md")
    with pytest.raises(InvalidInput) as caught:
        read_postmortem(path)
    assert caught.value.message.startswith(f"{path}: ")
    assert says in caught.value.message
    assert caught.value.exit_code == 3


def test_a_large_hostile_file_is_read_quickly_and_in_part(tmp_path: Path) -> None:
    # unclosed emphasis and links everywhere: each pattern must stay linear
    body = "**x [a]( _b ~~c `d " * 45_000
    text = f"# {body[:5000]}\n\nDate: 2023-03-14\n\n## Summary\n\nUsers saw errors. {body}\n"
    path = write(tmp_path, text[: (1 << 20) - 1])
    started = time.monotonic()
    draft = read_postmortem(path)
    assert time.monotonic() - started < 10
    cut = "postmortem.md: the 'Summary' section is longer than 20000 characters: only its start was read"
    assert cut in draft.warnings
    assert draft.incident_date == "2023-03-14"
    assert draft.page is not None and draft.page.startswith("Users saw errors.") and len(draft.page) <= 300


def test_a_missing_file_or_a_directory_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"nope\.md: no such file"):
        read_postmortem(tmp_path / "nope.md")
    with pytest.raises(InvalidInput, match="not a regular file"):
        read_postmortem(tmp_path)


def test_an_unreadable_file_is_invalid_input(tmp_path: Path) -> None:
    # a symlink loop cannot be read by anyone, root included
    loop = tmp_path / "loop.md"
    loop.symlink_to(loop)
    with pytest.raises(InvalidInput, match=r"loop\.md: cannot be read \(Too many levels of symbolic links\)"):
        read_postmortem(loop)


def test_a_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "crlf").mkdir()
    (tmp_path / "lf").mkdir()
    crlf = write(tmp_path / "crlf", ("\ufeff" + FULL).replace("\n", "\r\n").encode("utf-8"))
    lf = write(tmp_path / "lf", FULL)
    assert read_postmortem(crlf) == read_postmortem(lf)
    assert read_postmortem(lf).title == "Login failures"


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """Opened without blocking and checked on the descriptor: no writer ever comes, no wait."""
    fifo = tmp_path / "postmortem.md"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInput, match="not a regular file"):
        read_postmortem(fifo)
