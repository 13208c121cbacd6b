"""The quarterly score table against a hand-computed 2026 Q4 verdict and findings history."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from monitor import cli
from monitor.evaluate import TZ, Verdict
from monitor.findings import Finding, Known, Status, mark, reconcile
from monitor.model import State, Target, TargetKind
from monitor.records import FindingsRecord, VerdictRecord
from monitor.report.files import write_all
from monitor.report.history import quarter_report
from monitor.report.notice import draft_notice
from monitor.report.score import Quarter, Scoring
from monitor.report.xlsx import display_width
from monitor.rules import DEFAULT_RULES
from monitor.store import Store, store_at

UNITS = [("fgj", "县发展和改革局"), ("jyj", "县教育局"), ("wjw", "县卫生健康委员会"), ("zfb", "县<政府>办"),
         ("hbj", "县环保局"), ("sfj", "县司法局"), ("zjj", "县住房和城乡建设局")]
SITES = {"s1": ("fgj", "县发改局网站"), "s2": ("jyj", "县教育局网站"), "s3": ("wjw", "县卫健委网站"),
         "s4": ("zfb", "A&B <网站>"), "s5": ("sfj", "县司法局网站"), "s6": ("zjj", "县住建局网站"),
         "s7": ("hbj", "县环保局网站"), "nm-fgj": ("fgj", "政务新媒体"), "nm-jyj": ("jyj", "政务新媒体"),
         "nm-wjw": ("wjw", "政务新媒体"), "nm-zfb": ("zfb", "政务新媒体"), "nm-hbj": ("hbj", "政务新媒体")}
TARGETS = [  # id, kind, site, category
    ("s1-home", "homepage", "s1", "首页"), ("s1-news", "column", "s1", "动态要闻"),
    ("s1-notice", "column", "s1", "通知公告"), ("s1-docs", "column", "s1", "政策文件"),
    ("s1-plan", "column", "s1", "规划计划"), ("s1-hr", "column", "s1", "人事信息"),
    ("s2-home", "homepage", "s2", "首页"), ("s2-news", "column", "s2", "动态要闻"),
    ("s3-c1", "column", "s3", "动态要闻"), ("s3-c2", "column", "s3", "动态要闻"), ("s3-c3", "column", "s3", "动态要闻"),
    ("s3-c4", "column", "s3", "通知公告"), ("s3-c5", "column", "s3", "政策文件"),
    ("s4-news", "column", "s4", "动态要闻"),
    # five blank columns (空白栏目 veto): 2 通知公告 and 3 规划计划
    *[(f"s5-b{i}", "column", "s5", "通知公告" if i < 2 else "规划计划") for i in range(5)],
    # ten columns of a category that deducts nothing, stale at once (栏目长期未更新 veto)
    *[(f"s6-c{i}", "column", "s6", "机构职能") for i in range(10)],
    ("s7-news", "column", "s7", "动态要闻"),
    ("a1", "account", "nm-fgj", "政务新媒体"), ("a2", "account", "nm-jyj", "政务新媒体"),
    ("a3", "account", "nm-wjw", "政务新媒体"), ("a4", "account", "nm-zfb", "政务新媒体"),
    ("a5", "account", "nm-hbj", "政务新媒体"),
]
ACCOUNTS = {"a1": "青溪发布（微博）", "a2": "县教育局（微信公众号）", "a3": "健康青溪（抖音）",
            "a4": "县政府办（今日头条）", "a5": "环保青溪（微博）"}
D = "2026-10-01"
REASONS = {"green": "fresh", "yellow": "near_deadline", "red": "stale", "unknown": "fetch_failed"}


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
    # red since before the quarter, at govwatch's first look: one episode in it, dated from its deadline (07-01)
    "s1-notice": [("08-01", "red")],
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
    **{f"s5-b{i}": [("09-01", "red")] for i in range(5)},  # blank: red for "empty" (below)
    # nine red from 10-20 to 11-30, the tenth on 11-01 only: ten at once from 11-01 09:00
    **{f"s6-c{i}": [("10-20", "red"), ("11-30", "green")] for i in range(9)},
    "s6-c9": [("11-01", "red"), ("11-02", "green")],
    "s7-news": [("09-01", "green")],
    # accounts: red 11-16…11-25 (不合格); green (a red finding fails it, below); red only before the quarter
    # (合格); red into the quarter through an unknown (不合格); green (合格)
    "a1": [("09-01", "green"), ("11-12 00:00", "yellow"), ("11-16 00:00", "red"), ("11-25", "green")],
    "a2": [("09-01", "green")],
    "a3": [("09-01", "red"), ("09-20", "green")],
    "a4": [("09-10", "red"), ("09-28", "unknown"), ("10-03", "green")],
    "a5": [("09-01", "green")],
}


# The deadline a red verdict carries (where the test needs one) and the newest item's date (else D).
DEADLINES = {("s1-news", "10-15 00:00"): "10-15 00:00", ("s1-notice", "08-01"): "07-01 00:00"}
NEWEST = {"a1": date(2026, 11, 1), "s1-notice": date(2025, 12, 31), **{f"s5-b{i}": None for i in range(5)}}


async def build_store(location: str) -> None:
    """The targets, then the verdict history as deadline timers write it and the findings' trail as the daemon
    writes it, through the store's protocol (either backend)."""
    names = dict(UNITS)
    rule = DEFAULT_RULES["动态要闻"]
    targets = [Target(tid, TargetKind(kind), ACCOUNTS.get(tid, f"栏目{tid}"), f"http://127.0.0.1:8081/{tid}/", site,
                      SITES[site][1], SITES[site][0], names[SITES[site][0]], replace(rule, category=category))
               for tid, kind, site, category in TARGETS]
    store = store_at(location)
    await store.open()
    try:
        await store.sync_targets(targets, datetime.fromtimestamp(0, TZ))
        await write_verdicts(store)
        await write_findings(store)
    finally:
        await store.close()


