"""Plain-text tables: the one renderer of aligned columns, for the commands and the library alike.

Lines come back inert (libreplay.core.text.inert), so a table can be built from a pack's names
and printed anywhere. rich does the measuring: a column is as wide as its widest cell in
terminal cells (a wide CJK character or an emoji counts two), which ``len`` would get wrong.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from libreplay.core.text import inert

if TYPE_CHECKING:
    from rich.box import Box  # imported when a table is drawn: a command's --help stays quick

_TABLE_WIDTH = 100_000


def table_lines(
    rows: Sequence[Sequence[str]],
    *,
    header: Sequence[str] | None = None,
    min_widths: Sequence[int] = (),
) -> list[str]:
    """One line per row, with the ``header`` and a rule of dashes under it first when given.

    Columns are two spaces apart and as wide as their widest cell (at least ``min_widths``,
    column by column). Every cell is made inert and kept on one line; the last column is never
    padded, so ``split(None, n)`` and ``grep`` see the cells.
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    columns = len(header) if header is not None else max((len(row) for row in rows), default=0)
    drawn = Table(box=_rule_box(), show_header=header is not None, show_edge=False, pad_edge=False,
                  padding=(0, 1, 0, 0), header_style=None)
    for index in range(columns):
        name = header[index] if header is not None else ""
        minimum = min_widths[index] if index < len(min_widths) else None
        drawn.add_column(Text(inert(name, keep_newlines=False)), no_wrap=True, overflow="ignore",
                         min_width=minimum)
    for row in rows:
        drawn.add_row(*(Text(inert(cell, keep_newlines=False)) for cell in row))
    out = io.StringIO()
    # Never wrapped nor cut to a terminal's width: the widest row decides.
    console = Console(file=out, width=_TABLE_WIDTH, color_system=None, markup=False, emoji=False,
                      highlight=False, force_terminal=False, force_jupyter=False)
    console.print(drawn)
    return [line.rstrip() for line in out.getvalue().splitlines()]


def _rule_box() -> Box:
    from rich.box import Box

    # rich's eight box lines (top, head, rule under the head, …), each: left, line, divider, right.
    # Only the rule under the head is drawn, in ASCII dashes, across the dividers too.
    return Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
