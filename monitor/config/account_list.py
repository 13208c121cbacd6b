"""The offices' own lists of new-media accounts (序号, 单位名称, 新媒体账号名称, 类型) and the 未备案 check.

``read_accounts`` reads a sheet (Excel, WPS, ODS; a merged 单位名称 cell repeats the row above) with
file:row errors; ``to_inventory`` turns its rows into the inventory's ``units:`` and ``accounts:``; and
``unregistered`` compares accounts found elsewhere (a site's 新媒体矩阵 page, an inspector's list) with
the inventory: each one not registered there is an 未备案 finding for its unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config.errors import ConfigError, ConfigProblem
from monitor.config.excel import find_header, sheet_rows, stable_id
from monitor.config.schema import InventoryModel, canonical_platform

REQUIRED = ("单位名称", "新媒体账号名称", "类型")


@dataclass(frozen=True, slots=True)
class AccountRow:
    row: int  # 1-based sheet row
    unit: str
    name: str
    platform: str  # canonical (微信 → 微信公众号; unknown types → 其他)
    type_text: str  # the 类型 cell as written


@dataclass(frozen=True, slots=True)
class Unregistered:
    """An account row that the inventory does not register (未备案), with the unit it belongs to."""

    row: AccountRow
    unit_id: str | None  # the inventory's unit of that name, None when the unit is not in the inventory
    message: str


def read_accounts(path: Path) -> list[AccountRow]:
    """Every account row of the first sheet; raise ConfigError listing each bad row."""
    rows = sheet_rows(path)
    header = find_header(rows, REQUIRED)
    if header is None:
        raise ConfigError([ConfigProblem(str(path), None, "",
                                         "未找到表头：第一个工作表须有 " + "、".join(REQUIRED) + " 列")])
    start, cols = header
    out: list[AccountRow] = []
    problems: list[ConfigProblem] = []
    unit = ""
    for index in range(start + 1, len(rows)):
        row = rows[index] + [""] * (max(cols.values()) + 1)
        values = {name: row[cols[name]] for name in REQUIRED}
        if not any(values.values()):
            continue
        unit = values["单位名称"] or unit  # merged cells: empty means "as above"
        missing = [name for name in REQUIRED if not (unit if name == "单位名称" else values[name])]
        if missing:
            problems.append(ConfigProblem(str(path), index + 1, "、".join(missing),
                                          "单元格为空；请填写本行的" + "、".join(missing)))
            continue
        out.append(AccountRow(index + 1, unit, values["新媒体账号名称"], canonical_platform(values["类型"]),
                              values["类型"]))
    if problems:
        raise ConfigError(problems)
    return out


def account_id(row: AccountRow) -> str:
    return stable_id("a", f"{row.unit}|{row.platform}|{row.name}")


def to_inventory(rows: list[AccountRow], status: str = "已备案") -> dict[str, Any]:
    """Inventory ``units:`` and ``accounts:`` (without sources: add each account's feed under ``source:``)."""
    units: dict[str, dict[str, str]] = {}
    accounts: dict[str, dict[str, str]] = {}
    for row in rows:
        unit = units.setdefault(row.unit, {"id": stable_id("u", row.unit), "name": row.unit})
        accounts.setdefault(account_id(row), {"id": account_id(row), "unit": unit["id"], "platform": row.platform,
                                              "name": row.name, "status": status})
    return {"units": list(units.values()), "accounts": list(accounts.values())}


def _key(platform: str, name: str) -> tuple[str, str]:
    return platform, "".join(name.split()).lower()


def unregistered(model: InventoryModel, found: list[AccountRow]) -> list[Unregistered]:
    """The accounts found that the inventory does not list as registered (已备案 or 已关停)."""
    registered = {_key(a.platform, a.name) for a in model.accounts if a.status != "未备案"}
    unit_ids = {u.name: u.id for u in model.units}
    out: list[Unregistered] = []
    seen: set[tuple[str, str]] = set()
    for row in found:
        key = _key(row.platform, row.name)
        if key in registered or key in seen:
            continue
        seen.add(key)
        unit_id = unit_ids.get(row.unit)
        message = f"未备案：{row.unit}的{row.platform}账号「{row.name}」不在已备案的政务新媒体清单中"
        out.append(Unregistered(row, unit_id, message + ("" if unit_id else "（该单位也不在清单中）")))
    return out
