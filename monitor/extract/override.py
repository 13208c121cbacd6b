"""An operator's override for a column page that detection reads wrong: where its rows and dates are.

``list`` is a CSS selector of the list's rows; ``date`` (optional) is a CSS selector inside a row, or a
regular expression written between slashes (``/发布时间：(\\S+)/``, its first group when it has one);
``date_format`` (optional) is how that date is written (``%Y/%m/%d``, ``%m-%d``). Without ``date`` a
row is dated as detection would date it (its own date element, a date closing its title, its URL).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

from monitor.extract.dates import format_pattern

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
