"""An operator's override for a column page that detection reads wrong: where its rows and dates are.

``list`` is a CSS selector of the list's rows; ``date`` (optional) is a CSS selector inside a row, or a
regular expression written between slashes (``/发布时间：(\\S+)/``, its first group when it has one);
``date_format`` (optional) is how that date is written (``%Y/%m/%d``, ``%m-%d``). Without ``date`` a
row is dated as detection would date it (its own date element, a date closing its title, its URL).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

_FORMAT_FIELDS = {
    "%Y": r"(?P<Y>(?:19|20)\d{2})", "%y": r"(?P<y>\d{2})", "%m": r"(?P<m>\d{1,2})", "%d": r"(?P<d>\d{1,2})",
    "%H": r"\d{1,2}", "%M": r"\d{1,2}", "%S": r"\d{1,2}", "%%": "%",
}


@functools.lru_cache(maxsize=256)
def format_pattern(fmt: str) -> re.Pattern[str]:
    """A strptime-like date format as a pattern: %Y %y %m %d, and %H %M %S matched but not kept.

    ValueError names what is wrong: an unknown directive, or no month or no day.
    """
    parts = []
    for piece in re.split(r"(%.)", fmt):
        if piece.startswith("%") and len(piece) == 2:
            if piece not in _FORMAT_FIELDS:
                raise ValueError(f"unknown directive {piece} (use %Y %y %m %d %H %M %S)")
            parts.append(_FORMAT_FIELDS[piece])
        elif piece:
            parts.append(r"\s*".join(re.escape(c) for c in piece.split()) if piece.strip() else r"\s*")
    if "%m" not in fmt or "%d" not in fmt:
        raise ValueError("a date format needs %m and %d")
    return re.compile(r"(?<!\d)" + "".join(parts) + r"(?!\d)")


PARSER_PREFIX = "select:"  # an override travels to the parser workers as the target's parser string


@dataclass(frozen=True, slots=True)
class Override:
    rows: str
    date: str | None = None
    date_format: str | None = None

    @property
    def date_regex(self) -> re.Pattern[str] | None:
        """The date pattern when ``date`` is a /regex/, else None (a CSS selector)."""
        if self.date and len(self.date) > 1 and self.date.startswith("/") and self.date.endswith("/"):
            return re.compile(self.date[1:-1])
        return None

    def as_parser(self) -> str:
        fields = {"list": self.rows, "date": self.date, "date_format": self.date_format}
        return PARSER_PREFIX + json.dumps({k: v for k, v in fields.items() if v}, ensure_ascii=False)

    def as_yaml(self) -> str:
        """The override as an inventory line (flow style, each value quoted)."""
        fields = {"list": self.rows, "date": self.date, "date_format": self.date_format}
        return "{" + ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items() if v) + "}"


def from_parser(parser: str) -> Override:
    fields = json.loads(parser.removeprefix(PARSER_PREFIX))
    return Override(fields["list"], fields.get("date"), fields.get("date_format"))


_PROBE = LexborHTMLParser("<p></p>")


def problems(override: Override) -> list[tuple[str, str]]:
    """What is wrong with an override, as (field, message in Chinese for the operator); empty when usable."""
    found = []
    for name, selector in (("list", override.rows), ("date", override.date)):
        if not selector or (name == "date" and selector.startswith("/")):
            continue
        try:
            _PROBE.css(selector)
        except Exception:  # selectolax raises its own error type for a selector it cannot parse
            found.append((name, f"无法解析的 CSS 选择器 {selector!r}（例如 ul.list > li、span.date、td:nth-child(3)）"))
    if not override.rows.strip():
        found.append(("list", "列表选择器为空：填写列表每一行的 CSS 选择器，例如 ul.list > li"))
    if override.date and override.date.startswith("/"):
        try:
            if override.date_regex is None:
                raise re.error("not closed by /")
        except re.error as exc:
            found.append(("date", f"日期正则表达式无效（{exc}）：写成 /发布时间：(\\d{{4}}-\\d{{2}}-\\d{{2}})/ 的形式"))
    if override.date_format:
        try:
            format_pattern(override.date_format)
        except ValueError as exc:
            found.append(("date_format", f"日期格式无效（{exc}）：例如 %Y-%m-%d、%Y/%m/%d、%m-%d"))
    return found