async def write_verdicts(store: Store) -> None:
    """The history through the store's write path, as deadline timers write it."""
    records = []
    for tid, rows in HISTORY.items():
        for when, state in rows:
            deadline = DEADLINES.get((tid, when))
            reason = "empty" if tid.startswith("s5-") else REASONS[state]
            newest = NEWEST.get(tid, date.fromisoformat(D))
            at = datetime.fromtimestamp(t(when), TZ)
            records.append(VerdictRecord(tid, at, Verdict(State(state), (reason,), newest,
                                                          deadline=None if deadline is None else
                                                          datetime.fromtimestamp(t(deadline), TZ))))
    await store.write(records)


def finding(check: str, subject: str, site: str, severity: State, title: str, key: str | None = None) -> Finding:
    return Finding(check, subject, key or title, severity, title, SITES[site][0], site, detail=f"证据：{title}")


BACKDATED = finding("backdated", "s7-news", "s7", State.RED,
                    "「通知」标注 2026-09-20，2026-10-08 才首次出现，疑似伪造发稿日期")
UNREACHABLE = "县环保局网站访问失败率 3%"
LATE = "留言超 5 个工作日未回复"
UNANSWERED = "单项否决 互动回应差：局长信箱有 1 条有效留言超过 3 个月未回复"
# (when, check, subject, what the check sees now) — or (when, mark, finding title, status) for an operator's mark
FINDINGS: list[tuple[str, str, str, list[Finding] | Status]] = [
    ("09-01", "availability", "s1-home", [finding("availability", "s1-home", "s1", State.RED, "县发改局网站无法访问")]),
    ("09-10", "availability", "s1-home", []),  # gone before the quarter: no veto
    ("10-08", "backdated", "s7-news", [BACKDATED]),  # open to the end: veto
    ("10-10", "word", "s1-home", [finding("word", "s1-home", "s1", State.RED, "「国务院总里」"),
                                  finding("word", "s1-home", "s1", State.YELLOW, "「按装」")]),
    ("10-12", "mark", "「国务院总里」", Status.FALSE_POSITIVE),  # an operator: not a problem; the yellow is no veto
    ("11-01", "availability", "s7-home", [finding("availability", "s7-home", "s7", State.YELLOW, UNREACHABLE)]),
    ("11-03", "availability", "s7-home", [finding("availability", "s7-home", "s7", State.RED, UNREACHABLE)]),
    ("11-05", "availability", "s7-home", []),  # red 11-03…11-05: veto
    ("12-01", "word", "a2", [finding("word", "a2", "nm-jyj", State.RED, "「中华人民共和国国务院总里」")]),
    ("12-02", "broken_link", "s1-home", [finding("broken_link", "s1-home", "s1", State.RED, "首页错链")]),  # no veto
    # a message red past its 5 working days is no veto; the box's 3-month finding (key "veto") is
    ("12-03", "message_overdue", "s1-box", [finding("message_overdue", "s1-box", "s1", State.RED, LATE)]),
    ("12-04", "message_overdue", "s2-box", [finding("message_overdue", "s2-box", "s2", State.RED, UNANSWERED, "veto")]),
    ("2027-01-02", "hidden_link", "s1-home", [finding("hidden_link", "s1-home", "s1", State.RED, "暗链")]),  # after
]


