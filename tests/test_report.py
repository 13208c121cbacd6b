"""The quarterly score table against a hand-computed 2026 Q4 verdict history."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from monitor import cli
from monitor.evaluate import TZ
from monitor.report import Quarter, Scoring, compute, draft_notice, write_all
from monitor.store.sqlite import SQLiteStore

UNITS = [("fgj", "县发展和改革局"), ("jyj", "县教育局"), ("wjw", "县卫生健康委员会"), ("zfb", "县<政府>办"),
         ("hbj", "县环保局")]
SITES = {"s1": ("fgj", "县发改局网站"), "s2": ("jyj", "县教育局网站"), "s3": ("wjw", "县卫健委网站"),
         "s4": ("zfb", "A&B <网站>")}
TARGETS = [  # id, kind, site, category
    ("s1-home", "homepage", "s1", "首页"), ("s1-news", "column", "s1", "动态要闻"),
    ("s1-notice", "column", "s1", "通知公告"), ("s1-docs", "column", "s1", "政策文件"),
    ("s1-plan", "column", "s1", "规划计划"), ("s1-hr", "column", "s1", "人事信息"),
    ("s2-home", "homepage", "s2", "首页"), ("s2-news", "column", "s2", "动态要闻"),
    ("s3-c1", "column", "s3", "动态要闻"), ("s3-c2", "column", "s3", "动态要闻"), ("s3-c3", "column", "s3", "动态要闻"),
    ("s3-c4", "column", "s3", "通知公告"), ("s3-c5", "column", "s3", "政策文件"),
    ("s4-news", "column", "s4", "动态要闻"),
]
D = "2026-10-01"


def t(text: str) -> float:
    """'MM-DD' or 'MM-DD HH:MM' in 2026 (or a full date), Asia/Shanghai, as unix seconds."""
    if not text.startswith("20"):
        text = f"2026-{text}"
    day, _, clock = text.partition(" ")
    hour, minute = (int(x) for x in (clock or "09:00").split(":"))
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=TZ).replace(
        hour=hour, minute=minute).timestamp()


HISTORY: dict[str, list[tuple[str, str]]] = {
    "s1-home": [("09-01", "green")],
    # three episodes: 10-11…10-20 (red from 10-15: 6 days overdue, as the alerts count);
    # 11-01…11-04 through an unknown; 12-20 still open
    "s1-news": [("09-20", "green"), ("10-11", "yellow"), ("10-15 00:00", "red"), ("10-20", "green"),
                ("11-01", "yellow"), ("11-02", "unknown"), ("11-03", "yellow"), ("11-04", "green"),
                ("12-20", "yellow")],
    "s1-notice": [("08-01", "red")],  # red since before the quarter: one episode in it
    "s1-docs": [("09-01", "green"), ("2027-01-02", "yellow")],  # after the quarter: not counted
    "s1-plan": [("06-01", "yellow"), ("09-30", "green"), ("12-31 23:00", "red")],
    "s1-hr": [("11-10", "yellow"), ("11-20", "green")],
    "s2-home": [("12-21", "yellow"), ("12-25 00:00", "red")],  # red at the quarter's end: veto
    "s2-news": [("10-05", "yellow"), ("10-06", "green")],
    # five news/notice/policy columns red at once from 11-10 to 11-12: veto
    "s3-c1": [("11-01", "red"), ("11-20", "green")],
    "s3-c2": [("11-01", "red"), ("11-20", "green")],
    "s3-c3": [("11-01", "red"), ("11-20", "green")],
    "s3-c4": [("11-05", "red"), ("12-01", "green")],
    "s3-c5": [("11-10", "red"), ("11-12", "green")],
    # 35 short episodes: 105 points, the score floors at 0
    "s4-news": [(f"{10 + i // 28}-{1 + i % 28:02d} {h}", s) for i in range(35)
                for h, s in (("08:00", "yellow"), ("10:00", "green"))],
}


def build_store(path: Path) -> None:
    import asyncio

    async def migrate() -> None:
        store = SQLiteStore(path)
        await store.open()
        await store.close()

    asyncio.run(migrate())
    names = dict(UNITS)
    db = sqlite3.connect(path)
    with db:
        for tid, kind, site, category in TARGETS:
            unit = SITES[site][0]
            db.execute("INSERT INTO targets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)",
                       (tid, kind, f"栏目{tid}", f"http://127.0.0.1:8081/{tid}/", site, SITES[site][1], unit,
                        names[unit], category))
        for tid, rows in HISTORY.items():
            for when, state in rows:
                deadline = t("10-15 00:00") if tid == "s1-news" and when == "10-15 00:00" else None
                db.execute("INSERT INTO verdicts (target_id, at, state, reasons, newest_date, deadline, detail)"
                           " VALUES (?, ?, ?, '[]', ?, ?, '')", (tid, t(when), state, D, deadline))
        # s1-news: probed 10-05…10-07 with item a; x, dated 10-02, first appears on 10-08 (back-dated)
        for day in ("10-05", "10-06", "10-07", "10-08"):
            db.execute("INSERT INTO observations (target_id, at, fetch_ms, http_status, not_modified, newest_date,"
                       " item_count) VALUES ('s1-news', ?, 5, 200, 0, '2026-10-01', 1)", (t(day),))
        db.execute("INSERT INTO items VALUES ('s1-news', 'http://x/a', '旧闻', '2026-10-01', ?, ?)",
                   (t("10-05"), t("10-08")))
        db.execute("INSERT INTO items VALUES ('s1-news', 'http://x/x', '补发的新闻', '2026-10-02', ?, ?)",
                   (t("10-08"), t("10-08")))
    db.close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "govwatch.sqlite3"
    build_store(path)
    return path


def report_for(store: Path):
    db = sqlite3.connect(store)
    try:
        return compute(db, Quarter.parse("2026Q4"), Scoring(), UNITS, now=datetime(2027, 1, 5, tzinfo=TZ))
    finally:
        db.close()


def test_quarter_parsing() -> None:
    q = Quarter.parse("2026Q4")
    assert (q.first_day, q.last_day, q.label) == (date(2026, 10, 1), date(2026, 12, 31), "2026年第四季度")
    assert Quarter.parse("2027q1").last_day == date(2027, 3, 31)
    with pytest.raises(ValueError, match="2026Q4"):
        Quarter.parse("2026-4")


def test_hand_computed_scores_in_the_xlsx(store: Path, tmp_path: Path) -> None:
    report = report_for(store)
    paths = write_all(report, tmp_path / "out")
    sheet = load_workbook(paths[0])["季度得分表"]
    assert sheet["A1"].value == "2026年第四季度政府网站监测得分表"
    assert "2026年10月1日-12月31日" in sheet["A2"].value
    assert [c.value for c in sheet[3]][:2] == ["单位", "栏目更新监测"]
    assert [c.value for c in sheet[4]][1:5] == ["工作动态（预警扣分）", "通知公告（预警扣分）", "部门文件（预警扣分）",
                                               "规划计划（预警扣分）"]
    assert [c.value for c in sheet[3]][5:10] == ["季度扣分", "季度得分", "预警次数", "是否合格", "说明"]
    rows = {r[0]: r[1:9] for r in sheet.iter_rows(min_row=5, max_row=9, values_only=True)}
    #               工作动态 通知公告 部门文件 规划计划 扣分 得分 预警 结论
    assert rows == {
        "县发展和改革局": (9, 4, 0, 10, 23, 77, 6, "合格"),
        "县教育局": (3, 0, 0, 0, 3, 97, 2, "不合格"),  # homepage red at the quarter's end (0 points, a veto)
        "县卫生健康委员会": (9, 4, 4, 0, 17, 83, 5, "不合格"),  # 5 columns red at once
        "县<政府>办": (105, 0, 0, 0, 105, 0, 35, "不合格"),  # floor 0, under 60
        "县环保局": (0, 0, 0, 0, 0, 100, 0, "合格"),  # no targets yet
    }
    assert "首页不更新" in sheet["J6"].value and "栏目不更新" in sheet["J7"].value
    assert sheet["A10"].value == "网站合格率：25.00%（1/4 个网站合格）"
    assert report.pass_rate == 0.25
    detail = load_workbook(paths[0])["预警明细"]
    news = [r for r in detail.iter_rows(min_row=2, values_only=True) if r[2] == "栏目s1-news"]
    assert [(r[6], r[7], r[8], r[9], r[10]) for r in news] == [
        ("2026-10-11 09:00", "2026-10-15 00:00", "2026-10-20 09:00", 6, 3),
        ("2026-11-01 09:00", None, "2026-11-04 09:00", 0, 3),
        ("2026-12-20 09:00", None, "未恢复", 0, 3),
    ]


def test_html_escapes_names(store: Path, tmp_path: Path) -> None:
    paths = write_all(report_for(store), tmp_path / "out")
    text = paths[1].read_text(encoding="utf-8")
    assert "县&lt;政府&gt;办" in text and "<政府>" not in text
    assert "<td>县发展和改革局</td><td>9</td><td>4</td><td>0</td><td>10</td><td>23</td><td>77</td>" in text
    assert "25.00%" in text


def test_draft_notice_lists_evidence(store: Path) -> None:
    text = draft_notice(report_for(store))
    assert text.startswith("关于2026年第四季度政府网站栏目更新监测情况的通报（草稿）")
    assert "县环保局共 1 个单位在本次监测中未发现问题" in text
    assert "（一）县发展和改革局：季度扣分 23 分，季度得分 77 分，合格。" in text
    assert ("县发改局网站「栏目s1-news」栏目（动态要闻，超期（红））：最新信息日期 2026-10-01，"
            "2026-10-11 09:00 起预警，"
            "2026-10-15 00:00 起超期，恢复前已超期 6 天，2026-10-20 09:00 恢复正常；扣 3 分。") in text
    assert "【单项否决·首页不更新】县教育局网站" in text
    assert "【单项否决·栏目不更新】县卫健委网站：2026-11-10 09:00 起" in text
    assert "【疑似伪造发稿日期，请人工核实】" in text and "「补发的新闻」标注日期 2026-10-02" in text


def test_configurable_deductions(store: Path, tmp_path: Path) -> None:
    scoring_file = tmp_path / "scoring.yaml"
    scoring_file.write_text("deductions: {动态要闻: 1}\npass_mark: 80\n", encoding="utf-8")
    db = sqlite3.connect(store)
    report = compute(db, Quarter.parse("2026Q4"), Scoring.load(scoring_file), UNITS,
                     now=datetime(2027, 1, 5, tzinfo=TZ))
    db.close()
    fgj = report.units[0]
    assert (fgj.by_column["工作动态"], fgj.deduction, fgj.score) == (3, 17, 83)
    assert report.units[3].score == 65 and not report.units[3].passed(report.scoring)  # under 80
    scoring_file.write_text("deduction: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown keys"):
        Scoring.load(scoring_file)


def test_cli_report(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        f"settings: {{store: {store}}}\nunits:\n  - {{id: fgj, name: 县发展和改革局}}\nsites: []\n", encoding="utf-8")
    out = tmp_path / "reports"
    assert cli.main(["report", "--config", str(inventory), "--quarter", "2026Q3", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["notice-2026Q3.txt", "score-2026Q3.html", "score-2026Q3.xlsx"]
    assert "2026Q3" in capsys.readouterr().out
    assert cli.main(["report", "--config", str(inventory), "--quarter", "Q3", "--out", str(out)]) == 2
