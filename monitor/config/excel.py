"""Import an inventory from an office's spreadsheet: one row per column (单位, 网站, 栏目, 地址, 类别).

Offices keep these lists in Excel or WPS, often with merged cells, so an empty 单位 or 网站 cell
repeats the row above. An optional 网站首页 (or 首页) column gives the homepage; without it the
homepage is the origin of the site's first column address. Optional 列表选择器, 日期选择器 and 日期格式
columns give a column's override (list, date, date_format) for a page detection reads wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from python_calamine import CalamineWorkbook

from monitor.config.errors import ConfigError, ConfigProblem

REQUIRED = ("单位", "网站", "栏目", "地址", "类别")
OPTIONAL_HOMEPAGE = ("网站首页", "首页", "首页地址")
# A column's override for a page detection reads wrong (monitor.list_override), when the sheet has them.
OPTIONAL_OVERRIDE = {"列表选择器": "list", "日期选择器": "date", "日期格式": "date_format"}
HEADER_SEARCH_ROWS = 10


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def stable_id(prefix: str, text: str) -> str:
    """A short id derived from names, the same on every import of the same sheet."""
    return f"{prefix}-{hashlib.blake2s(text.encode(), digest_size=4).hexdigest()}"


def sheet_rows(path: Path) -> list[list[str]]:
    """The first sheet's cells as stripped text (.xlsx, .xls, .ods); ConfigError when it cannot be read."""
    try:
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        return [[_cell(v) for v in row] for row in sheet.to_python(skip_empty_area=False)]
    except Exception as exc:  # calamine raises its own error types for every unreadable file
        raise ConfigError([ConfigProblem(str(path), None, "", f"cannot read the spreadsheet (无法读取表格): {exc}")],
                          ) from None


def find_header(rows: list[list[str]], required: tuple[str, ...]) -> tuple[int, dict[str, int]] | None:
    """The header row (within the first rows: titles often sit above it) and its column per name."""
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = {name: col for col, name in enumerate(row) if name}
        if all(name in names for name in required):
            return index, names
    return None


def read_inventory(path: Path) -> tuple[dict[str, Any], Callable[[tuple[Any, ...]], int | None]]:
    """Plain inventory data and a locator from field paths to 1-based sheet rows."""
    rows = sheet_rows(path)
    header = find_header(rows, REQUIRED)
    if header is None:
        raise ConfigError([ConfigProblem(
            str(path), None, "", "no header row found: the first sheet needs columns " + ", ".join(REQUIRED),
        )])
    header_index, cols = header
    home_col = next((cols[name] for name in OPTIONAL_HOMEPAGE if name in cols), None)

    units: dict[str, dict[str, Any]] = {}
    sites: dict[tuple[str, str], dict[str, Any]] = {}
    site_index_of: dict[tuple[str, str], int] = {}
    rows_of: dict[tuple[Any, ...], int] = {}
    problems: list[ConfigProblem] = []
    last = {"单位": "", "网站": ""}
    for index in range(header_index + 1, len(rows)):
        row = rows[index] + [""] * (len(cols) + 2)
        values = {name: row[cols[name]] for name in REQUIRED}
        if not any(values.values()):
            continue
        for carried in ("单位", "网站"):  # merged cells: empty means "as above"
            values[carried] = values[carried] or last[carried]
            last[carried] = values[carried]
        line = index + 1
        missing = [name for name in REQUIRED if not values[name]]
        if missing:
            problems.append(ConfigProblem(str(path), line, "、".join(missing),
                                          "empty cell; fill in " + "、".join(missing) + " for this row"))
            continue
        unit = units.setdefault(values["单位"], {"id": stable_id("u", values["单位"]), "name": values["单位"]})
        site_key = (values["单位"], values["网站"])
        if site_key not in sites:
            parts = urlsplit(values["地址"])
            derived = f"{parts.scheme}://{parts.netloc}/" if parts.scheme and parts.netloc else values["地址"]
            homepage = (row[home_col] if home_col is not None else "") or derived
            site_index_of[site_key] = len(sites)
            sites[site_key] = {"id": stable_id("s", "|".join(site_key)), "name": values["网站"], "unit": unit["id"],
                               "homepage": homepage, "columns": []}
            rows_of[("sites", len(sites) - 1)] = line
        site = sites[site_key]
        site_index = site_index_of[site_key]
        rows_of[("sites", site_index, "columns", len(site["columns"]))] = line
        column = {"name": values["栏目"], "url": values["地址"], "category": values["类别"]}
        column |= {key: row[cols[name]] for name, key in OPTIONAL_OVERRIDE.items() if name in cols and row[cols[name]]}
        site["columns"].append(column)
    if problems:
        raise ConfigError(problems)

    def locate(loc: tuple[Any, ...]) -> int | None:
        for size in range(len(loc), 0, -1):
            if loc[:size] in rows_of:
                return rows_of[loc[:size]]
        return header_index + 1

    return {"units": list(units.values()), "sites": list(sites.values())}, locate