async def write_findings(store: Store) -> None:
    """The findings' trail as the daemon writes it: reconcile (and an operator's mark) → the store."""
    known: dict[tuple[str, str], dict[str, Known]] = {}
    for when, check, subject, seen in FINDINGS:
        at = datetime.fromtimestamp(t(when), TZ)
        if isinstance(seen, Status):
            was = next(k for scope in known.values() for k in scope.values() if k.finding.title == subject)
            changes = [mark(was, seen, at, "张三", "误报")]
        else:
            changes = reconcile(known.get((check, subject), {}), seen, at)
        for change in changes:
            f = change.known.finding
            known.setdefault((f.check, f.subject), {})[f.uid] = change.known
        await store.write([FindingsRecord(tuple(changes))])


@pytest.fixture
def store(store_location: str) -> str:
    """The hand-computed history in a store, once on SQLite and once on PostgreSQL."""
    asyncio.run(build_store(store_location))
    return store_location


def report_for(store: str, scoring: Scoring | None = None):
    async def read():
        db = store_at(store)
        await db.open()
        try:
            return await quarter_report(db, Quarter.parse("2026Q4"), scoring or Scoring(), UNITS,
                                        now=datetime(2027, 1, 5, tzinfo=TZ))
        finally:
            await db.close()

    return asyncio.run(read())


def test_quarter_parsing() -> None:
    q = Quarter.parse("2026Q4")
    assert (q.first_day, q.last_day, q.label) == (date(2026, 10, 1), date(2026, 12, 31), "2026年第四季度")
    assert Quarter.parse("2027q1").last_day == date(2027, 3, 31)
    with pytest.raises(ValueError, match="2026Q4"):
        Quarter.parse("2026-4")


