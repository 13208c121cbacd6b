"""The real corpus (tests/fixtures/real): reduced column pages from public repositories and their hand-checked labels.

Shared by tests/test_real_corpus.py and bench/parse.py. An answer is graded against the label's newest date:
``right`` (equal, or no date where the page has no readable dated list), ``null`` (no date where the page has
one), ``older`` (a false red waiting to happen) or ``newer`` (a stale column shown fresh: the worst; a date
read from a page without a readable list counts here too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tests.corpus_reduce import decode

REAL = Path(__file__).parent / "fixtures" / "real"
OUTCOMES = ("right", "null", "older", "newer")


@dataclass(frozen=True)
class Page:
    name: str
    text: str
    url: str
    today: date
    newest: str | None  # ISO date, None when the page has no readable dated list
    label: dict


def labels() -> dict[str, dict]:
    return json.loads((REAL / "labels.json").read_text(encoding="utf-8"))


def load() -> list[Page]:
    pages = []
    for name, label in sorted(labels().items()):
        text, _ = decode((REAL / name).read_bytes())
        pages.append(Page(name, text, label["url"], date.fromisoformat(label["today"]), label["newest"], label))
    return pages


def outcome(got: str | None, want: str | None) -> str:
    if got == want:
        return "right"
    if got is None:
        return "null"
    if want is not None and got < want:
        return "older"
    return "newer"
