"""``govwatch demo``: a loopback fleet of realistic sites watched by the real daemon on SQLite."""

from __future__ import annotations

import tempfile
import unicodedata
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

from monitor import config
from monitor.demo.fleet import Fleet, demo_accounts, demo_fleet
from monitor.evaluate import TZ
from monitor.report.xlsx import save_as_text
from monitor.service import monitoring, run_service
from monitor.web import views


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 0)


def state_table(rows: list[dict[str, object]]) -> str:
    """The rows as an aligned plain-text table (CJK characters count double)."""
    header = ("状态", "类型", "责任单位", "网站/平台", "栏目/账号", "类别", "最新信息", "说明")
    lines = [
        (str(r["state_label"]), views.KIND_LABELS.get(str(r["kind"]), str(r["kind"])), str(r["unit"]),
         str(r["site"]), str(r["column"]), str(r["category"]),
         str(r["newest_date"] or "—"), str(r["detail"]))
        for r in rows
    ]
    return _table(header, lines)


def _table(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> str:
    """Aligned columns; the last column is left ragged."""
    widths = [max(_width(row[i]) for row in [header, *lines]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(_pad(cell, w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in [header, *lines]
    )


DEMO_SITE_PORT = 8081  # the first demo site's port when free: the README's examples probe it


async def run_demo(once: bool, listen: str, workdir: str | None = None) -> int:
    """The demo in ``workdir`` (kept), or in a temporary folder removed on exit."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="govwatch-demo-") as folder:
            return await _demo(once, listen, Path(folder), kept=False)
    return await _demo(once, listen, Path(workdir), kept=True)


async def _demo(once: bool, listen: str, folder: Path, kept: bool) -> int:
    today = datetime.now(TZ).date()
    folder.mkdir(parents=True, exist_ok=True)
    async with Fleet(demo_fleet(today), today, accounts=demo_accounts(today), port=DEMO_SITE_PORT) as fleet:
        path = folder / "inventory.yaml"
        # The fleet's https:// links stand for the outside world: the demo's link crawler stays on loopback.
        fleet.write_inventory(path, store=str(folder / "govwatch.sqlite3"), listen=listen,
                              fetch={"timeout": "5s", "per_host_interval": "0s"},
                              links={"ignore": ["https://"], "retry_after": "2s"})
        write_sheet(fleet.inventory(), folder / SHEET)
        inventory = config.load(path)
        if not once:
            where = f"{folder}" if kept else f"{folder}，退出时删除 (removed on exit; keep it with --dir)"

            def banner(board: str) -> None:
                print(f"govwatch demo: board at {board}  (inventory.yaml and {SHEET} in {where}; Ctrl-C to stop)\n"
                      f"  try: govwatch probe {fleet.url(0, '/col/1/index.html')} --json", flush=True)

            return await run_service(inventory, checks_now=True, ready=banner)  # findings on the board at once
        async with monitoring(inventory) as monitor:
            await monitor.sweep_once()
            await monitor.check_once()
            rows = views.rows(monitor.tracked.values(), monitor.clock())
            found = views.finding_rows(await monitor.store.findings_list(), monitor)
    print(state_table(rows))
    counts = views.counts(rows)
    print("\n" + "  ".join(f"{views.STATE_LABELS[s]} {s}: {counts[s]}" for s in counts))
    if found:
        print("\n" + findings_table(found))
    return 0


SHEET = "栏目清单.xlsx"
SHEET_HEADER = ("单位", "网站", "网站首页", "栏目", "地址", "类别", "列表选择器", "日期选择器", "日期格式")


def write_sheet(inventory: dict, path: Path) -> None:
    """The demo's sites as an office's sheet (one row per column), the kind ``govwatch import-excel`` reads."""
    units = {u["id"]: u["name"] for u in inventory["units"]}
    book = Workbook()
    sheet = book.active
    sheet.title = "栏目清单"
    sheet.append(SHEET_HEADER)
    for site in inventory["sites"]:
        for column in site["columns"]:
            sheet.append((units[site["unit"]], site["name"], site["homepage"], column["name"], column["url"],
                          column["category"], column.get("list"), column.get("date"), column.get("date_format")))
    save_as_text(book, path)


def findings_table(found: list[dict[str, object]]) -> str:
    """Open findings as an aligned plain-text table, worst first."""
    header = ("程度", "检查项", "责任单位", "网站", "问题")
    lines = [(str(f["severity_label"]), str(f["label"]), str(f["unit"]), str(f["site"]), str(f["title"]))
             for f in found]
    return f"监测发现 findings: {len(found)}\n{_table(header, lines)}"
