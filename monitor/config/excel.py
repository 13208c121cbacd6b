"""Import an inventory from an office's spreadsheet: one row per column (单位, 网站, 栏目, 地址, 类别).

Offices keep these lists in Excel or WPS, often with merged cells, so an empty 单位 or 网站 cell
repeats the row above. An optional 网站首页 (or 首页) column gives the homepage; without it the
homepage is the origin of the site's first column address. Optional 列表选择器, 日期选择器 and 日期格式
columns give a column's override (list, date, date_format) for a page detection reads wrong.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from python_calamine import CalamineWorkbook

from monitor.config.advice import URL_EXAMPLE
from monitor.config.build import build
from monitor.config.errors import ConfigError, ConfigProblem
from monitor.config.inventory import Inventory

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


# What a sheet may cost before it is read: a province's 30,000 columns are some 10 MB of sheet XML; a zip bomb of
# 4 MB inflates to gigabytes, a sheet of 2,000,000 rows to 1.6 GB of cells.
MAX_MEMBER_BYTES = 64 << 20  # one file inside the .xlsx/.ods, uncompressed
MAX_TOTAL_BYTES = 128 << 20  # all of them
MAX_ROWS = 100_000


def first_sheet(path: Path) -> tuple[str, list[list[str]]]:
    """The first sheet's name and cells as stripped text (.xlsx, .xls, .ods); ConfigError when it cannot be read,
    or is larger than an inventory can be (checked before its cells are read)."""
    _check_size(path)
    try:
        book = CalamineWorkbook.from_path(str(path))
        sheet = book.get_sheet_by_index(0)
        if sheet.height > MAX_ROWS:
            raise _too_large(path, f"表格有 {sheet.height:,} 行，超过上限 {MAX_ROWS:,} 行：请删去空行，"
                             "或把清单分成几个文件", f"{sheet.height:,} rows, over {MAX_ROWS:,}")
        return book.sheet_names[0], [[_cell(v) for v in row] for row in sheet.to_python(skip_empty_area=False)]
    except ConfigError:
        raise
    except Exception as exc:  # calamine raises its own error types for every unreadable file
        raise ConfigError([ConfigProblem(str(path), None, "", f"cannot read the spreadsheet (无法读取表格): {exc}")],
                          ) from None


def _too_large(path: Path, zh: str, what: str) -> ConfigError:
    return ConfigError([ConfigProblem(str(path), None, "", f"{zh}（{what}）", zh)])


def _check_size(path: Path) -> None:
    """Refuse a sheet whose zip members inflate beyond the limits (a zip bomb), measured by inflating them here a
    megabyte at a time, so neither a forged header nor the reader holds more than that; a file that is no zip
    (.xls) is held to the total by its size."""
    if not zipfile.is_zipfile(path):
        if path.stat().st_size > MAX_TOTAL_BYTES:
            raise _too_large(path, f"文件大于 {MAX_TOTAL_BYTES >> 20} MB，不像栏目清单：请只保留清单所在的工作表",
                             f"{path.stat().st_size:,} bytes")
        return
    total = 0
    try:
        with zipfile.ZipFile(path) as book:
            for info in book.infolist():
                limit = min(MAX_MEMBER_BYTES, MAX_TOTAL_BYTES - total)
                size = _inflated(book, info, limit)
                if size > limit:
                    raise _too_large(path, f"文件解压后超过 {limit >> 20} MB（表格过大，或是“压缩炸弹”），已拒绝读取："
                                     "请删去多余的行和工作表，或把清单分成几个文件",
                                     f"{info.filename} inflates beyond the limit")
                total += size
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError) as exc:
        raise ConfigError([ConfigProblem(str(path), None, "", f"cannot read the spreadsheet (无法读取表格): {exc}")],
                          ) from None


def _inflated(book: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> int:
    """A member's inflated size, counted up to just past ``limit``."""
    size = 0
    with book.open(info) as member:
        while size <= limit and (chunk := member.read(1 << 20)):
            size += len(chunk)
    return size



def sheet_rows(path: Path) -> list[list[str]]:
    """The first sheet's cells as stripped text."""
    return first_sheet(path)[1]


def find_header(rows: list[list[str]], required: tuple[str, ...]) -> tuple[int, dict[str, int]] | None:
    """The header row (within the first rows: titles often sit above it) and its column per name."""
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = {name: col for col, name in enumerate(row) if name}
        if all(name in names for name in required):
            return index, names
    return None


CHINESE = re.compile(r"[\u4e00-\u9fff]")
# Which header each field of the inventory comes from.
COLUMN_HEADERS = {"name": "栏目", "url": "地址", "category": "类别"} | {v: k for k, v in OPTIONAL_OVERRIDE.items()}
UNIT_HEADERS = {"name": "单位"}
SITE_HEADERS = {"name": "网站"}  # and the homepage: the 网站首页 column, or 地址 when derived from it
# What to write in an empty cell, by header.
EMPTY = {"单位": "责任单位的名称", "网站": "网站的名称", "栏目": "栏目的名称",
         "地址": f"栏目列表页的完整网址，如 {URL_EXAMPLE}",
         "类别": "类别，如 动态要闻、通知公告、政策文件、人事信息、规划计划"}