def test_hand_computed_scores_in_the_xlsx(store: str, tmp_path: Path) -> None:
    report = report_for(store)
    paths = write_all(report, tmp_path / "out")
    sheet = load_workbook(paths[0])["季度得分表"]
    assert sheet["A1"].value == "2026年第四季度政府网站监测得分表"
    assert "2026年10月1日-12月31日" in sheet["A2"].value
    assert [c.value for c in sheet[3]][:2] == ["单位", "栏目更新监测"]
    assert [c.value for c in sheet[4]][1:5] == ["工作动态（预警扣分）", "通知公告（预警扣分）", "部门文件（预警扣分）",
                                               "规划计划（预警扣分）"]
    assert [c.value for c in sheet[3]][5:10] == ["季度扣分", "季度得分", "预警次数", "是否合格", "说明"]
    rows = {r[0]: r[1:9] for r in sheet.iter_rows(min_row=5, max_row=11, values_only=True)}
    #               工作动态 通知公告 部门文件 规划计划 扣分 得分 预警 结论
    assert rows == {
        "县发展和改革局": (9, 4, 0, 10, 23, 77, 6, "合格"),  # its red word finding was marked a false positive
        "县教育局": (3, 0, 0, 0, 3, 97, 2, "不合格"),  # homepage red at the quarter's end (0 points, a veto)
        "县卫生健康委员会": (9, 4, 4, 0, 17, 83, 5, "不合格"),  # 5 columns red at once
        "县<政府>办": (105, 0, 0, 0, 105, 0, 35, "不合格"),  # floor 0, under 60
        "县环保局": (0, 0, 0, 0, 0, 100, 0, "不合格"),  # a back-dated item and the site unreachable
        "县司法局": (0, 8, 0, 15, 23, 77, 5, "不合格"),  # 5 blank columns
        "县住房和城乡建设局": (0, 0, 0, 0, 0, 100, 10, "不合格"),  # 10 columns stale at once, no points
    }
    notes = {r[0]: r[9] for r in sheet.iter_rows(min_row=5, max_row=11, values_only=True)}
    assert notes["县发展和改革局"] == "账号青溪发布（微博）：不合格"
    assert notes["县教育局"] == ("县教育局网站：留言超期未回复；县教育局网站：首页不更新；"
                              "账号县教育局（微信公众号）：不合格")
    assert notes["县卫生健康委员会"] == "县卫健委网站：栏目不更新"
    assert notes["县<政府>办"] == "账号县政府办（今日头条）：不合格"
    assert notes["县环保局"] == "县环保局网站：倒签发稿日期；县环保局网站：站点无法访问"
    assert notes["县司法局"] == "县司法局网站：空白栏目"
    assert notes["县住房和城乡建设局"] == "县住建局网站：栏目长期未更新"
    assert sheet["A12"].value == ("网站合格率：14.29%（1/7 个网站合格）；"
                                  "政务新媒体合格率：40.00%（2/5 个账号合格）")
    assert (report.sites_passed, len(report.sites), report.accounts_passed, len(report.accounts)) == (1, 7, 2, 5)
    vetoes = {(r[1], r[2]): r[3] for r in load_workbook(paths[0])["单项否决"].iter_rows(min_row=2, values_only=True)}
    assert vetoes[("县环保局网站", "站点无法访问")] == (  # the site is named by its own column, not again
        "访问失败率 3%（2026-11-03 09:00 发现，2026-11-05 09:00 消除）。证据：县环保局网站访问失败率 3%")
    assert vetoes[("县环保局网站", "倒签发稿日期")].startswith(
        f"{BACKDATED.title}（2026-10-08 09:00 发现，截至统计时仍存在）")
    assert vetoes[("县司法局网站", "空白栏目")] == ("2026-10-01 00:00 起同时有 5 个空白栏目（5 个即单项否决）："
                                                 "栏目s5-b0、栏目s5-b1、栏目s5-b2、栏目s5-b3、栏目s5-b4")
    assert vetoes[("县住建局网站", "栏目长期未更新")].startswith("2026-11-01 09:00 起同时有 10 个应更新栏目长期未更新")
    accounts = {r[1]: r[3:] for r in load_workbook(paths[0])["政务新媒体"].iter_rows(min_row=2, values_only=True)}
    assert accounts["青溪发布（微博）"] == (
        "不合格", "【单项否决·内容不更新】2026-11-16 00:00 起超过更新期限未更新（最新发布 2026-11-01），"
        "2026-11-25 09:00 恢复更新")
    assert accounts["县教育局（微信公众号）"][0] == "不合格" and "错敏词" in accounts["县教育局（微信公众号）"][1]
    assert accounts["健康青溪（抖音）"] == ("合格", None)  # red only before the quarter
    assert accounts["县政府办（今日头条）"][1].startswith("【单项否决·内容不更新】2026-09-10 09:00 起")
    assert accounts["环保青溪（微博）"] == ("合格", None)
    detail = load_workbook(paths[0])["预警明细"]
    news = [r for r in detail.iter_rows(min_row=2, values_only=True) if r[2] == "栏目s1-news"]
    assert [(r[6], r[7], r[8], r[9], r[10]) for r in news] == [
        ("2026-10-11 09:00", "2026-10-15 00:00", "2026-10-20 09:00", 6, 3),
        ("2026-11-01 09:00", None, "2026-11-04 09:00", 0, 3),
        ("2026-12-20 09:00", None, "未恢复", 0, 3),
    ]


