"""An account's source as the inventory states it and the parser workers read it (pure data).

The parser string (``Target.parser``) is sent with each page to the parser workers: ``feed`` reads RSS, Atom
and JSON Feed; ``json:{mapping}`` a JSON API with a field mapping (``MAPPING_FIELDS``). Options ride along as
JSON: the account's ``platform`` (what its posts can tell, see ``extract.accounts.content``) and, when they
differ from ``DEFAULT_OFF_DUTY``, its off-duty keywords: ``feed:{"platform": "微博", "off_duty": [...]}`` or
``json:{mapping…, "platform": "微信公众号"}``. The config writes it (``source_parser``), the readers read it
(``parser_options``); here, below both, so the workers never load the config.
"""

from __future__ import annotations

import json
from typing import Any

# A JSON API's mapping: where the posts are (items, a dotted path) and, in each, its fields (see jsonapi).
MAPPING_FIELDS = ("items", "title", "url", "date", "text", "repost", "original")
# Weather and other outlets' news that accounts repost to look alive; an office extends or replaces it.
DEFAULT_OFF_DUTY: tuple[str, ...] = (
    "天气预报", "气象台", "降雨", "气温", "雷雨", "大风蓝色预警", "空气质量", "转自", "来源：新华社", "来源：人民日报",
    "来源：央视新闻", "来源：中国新闻网", "来源：新华网", "来源：人民网", "来源：央广网", "来源：澎湃新闻",
)
OPTIONS = ("off_duty", "platform")


def source_parser(kind: str, mapping: dict[str, str] | None, off_duty: tuple[str, ...] | None,
                  platform: str | None = None) -> str:
    """The parser string of a source; ``off_duty`` None keeps the default keywords."""
    options: dict[str, Any] = {"off_duty": list(off_duty)} if off_duty is not None else {}
    if platform is not None:
        options["platform"] = platform
    if kind == "json":
        return "json:" + _dumps({**(mapping or {}), **options})
    return "feed:" + _dumps(options) if options else "feed"


def _dumps(options: dict[str, Any]) -> str:
    return json.dumps(options, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def is_source(parser: str) -> bool:
    return parser == "feed" or parser.startswith(("feed:", "json:"))


def parser_options(parser: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(kind, mapping, options) of a parser string: "feed" or "json", a JSON API's field mapping, and the
    reader's keyword options (``off_duty`` as a tuple, ``platform``)."""
    kind, _, spec = parser.partition(":")
    mapping: dict[str, Any] = json.loads(spec) if spec else {}
    options = {k: mapping.pop(k) for k in OPTIONS if k in mapping}
    if "off_duty" in options:
        options["off_duty"] = tuple(options["off_duty"])
    return kind, mapping, options
