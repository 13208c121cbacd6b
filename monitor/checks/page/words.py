"""Wrong and sensitive words (错敏词): Aho–Corasick over a page's text with the dictionaries in
``monitor/dictionaries``. ``load()`` reads the files afresh each call (that is the reload).

A match that lies inside a listed exception (a longer, correct word containing the wrong form, or
an office holder's correct "title + name") is dropped, and of overlapping matches the longest wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ahocorasick
from ruamel.yaml import YAML

__all__ = ["DICT_DIR", "Dictionaries", "Entry", "WordFinding", "load"]

DICT_DIR = Path(__file__).resolve().parents[2] / "dictionaries"
CONTEXT = 15

# file → (category, severity)
TSV_FILES: dict[str, tuple[str, str]] = {
    "serious.tsv": ("严重错误", "严重"),
    "laws.tsv": ("法律法规与机构名称", "一般"),
    "meetings.tsv": ("会议名称", "一般"),
    "divisions.tsv": ("行政区划", "一般"),
    "misused.tsv": ("常见错别字", "一般"),
    "sensitive.tsv": ("敏感词", "敏感"),
}
LEADERS = "领导姓名职务"
REMOVED = "落马官员"
SENSITIVE = "敏感词"


@dataclass(frozen=True, slots=True)
class Entry:
    word: str
    correct: str | None  # None for sensitive words (their kind is in ``note``)
    category: str
    severity: str  # 严重 / 一般 / 敏感
    note: str = ""


@dataclass(frozen=True, slots=True)
class WordFinding:
    word: str
    correct: str | None
    category: str
    severity: str
    context: str
    url: str
    position: int
    note: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "word": self.word, "correct": self.correct, "category": self.category, "severity": self.severity,
            "context": self.context, "url": self.url, "position": self.position, "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Match:
    start: int
    end: int  # exclusive
    entry: Entry


class Dictionaries:
    def __init__(self, entries: list[Entry], exceptions: set[str], allow: set[tuple[str, str]]) -> None:
        self.entries = entries
        self.allow = allow
        self._auto = ahocorasick.Automaton()
        for e in entries:
            self._auto.add_word(e.word, e)
        for x in exceptions - {e.word for e in entries}:
            self._auto.add_word(x, len(x))  # a correct word: matches inside it are dropped
        self._auto.make_automaton()

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.entries:
            out[e.category] = out.get(e.category, 0) + 1
        return out

    def matches(self, text: str) -> list[Match]:
        """Dictionary matches in ``text``, minus those inside an exception or a longer match."""
        if not self.entries:
            return []
        found: list[Match] = []
        oks: list[tuple[int, int]] = []
        for end, payload in self._auto.iter(text):
            if isinstance(payload, int):
                oks.append((end + 1 - payload, end + 1))
            else:
                found.append(Match(end + 1 - len(payload.word), end + 1, payload))
        if not found:
            return []
        found.sort(key=lambda m: (m.start, -(m.end - m.start)))
        kept: list[Match] = []
        for m in found:
            if any(s <= m.start and m.end <= e for s, e in oks):
                continue
            if kept and m.start < kept[-1].end:  # overlaps the previous (longer or earlier) match
                if m.end - m.start > kept[-1].end - kept[-1].start:
                    kept[-1] = m
                continue
            kept.append(m)
        return kept

    def scan(self, text: str, url: str = "", site_id: str | None = None) -> list[WordFinding]:
        out: list[WordFinding] = []
        for m in self.matches(text):
            word = m.entry.word
            if ("*", word) in self.allow or (site_id is not None and (site_id, word) in self.allow):
                continue
            ctx = " ".join(text[max(0, m.start - CONTEXT):m.end + CONTEXT].split())
            out.append(WordFinding(word, m.entry.correct, m.entry.category, m.entry.severity, ctx, url,
                                   m.start, m.entry.note))
        return out

    def sensitive_words(self, text: str) -> list[Match]:
        return [m for m in self.matches(text) if m.entry.category == SENSITIVE]


def _read_tsv(path: Path, category: str, severity: str) -> tuple[list[Entry], set[str]]:
    entries: list[Entry] = []
    exceptions: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = [*line.split("\t"), "", ""]
        word, second, exc = cols[0].strip(), cols[1].strip(), cols[2].strip()
        if not word:
            continue
        if category == SENSITIVE:
            entries.append(Entry(word, None, category, severity, second))
        else:
            entries.append(Entry(word, second or None, category, severity))
        exceptions.update(x.strip() for x in exc.split(",") if x.strip())
    return entries, exceptions


def _yaml(path: Path) -> dict:
    if not path.exists():
        return {}
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def load(directory: Path | str | None = None) -> Dictionaries:
    """Read every dictionary file under ``directory`` (default: the shipped ``monitor/dictionaries``)."""
    d = Path(directory) if directory else DICT_DIR
    entries: list[Entry] = []
    exceptions: set[str] = set()
    for name, (category, severity) in TSV_FILES.items():
        if (d / name).exists():
            es, xs = _read_tsv(d / name, category, severity)
            entries += es
            exceptions |= xs
    for o in _yaml(d / "officials.yaml").get("officials") or ():
        name, title = str(o["name"]), str(o.get("title") or "")
        right = f"{title}{name}"
        exceptions.update({right, f"{name}{title}"} if title else {name})
        for wrong in o.get("wrong_names") or ():
            entries.append(Entry(str(wrong), name, LEADERS, "严重", f"{name}{title and '（' + title + '）'}"))
        for wt in o.get("wrong_titles") or ():
            for form in (f"{wt}{name}", f"{name}{wt}"):
                entries.append(Entry(form, right, LEADERS, "严重", f"{name}现任{title}"))
    for r in _yaml(d / "removed.yaml").get("removed") or ():
        name, former = str(r["name"]), str(r["former_title"])
        note = str(r.get("note") or "已不在任")
        for form in (f"{former}{name}", f"{name}{former}"):
            entries.append(Entry(form, None, REMOVED, "严重", f"{name}{note}，不应再以{former}称呼"))
    seen: dict[str, Entry] = {}
    for e in entries:
        seen.setdefault(e.word, e)  # the first file wins on duplicates (serious before misused)
    allow = {(str(a["site"]), str(a["word"])) for a in _yaml(d / "allow.yaml").get("allow") or ()}
    return Dictionaries(list(seen.values()), exceptions, allow)
