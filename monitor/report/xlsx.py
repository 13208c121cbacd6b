"""The score table as an xlsx in the seed's column layout (openpyxl), with the evidence sheets 预警明细, 单项否决
and 政务新媒体."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from unicodedata import east_asian_width

from monitor.report.score import Report
from monitor.report.table import column_headers, number, rates_line, titles, unit_row

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

# A cell whose text starts so is a formula to a spreadsheet (a unit named =HYPERLINK(…) in an office's sheet).
FORMULA_START = ("=", "+", "-", "@")
MAX_WIDTH = 60  # a list sheet's column at most this wide; longer texts wrap


def save_as_text(book: Workbook, path: Path) -> None:
    """Save ``book`` with every text cell kept as text: one that starts like a formula is stored as a string
    (never openpyxl's formula) and shown with Excel's quote prefix, so opening or editing it evaluates nothing.
    Every xlsx govwatch writes goes through here."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                    cell.data_type = "s"
                    cell.quotePrefix = True
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet cell: a Chinese character (or full-width sign) takes two."""
    return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text)


def lay_out_list(sheet: Worksheet) -> None:
    """A list sheet (a header row, then one row per item) made readable: each column as wide as its longest
    value (header included) up to ``MAX_WIDTH``, longer texts wrapped, the header bold and frozen in view."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    for index, column in enumerate(sheet.iter_cols(values_only=True), start=1):
        widest = max((display_width(str(v)) for v in column if v is not None), default=0)
        sheet.column_dimensions[get_column_letter(index)].width = min(widest + 2, MAX_WIDTH)
        if widest + 2 > MAX_WIDTH:
            for row in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                row[0].alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"


def write_xlsx(report: Report, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "季度得分表"
    headers = column_headers(report)
    width = 1 + len(headers) + 5
    title, period = titles(report)
    sheet.append([title])
    sheet.append([period])
    sheet.append(["单位", "栏目更新监测", *[None] * (len(headers) - 1), "季度扣分", "季度得分", "预警次数", "是否合格",
                  "说明"])
    sheet.append([None, *headers, *[None] * 5])
    last = get_column_letter(width)
    sheet.merge_cells(f"A1:{last}1")
    sheet.merge_cells(f"A2:{last}2")
    sheet.merge_cells("A3:A4")
    sheet.merge_cells(start_row=3, start_column=2, end_row=3, end_column=1 + len(headers))
    for col in range(2 + len(headers), width + 1):
        sheet.merge_cells(start_row=3, start_column=col, end_row=4, end_column=col)
    for unit in report.units:
        sheet.append(unit_row(report, unit))
    sheet.append([rates_line(report)])
    sheet.merge_cells(start_row=sheet.max_row, start_column=1, end_row=sheet.max_row, end_column=width)
    thin = Side(style="thin")
    for row in sheet.iter_rows(min_row=3, max_row=sheet.max_row):
        for cell in row:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = sheet["A2"].alignment = Alignment(horizontal="center")
    sheet.column_dimensions["A"].width = 24
    for col in range(2, width + 1):
        sheet.column_dimensions[get_column_letter(col)].width = 14
    sheet.column_dimensions[last].width = 40
    sheet.freeze_panes = "B5"

    detail = book.create_sheet("预警明细")
    detail.append(["单位", "网站", "栏目", "类别", "栏目地址", "最新信息日期", "预警开始", "超期开始", "恢复时间",
                   "超期天数", "扣分", "备注"])
    for unit in report.units:
        for w in unit.warnings:
            t = w.target
            note = f"{w.first_seen_text}（{w.first_seen:%Y-%m-%d %H:%M}）" if w.first_seen else ""
            detail.append([unit.name, t.site_name, t.name, t.category, t.url,
                           w.newest_date.isoformat() if w.newest_date else "", f"{w.start:%Y-%m-%d %H:%M}",
                           f"{w.red_at:%Y-%m-%d %H:%M}" if w.red_at else "",
                           f"{w.end:%Y-%m-%d %H:%M}" if w.end else "未恢复", w.overdue_days or 0, number(w.points),
                           note])

    vetoes = book.create_sheet("单项否决")
    vetoes.append(["单位", "网站", "否决项", "证据"])
    for unit in report.units:
        for v in unit.vetoes:
            vetoes.append([unit.name, v.site_name, v.reason, v.detail])
    sheets = [detail, vetoes]
    if report.accounts:
        accounts = book.create_sheet("政务新媒体")
        accounts.append(["单位", "账号", "地址", "是否合格", "问题及证据"])
        for a in report.accounts:
            accounts.append([a.target.unit_name, a.target.name, a.target.url, "合格" if a.passed else "不合格",
                             "；".join(a.problems)])
        sheets.append(accounts)
    for sheet in sheets:
        lay_out_list(sheet)
    save_as_text(book, path)
