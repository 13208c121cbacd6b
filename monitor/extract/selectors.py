"""CSS selectors naming a list's rows and a row's date element: the override govwatch suggests to an operator.

A selector is built from tag names, ids and classes as the page writes them, climbing from the list's
container until it picks exactly the list's rows (and at most a few separators beside them).
"""

from __future__ import annotations

import re
from collections import Counter

from selectolax.lexbor import LexborHTMLParser, LexborNode

_PLAIN = re.compile(r"-?[A-Za-z_][\w-]*")  # an id or class a selector can name without escaping
_TOP = frozenset({"html", "body", "-document"})
MAX_DEPTH = 4  # ancestors named above the rows


def step(node: LexborNode) -> str:
    """The node as one compound selector: tag#id, else tag.class1.class2 (names that need no escaping)."""
    attrs = node.attributes
    ident = (attrs.get("id") or "").strip()
    if ident and _PLAIN.fullmatch(ident) and not any(c.isdigit() for c in ident[-2:]):
        return f"{node.tag}#{ident}"  # ids ending in digits are often generated per page (line_u5_0)
    classes = [c for c in (attrs.get("class") or "").split() if _PLAIN.fullmatch(c)]
    return node.tag + "".join(f".{c}" for c in classes)


def rows_selector(tree: LexborHTMLParser, rows: list[LexborNode]) -> str | None:
    """A selector picking these rows (children of one container, or of sibling containers of one kind)."""
    if not rows:
        return None
    tags = {r.tag for r in rows}
    if len(tags) != 1:
        return None
    wanted = {r.mem_id for r in rows}
    slack = max(2, len(rows) // 5)
    shared = set.intersection(*(set((r.attributes.get("class") or "").split()) for r in rows))
    row_step = rows[0].tag + "".join(f".{c}" for c in sorted(shared) if _PLAIN.fullmatch(c))
    path: list[str] = []
    node = rows[0].parent
    exact = None
    for _ in range(MAX_DEPTH):
        if node is None or node.tag in _TOP:
            break
        path.insert(0, step(node))
        selector = " > ".join([*path, row_step])
        picked = {n.mem_id for n in tree.css(selector)}
        if wanted <= picked and len(picked) <= len(wanted) + slack:
            exact = exact or selector
            if any(c in selector for c in ".#"):  # a name of the page's own survives a template's small changes
                return selector
        node = node.parent
    return exact


def date_selector(found: list[tuple[LexborNode, str]]) -> str | None:
    """The selector, inside a row, of the element holding the row's date text, agreed by most rows.

    ``found`` pairs each dated row with its date as written. Cells without a class are named by position
    (td:nth-child(3)); a date standing in the row's own text (no element of its own) gives None.
    """
    votes: Counter[str] = Counter()
    for row, written in found:
        holder = None
        for node in row.traverse(include_text=False):
            if node.mem_id != row.mem_id and written in (node.text() or ""):
                holder = node  # traversal goes deeper last: the innermost holder wins
        if holder is not None:
            votes[_cell_step(holder)] += 1
    if not votes:
        return None
    selector, count = votes.most_common(1)[0]
    return selector if count * 10 >= len(found) * 6 else None


def _cell_step(node: LexborNode) -> str:
    named = step(node)
    if named != node.tag or node.tag not in ("td", "th"):
        return named
    index = 1
    sibling = node.prev
    while sibling is not None:
        if sibling.tag in ("td", "th"):
            index += 1
        sibling = sibling.prev
    return f"td:nth-child({index})"


_NUMBER_CELL = re.compile(r"[\d\s/.:-]{6,24}")  # a date written in digits and separators only
_MIN_DIGITS = 6


def number_cells(rows: list[LexborNode]) -> tuple[str, list[str]] | None:
    """The selector (inside a row) of an element holding only digits and separators in most rows — a date
    written in a way detection did not read — with those rows' texts."""
    votes: Counter[str] = Counter()
    texts: dict[str, list[str]] = {}
    for row in rows:
        for node in row.traverse(include_text=False):
            text = (node.text() or "").strip()
            if (node.mem_id != row.mem_id and _NUMBER_CELL.fullmatch(text)
                    and sum(c.isdigit() for c in text) >= _MIN_DIGITS):
                key = _cell_step(node)
                votes[key] += 1
                texts.setdefault(key, []).append(text)
                break
    if not votes:
        return None
    selector, count = votes.most_common(1)[0]
    return (selector, texts[selector]) if count * 10 >= len(rows) * 8 else None
