"""Plain-text tables: the one renderer of aligned columns, for the commands and the library alike.

Lines come back inert (libreplay.core.text.inert), so a table can be built from a pack's names
and printed anywhere. A column is as wide as its widest cell in terminal cells: a wide CJK
character or an emoji counts two, which ``len`` would get wrong, so a cell that is not plain
ASCII is measured by rich's cell table (``rich.cells``; importing rich's console and table
layout cost ``list`` more than laying the columns out here). The layout is the one rich drew
before (tests/unit/test_table_layout.py compares the two).
"""

from __future__ import annotations

from collections.abc import Sequence

from libreplay.core.text import inert

GAP = "  "  # between two columns


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
    columns = len(header) if header is not None else max((len(row) for row in rows), default=0)
    body = [_cells(row, columns) for row in rows]
    head = [_cells(header, columns)] if header is not None else []
    widths = [max(map(cell_width, column), default=0) for column in zip(*head, *body, strict=True)]
    widths += [0] * (columns - len(widths))  # no row at all
    minimums = [*min_widths[:columns], *[0] * (columns - len(min_widths))]
    widths = [max(width, minimum) for width, minimum in zip(widths, minimums, strict=True)]
    lines = [_line(row, widths) for row in head]
    if head:
        lines.append("-" * (sum(widths) + len(GAP) * (columns - 1)))
    lines.extend(_line(row, widths) for row in body)
    return lines


def cell_width(text: str) -> int:
    """How many terminal cells ``text`` (already inert) takes."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _cells(row: Sequence[str], columns: int) -> list[str]:
    """A row's cells, inert and on one line; a short row is filled with empty cells."""
    cells = [inert(cell, keep_newlines=False) for cell in row[:columns]]
    return cells + [""] * (columns - len(cells))


def _line(cells: list[str], widths: list[int]) -> str:
    padded = (cell.ljust(width) if cell.isascii() else cell + " " * (width - cell_width(cell))
              for cell, width in zip(cells, widths, strict=True))
    return GAP.join(padded).rstrip()
