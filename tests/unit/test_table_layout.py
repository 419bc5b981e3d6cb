"""core/table.py lays its columns out as rich's table did (rich drew them before issue 13 took
rich's console off the list path): the same lines for plain, wide, emoji and hostile cells."""

from __future__ import annotations

import io
import random

import pytest

from libreplay.core.table import table_lines
from libreplay.core.text import inert

CELLS = ["", "a", "001-nginx-502", "Title with  two spaces ", "日本語のタイトル", "emoji 🔥 fire",
         "e\u0301t\u00e9", "tab\there", "line\nbreak", "\x1b[31mred\x1b[0m", "x" * 70, "Ω", "  lead"]


def drawn_by_rich(rows: list[list[str]], header: list[str] | None, min_widths: tuple[int, ...]) -> list[str]:
    """The renderer as it was: a rich Table with an ASCII rule under the header, no edges."""
    from rich.box import Box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    columns = len(header) if header is not None else max((len(row) for row in rows), default=0)
    box = Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
    table = Table(box=box, show_header=header is not None, show_edge=False, pad_edge=False,
                  padding=(0, 1, 0, 0), header_style=None)
    for index in range(columns):
        name = header[index] if header is not None else ""
        minimum = min_widths[index] if index < len(min_widths) else None
        table.add_column(Text(inert(name, keep_newlines=False)), no_wrap=True, overflow="ignore",
                         min_width=minimum)
    for row in rows:
        table.add_row(*(Text(inert(cell, keep_newlines=False)) for cell in row))
    out = io.StringIO()
    console = Console(file=out, width=100_000, color_system=None, markup=False, emoji=False,
                      highlight=False, force_terminal=False, force_jupyter=False)
    console.print(table)
    return [line.rstrip() for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("seed", range(40))
def test_the_same_lines_as_rich(seed: int) -> None:
    chance = random.Random(seed)
    columns = chance.randint(1, 5)
    rows = [[chance.choice(CELLS) for _ in range(columns)] for _ in range(chance.randint(1, 6))]
    header = [chance.choice(CELLS[1:5]).upper() for _ in range(columns)] if seed % 4 else None
    min_widths = tuple(chance.randint(0, 12) for _ in range(chance.randint(0, columns)))
    assert table_lines(rows, header=header, min_widths=min_widths) == drawn_by_rich(rows, header, min_widths)


def test_the_list_table() -> None:
    rows = [["001-nginx-502", "1", "502 Bad Gateway"], ["acme/drills/x", "5", "日本語"]]
    assert table_lines(rows, header=("ID", "DIFF", "TITLE")) == [
        "ID             DIFF  TITLE",
        "-" * 36,
        "001-nginx-502  1     502 Bad Gateway",
        "acme/drills/x  5     日本語",
    ]