def nested_brackets(text: str) -> list[str]:
    """The places where a bracket opens inside another: 「（通知公告，超期（红））」."""
    depth, found = 0, []
    for i, ch in enumerate(text):
        if ch in "（(":
            depth += 1
            if depth > 1:
                found.append(text[max(0, i - 30):i + 30])
        elif ch in "）)":
            depth = max(0, depth - 1)
        elif ch == "\n":
            depth = 0
    return found


def test_report_wording_no_nested_brackets_nor_none(store: str, tmp_path: Path) -> None:
    paths = write_all(report_for(store), tmp_path / "out")
    cells = [str(c) for sheet in load_workbook(paths[0]).worksheets
             for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    page = re.sub(r"<[^>]+>", "\n", paths[1].read_text(encoding="utf-8"))
    notice = paths[2].read_text(encoding="utf-8")
    for text in (*cells, page, notice):
        assert nested_brackets(text) == [], text
        assert "None" not in text and "null" not in text, text


def test_detail_sheets_have_widths_and_frozen_headers(store: str, tmp_path: Path) -> None:
    book = load_workbook(write_all(report_for(store), tmp_path / "out")[0])
    for name in ("预警明细", "单项否决", "政务新媒体"):
        sheet = book[name]
        assert sheet.freeze_panes == "A2", name  # the header stays in view while scrolling
        assert all(cell.font.bold for cell in sheet[1]), name
        for column in sheet.iter_cols():
            letter = column[0].column_letter
            width = sheet.column_dimensions[letter].width
            widest = max(display_width(str(c.value)) for c in column if c.value is not None)
            assert min(widest, 60) <= width <= 62, (name, column[0].value, widest, width)
            if widest > 60:  # long evidence wraps in a 60-wide column rather than running off the screen
                assert all(c.alignment.wrap_text for c in column[1:] if c.value), (name, column[0].value)
    header = [c.value for c in book["预警明细"][1]]
    rows = [dict(zip(header, r, strict=True)) for r in book["预警明细"].iter_rows(min_row=2, values_only=True)]
    notice = next(r for r in rows if r["栏目"] == "栏目s1-notice")
    assert (notice["预警开始"], notice["超期开始"], notice["恢复时间"], notice["超期天数"], notice["备注"]) == (
        "2026-07-01 00:00", "2026-07-01 00:00", "未恢复", 184, "首次监测时已超期（2026-08-01 09:00）")
    news = [r for r in rows if r["栏目"] == "栏目s1-news"]
    assert [r["备注"] for r in news] == [None, None, None]  # watched before: nothing to mark
    # blank columns first seen blank say so
    blank = next(r for r in rows if r["栏目"] == "栏目s5-b0")
    assert blank["备注"] == "首次监测时已为空白栏目（2026-09-01 09:00）"


def test_html_escapes_names(store: str, tmp_path: Path) -> None:
    paths = write_all(report_for(store), tmp_path / "out")
    text = paths[1].read_text(encoding="utf-8")
    assert "县&lt;政府&gt;办" in text and "<政府>" not in text
    assert "<td>县发展和改革局</td><td>9</td><td>4</td><td>0</td><td>10</td><td>23</td><td>77</td>" in text
    assert "14.29%" in text and "40.00%" in text
    assert "<h2>不合格的政务新媒体账号</h2>" in text and "<td>青溪发布（微博）</td>" in text


def test_draft_notice_lists_evidence(store: str) -> None:
    text = draft_notice(report_for(store))
    assert text.startswith("关于2026年第四季度政府网站与政务新媒体监测情况的通报（草稿）")
    assert "对 5 个政务新媒体账号开展内容更新监测，3 个不合格，合格率 40.00%。" in text
    assert "未发现问题" not in text  # every unit has something
    assert "（一）县发展和改革局：季度扣分 23 分，季度得分 77 分，合格。" in text
    assert ("县发改局网站「栏目s1-news」栏目（动态要闻类）超期未更新：最新信息日期 2026-10-01，"
            "2026-10-11 09:00 起预警，"
            "2026-10-15 00:00 起超期，恢复前已超期 6 天，2026-10-20 09:00 恢复正常；扣 3 分。") in text
    # first seen red on 08-01: dated from its deadline, marked, the days counted from the same deadline
    assert ("县发改局网站「栏目s1-notice」栏目（通知公告类）超期未更新：最新信息日期 2025-12-31，"
            "2026-07-01 00:00 起超期（首次监测时已超期，2026-08-01 09:00 首次监测），截至统计时已超期 184 天，"
            "尚未整改；扣 4 分。") in text
    assert "县教育局网站首页超期未更新：" in text  # a homepage is no 「首页」栏目
    assert "【单项否决·首页不更新】县教育局网站" in text
    assert "【单项否决·栏目不更新】县卫健委网站：2026-11-10 09:00 起" in text
    assert f"【单项否决·倒签发稿日期】县环保局网站：{BACKDATED.title}（2026-10-08 09:00 发现，截至统计时仍存在）" \
        in text
    assert "【单项否决·空白栏目】县司法局网站：2026-10-01 00:00 起同时有 5 个空白栏目" in text
    assert ("【单项否决·内容不更新】政务新媒体账号「青溪发布（微博）」：2026-11-16 00:00 起超过更新期限未更新"
            "（最新发布 2026-11-01），2026-11-25 09:00 恢复更新。地址：http://127.0.0.1:8081/a1/") in text
    assert "【单项否决·错敏词】政务新媒体账号「县教育局（微信公众号）」：「中华人民共和国国务院总里」" in text
    # not vetoes: the operator's false positive, a yellow word, a broken link, findings outside the quarter
    assert "国务院总里」（" not in text.replace("中华人民共和国国务院总里", "")
    assert LATE not in text and f"【单项否决·留言超期未回复】县教育局网站：{UNANSWERED}" in text
    assert "按装" not in text and "首页错链" not in text and "暗链" not in text and "县发改局网站无法访问" not in text


def test_configurable_deductions(store: str, tmp_path: Path) -> None:
    scoring_file = tmp_path / "scoring.yaml"
    scoring_file.write_text("deductions: {动态要闻: 1}\npass_mark: 80\n", encoding="utf-8")
    report = report_for(store, Scoring.load(scoring_file))
    fgj = report.units[0]
    assert (fgj.by_column["工作动态"], fgj.deduction, fgj.score) == (3, 17, 83)
    assert report.units[3].score == 65 and not report.units[3].passed(report.scoring)  # under 80
    scoring_file.write_text("deduction: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown keys"):
        Scoring.load(scoring_file)
    # veto checks are configurable: without availability and backdated, 县环保局 passes
    scoring_file.write_text("veto_checks: [word, hidden_link]\n", encoding="utf-8")
    report = report_for(store, Scoring.load(scoring_file))
    assert report.units[4].vetoes == [] and report.units[4].passed(report.scoring)
    scoring_file.write_text("veto_checks: [wrod]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="wrod"):
        Scoring.load(scoring_file)


def test_cli_report(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        f"settings: {{store: {store}}}\nunits:\n  - {{id: fgj, name: 县发展和改革局}}\nsites: []\n", encoding="utf-8")
    out = tmp_path / "reports"
    assert cli.main(["report", "--config", str(inventory), "--quarter", "2026Q3", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["notice-2026Q3.txt", "score-2026Q3.html", "score-2026Q3.xlsx"]
    assert "2026Q3" in capsys.readouterr().out
    assert cli.main(["report", "--config", str(inventory), "--quarter", "Q3", "--out", str(out)]) == 2