@dataclass
class Sheet:
    """An office's sheet read into plain inventory data, with where each field came from."""

    path: Path
    name: str
    data: dict[str, Any]
    header_row: int
    rows: dict[tuple[Any, ...], int] = field(default_factory=dict)  # a field's path → its 1-based row
    homepage_headers: dict[int, str] = field(default_factory=dict)  # site index → the header of its homepage
    empty: set[tuple[int, str]] = field(default_factory=set)  # (row, header) of the empty cells
    problems: list[ConfigProblem] = field(default_factory=list)

    def locate(self, loc: tuple[Any, ...]) -> int | None:
        for size in range(len(loc), 0, -1):
            if loc[:size] in self.rows:
                return self.rows[loc[:size]]
        return self.header_row

    def header(self, path: str) -> str:
        """The column header a field's path (``sites[1].columns[0].url``) was read from, or ""."""
        parts = [p for p in re.split(r"[.\[\]]+", path) if p]
        if len(parts) == 5 and parts[0] == "sites" and parts[2] == "columns":
            return COLUMN_HEADERS.get(parts[4], "")
        if len(parts) == 3 and parts[0] == "sites":
            return self.homepage_headers.get(int(parts[1]), "") if parts[2] == "homepage" else SITE_HEADERS.get(
                parts[2], "")
        if len(parts) == 3 and parts[0] == "units":
            return UNIT_HEADERS.get(parts[2], "")
        return ""

    def problem(self, line: int | None, header: str, text: str) -> ConfigProblem:
        return ConfigProblem(str(self.path), line, header, text, text, sheet=self.name)

    def in_cells(self, problem: ConfigProblem) -> ConfigProblem:
        """A problem of the built inventory, said by row and column header in Chinese."""
        header = self.header(problem.field)
        if (problem.line, header) in self.empty:
            text = f"此格为空，请填写{EMPTY[header]}"
        elif problem.zh or CHINESE.search(problem.message):
            text = problem.zh or problem.message
        else:  # a problem with no Chinese yet: its English words, still by row and header
            text = f"此格的值有误：{problem.message}" if header else problem.message
        return self.problem(problem.line, header, text)


def read_sheet(path: Path) -> Sheet:
    """The first sheet as inventory data; the cells it cannot use are problems, every row is read."""
    name, rows = first_sheet(path)
    header = find_header(rows, REQUIRED)
    if header is None:
        sheet = Sheet(path, name, {"units": [], "sites": []}, 1)
        sheet.problems.append(sheet.problem(None, "", "未找到表头：表头行（前 10 行内）须有 " + "、".join(REQUIRED)
                                            + " 各列，请在表头写上这些列名"))
        return sheet
    header_index, cols = header
    home_header = next((name for name in OPTIONAL_HOMEPAGE if name in cols), None)
    sheet = Sheet(path, name, {}, header_index + 1)
    units: dict[str, dict[str, Any]] = {}
    sites: dict[tuple[str, str], dict[str, Any]] = {}
    last = {"单位": "", "网站": ""}
    for index in range(header_index + 1, len(rows)):
        row = rows[index] + [""] * (len(rows[header_index]) + 2)
        values = {name: row[cols[name]] for name in REQUIRED}
        if not any(values.values()):
            continue
        line = index + 1
        for carried in ("单位", "网站"):  # merged cells: empty means "as above"
            values[carried] = values[carried] or last[carried]
            last[carried] = values[carried]
        sheet.empty.update((line, name) for name in REQUIRED if not values[name])
        if not values["单位"] or not values["网站"]:  # nothing above to repeat: the row belongs to no site
            for name in ("单位", "网站"):
                if not values[name]:
                    sheet.problems.append(sheet.problem(line, name, f"此格为空，请填写{EMPTY[name]}"))
            continue
        unit = units.setdefault(values["单位"], {"id": stable_id("u", values["单位"]), "name": values["单位"]})
        site_key = (values["单位"], values["网站"])
        if site_key not in sites:
            s = len(sites)
            homepage = row[cols[home_header]] if home_header else ""
            sheet.homepage_headers[s] = home_header if homepage else "地址"
            sites[site_key] = {"id": stable_id("s", "|".join(site_key)), "name": values["网站"], "unit": unit["id"],
                               "homepage": homepage, "columns": []}
            sheet.rows[("sites", s)] = line
        site = sites[site_key]
        s = list(sites).index(site_key)
        sheet.rows[("sites", s, "columns", len(site["columns"]))] = line
        column = {"name": values["栏目"], "url": values["地址"], "category": values["类别"]}
        column |= {key: row[cols[name]] for name, key in OPTIONAL_OVERRIDE.items() if name in cols and row[cols[name]]}
        site["columns"].append(column)
    for site in sites.values():  # without a 网站首页 cell: the origin of the site's first column address
        if not site["homepage"]:
            first = next((c["url"] for c in site["columns"] if c["url"]), "")
            parts = urlsplit(first)
            site["homepage"] = f"{parts.scheme}://{parts.netloc}/" if parts.scheme and parts.netloc else first
    sheet.data = {"units": list(units.values()), "sites": list(sites.values())}
    return sheet


def load_sheet(path: Path) -> tuple[dict[str, Any], Inventory]:
    """A sheet's inventory data and its Inventory; ConfigError with every problem of the sheet at once (the cells
    it could not read and what the inventory's checks found in the rest), each by sheet, row and column header,
    in Chinese, saying what to write in the cell."""
    sheet = read_sheet(path)
    problems = list(sheet.problems)
    inventory = None
    try:
        inventory = build(sheet.data, str(path), sheet.locate)
    except ConfigError as exc:
        problems += [sheet.in_cells(p) for p in exc.problems]
    if problems or inventory is None:
        seen: set[tuple[int | None, str]] = set()
        once = [p for p in problems if (p.line, p.field) not in seen and not seen.add((p.line, p.field))]
        raise ConfigError(sorted(once, key=lambda p: p.line or 0))
    return sheet.data, inventory
