"""What a validation error means for the person filling in an office's sheet, in Chinese: what is wrong with the
cell and what to write in it. Keyed by the error's kind (pydantic's error types and the schema's own: ``url``,
``duration``), so a constraint added to the schema is explained without new text here."""

from __future__ import annotations

from typing import Any

from monitor.config.errors import quote

URL_EXAMPLE = "http://www.example.gov.cn/col/"
DURATION_EXAMPLE = "14d（天）、2w（周）、6mo（月）、1y（年）"


def pydantic_advice(err: dict[str, Any]) -> str:
    """Chinese for one pydantic error, or "" when its kind has none (the English message is then shown)."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    secret = "headers" in err.get("loc", ())  # never echo a header's value
    empty = value is None or (isinstance(value, str) and not value.strip())
    shown = "" if secret or empty or isinstance(value, dict | list) else f"“{quote(value)[1:-1]}”"
    if kind in ("missing", "string_too_short") or (empty and kind in ("url", "duration")):
        what = {"url": f"完整网址，如 {URL_EXAMPLE}", "duration": f"时长，如 {DURATION_EXAMPLE}"}.get(kind, "内容")
        return f"此格为空，请填写{what}"
    texts = {
        "url": f"{shown}不是完整网址，请填写以 http:// 或 https:// 开头的地址，如 {URL_EXAMPLE}",
        "duration": f"{shown}不是时长，请填写如 {DURATION_EXAMPLE}",
        "duration_range": f"{shown}超出允许的范围，请填写 {ctx.get('low')} 到 {ctx.get('high')} 之间的时长",
        "string_too_long": f"内容过长，请写在 {ctx.get('max_length')} 个字以内",
        "string_pattern_mismatch": f"{shown}的写法不对，请按清单说明填写",
        "greater_than": f"{shown}应大于 {ctx.get('gt')}，请改填更大的值",
        "greater_than_equal": f"{shown}应不小于 {ctx.get('ge')}，请改填更大的值",
        "less_than": f"{shown}应小于 {ctx.get('lt')}，请改填更小的值",
        "less_than_equal": f"{shown}应不大于 {ctx.get('le')}，请改填更小的值",
        "int_parsing": f"{shown}不是整数，请填写整数", "int_from_float": f"{shown}不是整数，请填写整数",
        "int_type": f"{shown}不是整数，请填写整数",
        "float_parsing": f"{shown}不是数字，请填写数字", "float_type": f"{shown}不是数字，请填写数字",
        "bool_parsing": f"{shown}不是“是/否”，请填写 true 或 false",
        "literal_error": f"{shown}不是可选的值，请填写 {ctx.get('expected')} 之一",
        "extra_forbidden": "多余的项，请删除或检查拼写",
    }
    return texts.get(kind, "")
