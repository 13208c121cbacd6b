"""Citizens' messages: the list-page templates, deadlines in working days across the 2026 holidays, the
3-month veto, answer-time statistics, and end to end through the check, the store, alerts, board and CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ruamel.yaml import YAML

from monitor import config
from monitor.checks.messages import MessageBox, MessagesCheck, answer_stats, findings, judge, stats_table, timing
from monitor.decode import decode_html
from monitor.evaluate import TZ
from monitor.extract.message_box import Message, MessageStatus, Unreadable, read_messages
from monitor.findings import Status
from monitor.model import State
from monitor.service import monitoring
from monitor.web.app import serve
from monitor.workdays import WorkCalendar
from tests.conftest import Endpoint, PageServer
from tests.test_alerts_delivery import wait_for

FIXTURES = Path(__file__).parent / "fixtures" / "messages"
TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
A = MessageStatus.ANSWERED
P = MessageStatus.PENDING
R = MessageStatus.REJECTED
BOX = MessageBox("qx-xzxx", "县长信箱", "http://127.0.0.1/hdjl/xzxx/index.html", "u1", "s1")


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar(None)


def page(name: str, url: str = "http://127.0.0.1:8081/hdjl/xzxx/index.html", today: date = TODAY):
    text, _ = decode_html((FIXTURES / name).read_bytes(), None)
    return read_messages(text, url, today)


def d(text: str) -> date:
    return date.fromisoformat(text)


def msg(asked: str, answered: str | None = None, status: MessageStatus = P, title: str = "咨询") -> Message:
    return Message(title, f"http://127.0.0.1/x/{asked}-{title}.html", d(asked), d(answered) if answered else None,
                   status, {A: "已回复", P: "办理中", R: "不予受理"}[status])


def rows(p: Any) -> list[tuple[str, str | None, MessageStatus]]:
    return [(m.asked.isoformat(), m.answered.isoformat() if m.answered else None, m.status) for m in p.messages]


# --- templates ---------------------------------------------------------------------------------------------


def test_gbk_leader_mailbox_table_with_pinned_notice_and_pager() -> None:
    p = page("01_ldxx_table_gbk.html")
    assert p.ok and p.layout == "grid" and p.next_url == "http://127.0.0.1:8081/hdjl/xzxx/index_1.html"
    assert rows(p) == [("2026-11-20", None, P), ("2026-11-18", "2026-11-19", A), ("2026-11-13", "2026-11-24", A),
                       ("2026-11-02", None, P), ("2026-10-28", "2026-10-29", A), ("2026-10-20", None, R),
                       ("2026-08-10", None, P)]
    titles = [m.title for m in p.messages]
    assert not any("须知" in t for t in titles) and not any("热点" in t or "供暖" in t for t in titles)
    # a title cut short with … is read whole from the link's title attribute
    assert titles[2] == "建议增加县城至白沙镇的城乡公交班次并延长末班车时间"
    assert p.messages[0].url == "http://127.0.0.1:8081/hdjl/xzxx/202611/t20261120_4702.html"
    assert [m.status_text for m in p.messages][-2:] == ["不予受理", "已受理"]


def test_interaction_dl_blocks_with_labels() -> None:
    p = page("02_zmhd_dl_utf8.html", "http://127.0.0.1:8082/hdjl/index.jsp")
    assert p.ok and p.layout == "blocks" and p.next_url == "http://127.0.0.1:8082/hdjl/index.jsp?page=2"
    assert rows(p) == [("2026-11-21", None, P), ("2026-11-16", "2026-11-17", A), ("2026-11-05", "2026-11-13", A),
                       ("2026-10-30", None, P), ("2026-09-30", "2026-10-13", A)]
    assert p.messages[0].title == "关于青溪二中周边道路早晚高峰交通拥堵的建议"  # from the title attribute
    assert p.messages[3].status_text == "待回复"  # 回复时间：-- is no date


def test_consultation_list_grid_with_header_item() -> None:
    p = page("03_zxts_ul_grid.html", "http://127.0.0.1:8083/zxts/index.html")
    assert p.ok and p.layout == "grid"
    assert rows(p) == [("2026-11-20", None, P), ("2026-11-17", None, A), ("2026-11-09", None, P),
                       ("2026-10-26", None, A)]
    assert [m.status_text for m in p.messages] == ["待回复", "已答复", "处理中", "已答复"]
    assert p.messages[0].url == "http://127.0.0.1:8083/zxts/202611/t20261120_5501.html"


def test_hotline_12345_thead_table_with_times_and_script_pager() -> None:
    p = page("04_12345_table_utf8.html", "http://127.0.0.1:8084/12345/sqgk/")
    assert p.ok and p.next_url is None  # javascript:goPage(2) is no address
    assert rows(p) == [("2026-11-23", None, P), ("2026-11-19", "2026-11-20", A), ("2026-11-16", None, P),
                       ("2026-11-02", "2026-11-06", A), ("2026-10-15", None, R)]
    assert p.messages[0].title == "白沙镇自来水水压不足"


def test_gbk_secretary_mailbox_divs_with_detail_links() -> None:
    p = page("05_szxx_div_gbk.html", "http://127.0.0.1:8085/ldxx/list.asp")
    assert p.ok and p.layout == "blocks"
    assert rows(p) == [("2026-11-12", None, P), ("2026-11-03", "2026-11-06", A), ("2026-10-09", "2026-10-19", A),
                       ("2026-06-22", "2026-10-08", A)]
    assert [m.status_text for m in p.messages] == ["待回复", "已回复", "已回复", "已回复"]
    assert not any("使用说明" in m.title for m in p.messages)


def test_bracket_status_and_year_less_dates() -> None:
    p = page("06_li_bracket_status.html", "http://127.0.0.1:8086/hdjl/zx/")
    assert rows(p) == [("2026-11-19", None, A), ("2026-11-12", None, P), ("2026-11-06", None, A)]
    assert [m.status_text for m in p.messages] == ["已回复", "未回复", "已回复"]
    early = page("06_li_bracket_status.html", "http://127.0.0.1:8086/hdjl/zx/", today=date(2027, 1, 5))
    assert early.messages[0].asked == date(2026, 11, 19)  # a year-less date is never in the future


@pytest.mark.parametrize(("name", "reason"), [
    ("07_js_rendered.html", Unreadable.JS_RENDERED),
    ("09_no_status.html", Unreadable.NO_STATUS),
    ("10_login.html", Unreadable.NO_MESSAGES),
])
def test_layouts_not_understood_are_unreadable_never_zero_messages(name: str, reason: Unreadable) -> None:
    p = page(name)
    assert not p.ok and p.unreadable is reason and not p.empty and p.messages == ()


def test_an_empty_box_is_understood() -> None:
    p = page("08_empty_box.html")
    assert p.ok and p.empty and p.messages == ()


def test_hostile_input_is_unreadable() -> None:
    assert read_messages("", "http://127.0.0.1/", TODAY).unreadable is Unreadable.NO_MESSAGES
    assert read_messages("<div>" * 20000, "http://127.0.0.1/", TODAY).unreadable is not None


# --- deadlines in working days -------------------------------------------------------------------------------


def test_national_day_deadline_with_make_up_saturday(cal: WorkCalendar) -> None:
    # Asked Wed 2026-09-30. Oct 1-7 are off; working days after it: Thu 10-08 (1), Fri 10-09 (2),
    # Sat 10-10 (3, 调休 make-up day), Mon 10-12 (4), Tue 10-13 (5).
    m = msg("2026-09-30")
    t = timing(m, d("2026-10-11"), cal)
    assert (t.deadline, t.yellow_from, t.state) == (d("2026-10-13"), d("2026-10-12"), State.GREEN)
    assert timing(m, d("2026-10-12"), cal).state is State.YELLOW  # the 4th working day
    assert timing(m, d("2026-10-13"), cal).state is State.YELLOW  # the deadline itself
    assert timing(m, d("2026-10-14"), cal).state is State.RED
    assert timing(m, d("2026-10-14"), cal).workdays == 6
    on_time = timing(msg("2026-09-30", "2026-10-13", A), d("2026-11-25"), cal)
    assert not on_time.late and on_time.workdays == 5
    assert timing(msg("2026-09-30", "2026-10-14", A), d("2026-11-25"), cal).late


def test_spring_festival_deadlines(cal: WorkCalendar) -> None:
    # Feb 15-23 off; Sat 02-14 and Sat 02-28 are make-up working days.
    # Asked Fri 02-13: Sat 02-14 (1), Tue 02-24 (2), 02-25 (3), 02-26 (4), 02-27 (5).
    assert timing(msg("2026-02-13"), d("2026-02-20"), cal).deadline == d("2026-02-27")
    # Asked during the holiday, Fri 02-20: 02-24 (1) … 02-27 (4), Sat 02-28 (5): due on a Saturday.
    t = timing(msg("2026-02-20"), d("2026-02-27"), cal)
    assert (t.deadline, t.state) == (d("2026-02-28"), State.YELLOW)
    assert timing(msg("2026-02-20"), d("2026-03-01"), cal).state is State.RED


def test_three_month_veto_boundary_and_window(cal: WorkCalendar) -> None:
    box_findings = findings(BOX, [msg("2026-08-10", title="农贸市场占道")], datetime(2026, 11, 10, 9, tzinfo=TZ), cal)
    assert [f.key for f in box_findings] == [f"overdue:{msg('2026-08-10', title='农贸市场占道').url}"]
    later = findings(BOX, [msg("2026-08-10", title="农贸市场占道")], datetime(2026, 11, 11, 9, tzinfo=TZ), cal)
    veto = next(f for f in later if f.key == "veto")
    assert veto.severity is State.RED and veto.title.startswith("单项否决 互动回应差")
    assert "「农贸市场占道」2026-08-10 留言，至今未回复" in veto.detail
    # answered, but only after more than 3 months: left that long all the same
    late = findings(BOX, [msg("2026-06-22", "2026-10-08", A, "排放异味")], NOW, cal)
    assert {f.key.split(":")[0] for f in late} == {"late", "veto"}
    # a message from before the year the rule looks at, and a rejected one, are out of scope
    assert findings(BOX, [msg("2025-11-20"), msg("2026-08-10", status=R)], NOW, cal) == []


def test_box_findings_from_the_gbk_table(cal: WorkCalendar) -> None:
    found = {f.key.split(":")[0] + ":" + (f.evidence.get("title") or ""): f
             for f in findings(BOX, page("01_ldxx_table_gbk.html").messages, NOW, cal)}
    assert set(found) == {"late:建议增加县城至白沙镇的城乡公交班次并延长末班车时间",
                          "overdue:关于阳光小区物业公司乱收费问题的投诉",
                          "overdue:反映农贸市场周边长期占道经营影响通行", "veto:"}
    late = found["late:建议增加县城至白沙镇的城乡公交班次并延长末班车时间"]
    # asked Fri 11-13, due Fri 11-20 (5 working days), answered Tue 11-24: 7 working days
    assert late.severity is State.YELLOW
    assert (late.evidence["deadline"], late.evidence["workdays"]) == ("2026-11-20", 7)
    overdue = found["overdue:关于阳光小区物业公司乱收费问题的投诉"]
    # asked Mon 11-02, due Mon 11-09; by Wed 11-25 it waited 17 working days
    assert overdue.severity is State.RED and "已过 17 个工作日" in overdue.detail and overdue.unit_id == "u1"
    assert found["veto:"].evidence["messages"][0]["asked"] == "2026-08-10"
    # the 11-20 message is in its 3rd working day: nothing yet; on Thu 11-26 (4th) it is yellow
    tomorrow = findings(BOX, page("01_ldxx_table_gbk.html").messages, datetime(2026, 11, 26, 8, tzinfo=TZ), cal)
    (near,) = [f for f in tomorrow if f.severity is State.YELLOW and f.key.startswith("overdue:")]
    assert "幸福路路灯" in near.title and "2026-11-27" in near.detail


def test_a_deadline_in_an_unknown_year_is_left_out_not_guessed(tmp_path: Path) -> None:
    overrides = tmp_path / "calendar_overrides.yaml"
    overrides.write_text("2027:\n  holidays: [2027-01-01]\n  workdays: []\n", encoding="utf-8")
    cal = WorkCalendar(overrides)  # 2027 from the override file, 2028 known nowhere
    now = datetime(2027, 12, 30, 9, tzinfo=TZ)
    timings = judge([msg("2027-12-01"), msg("2027-12-28")], now.date(), cal)
    assert [t.message.asked for t in timings] == [d("2027-12-01")]  # 12-28 is due in 2028
    assert timings[0].state is State.RED


def test_answer_statistics(cal: WorkCalendar) -> None:
    stats = answer_stats(judge(page("01_ldxx_table_gbk.html").messages, TODAY, cal))
    # 7 messages, one rejected; answered in 1, 7 and 1 working days
    assert stats.as_dict() == {"messages": 6, "answered": 3, "pending": 3, "answered_share": 0.5,
                               "median_workdays": 1, "max_workdays": 7, "late": 1, "overdue": 2, "vetoes": 1}
    assert answer_stats([]).answered_share is None


def inventory_data(tmp: Path, pages: PageServer, ep: Endpoint) -> dict[str, Any]:
    return {
        "settings": {"store": str(tmp / "govwatch.sqlite3"), "extract_workers": 0,
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"},
                     "alerts": {"group_window": "0s", "repeat_at": None, "send_timeout": "2s", "max_backoff": "1s"}},
        "units": [{"id": "u1", "name": "青溪县人民政府办公室",
                   "receivers": [{"id": "group", "url": ep.url("json", "group")}]},
                  {"id": "u2", "name": "青溪县住房和城乡建设局"}],
        "sites": [{"id": "s1", "name": "青溪县人民政府网站", "unit": "u1", "homepage": pages.url("/"),
                   "check_homepage": False,
                   "messages": [{"name": "县长信箱", "url": pages.url("/hdjl/xzxx/index.html"), "pages": 2}]},
                  {"id": "s2", "name": "青溪县住建局网站", "unit": "u2", "homepage": pages.url("/zjj/"),
                   "check_homepage": False,
                   "messages": [{"id": "zjj-zmhd", "name": "政民互动", "url": pages.url("/zjj/hdjl/index.jsp")}]}],
    }


def test_inventory_message_boxes_and_their_errors(tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    data = inventory_data(tmp_path, page_server, endpoint)
    inv = config.build(data, "inv.yaml", lambda loc: None)
    boxes = [b for s in inv.model.sites for b in s.messages]
    assert boxes[0].id.startswith("s1-msg-") and boxes[0].pages == 2 and boxes[1].id == "zjj-zmhd"
    assert [s.id for s in MessagesCheck().subjects(inv)] == [boxes[0].id, "zjj-zmhd"]

    def problems(edit: Any) -> list[str]:
        bad = inventory_data(tmp_path, page_server, endpoint)
        edit(bad)
        path = tmp_path / "bad.yaml"
        YAML().dump(bad, path)
        with pytest.raises(config.ConfigError) as info:
            config.load(path)
        return [str(p) for p in info.value.problems]

    found = problems(lambda bad: bad["sites"][0]["messages"].append({"name": "重复", "url": "ftp://x", "pages": 0}))
    path = tmp_path / "bad.yaml"
    assert any(p.startswith(f"{path}:") and "sites[0].messages[1].url" in p and "not an http(s) URL" in p
               for p in found), found
    assert any("sites[0].messages[1].pages" in p for p in found), found
    found = problems(lambda bad: bad["sites"][1]["messages"][0].update(id=boxes[0].id))
    assert any(p.startswith(f"{path}:") and "sites[1].messages[0].id" in p and "duplicate id" in p
               for p in found), found


# --- end to end ------------------------------------------------------------------------------------------


async def test_message_box_end_to_end(tmp_path: Path, page_server: PageServer, endpoint: Endpoint,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    gbk = "text/html"  # no charset in the header: the GBK <meta> must be honoured
    page_server.set("/hdjl/xzxx/index.html", (FIXTURES / "01_ldxx_table_gbk.html").read_bytes(), content_type=gbk)
    page_server.set("/hdjl/xzxx/index_1.html", (FIXTURES / "01b_ldxx_table_gbk_page2.html").read_bytes(),
                    content_type=gbk)
    page_server.set("/zjj/hdjl/index.jsp", (FIXTURES / "02_zmhd_dl_utf8.html").read_bytes())
    path = tmp_path / "inventory.yaml"
    YAML().dump(inventory_data(tmp_path, page_server, endpoint), path)
    inv = config.load(path)
    box_id = inv.model.sites[0].messages[0].id
    async with monitoring(inv) as monitor:
        monitor.clock = lambda: NOW
        monitor.check_runner._build = lambda inventory: [MessagesCheck(WorkCalendar(None))]
        monitor.check_runner.configure(inv)
        await monitor.check_once()
        assert page_server.hits["/hdjl/xzxx/index_1.html"] == 1 and "/hdjl/xzxx/index_2.html" not in page_server.hits
        known = monitor.findings[("message_overdue", box_id)]
        titles = sorted(k.finding.title for k in known.values())
        assert titles == ["单项否决 互动回应差：县长信箱有 2 条有效留言超过 3 个月未回复",
                          "留言超期回复：「建议增加县城至白沙镇的城乡公交班次并延长末班车时间」",
                          "留言超期未回复：「关于阳光小区物业公司乱收费问题的投诉」",
                          "留言超期未回复：「反映东门菜场排水沟堵塞污水外溢」",
                          "留言超期未回复：「反映农贸市场周边长期占道经营影响通行」"]
        # 政民互动 on 2026-11-25: the 10-30 message (due 11-06) is overdue; the 11-05 one (Thu, due Thu 11-12)
        # was answered on 11-13, a day late; 09-30 answered on its deadline 10-13 (National Day) is in time
        zjj = sorted(k.finding.title for k in monitor.findings[("message_overdue", "zjj-zmhd")].values())
        assert zjj == ["留言超期回复：「城东安置房什么时候交房？」", "留言超期未回复：「公积金贷款额度如何计算」"]
        assert {k.finding.unit_id for k in monitor.findings[("message_overdue", "zjj-zmhd")].values()} == {"u2"}
        stored = await monitor.store.findings_list(check="message_overdue", unit_id="u1")
        assert len(stored) == 5 and {r["severity"] for r in stored} == {"red", "yellow"}
        await wait_for(lambda: len(endpoint.messages("group")) >= 1)
        assert "单项否决" in json.dumps([m["body"] for m in endpoint.messages("group")], ensure_ascii=False)

        # the box cannot be read now: what was known stays, nothing is "gone"
        page_server.set("/hdjl/xzxx/index_1.html", "<html><body><p>系统维护中</p></body></html>")
        await monitor.check_once()
        assert all(k.status is Status.OPEN for k in monitor.findings[("message_overdue", box_id)].values())

        runner = await serve(monitor, "127.0.0.1", 0)
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/api/messages/stats") as resp:
                    stats = await resp.json()
                async with http.get(f"http://127.0.0.1:{port}/messages") as resp:
                    html = await resp.text()
        finally:
            await runner.cleanup()
    u1 = next(u for u in stats["units"] if u["unit_id"] == "u1")
    # page 1: 6 effective messages (answered in 1, 7, 1 working days), page 2: 07-20 answered 07-22 (2), 06-15 open
    assert (u1["messages"], u1["answered"], u1["median_workdays"], u1["max_workdays"]) == (8, 4, 1.5, 7)
    assert (u1["late"], u1["overdue"], u1["vetoes"]) == (1, 3, 2)
    assert stats["boxes"][0]["read_at"].startswith("2026-11-25T10:00")
    assert "网民留言办理统计" in html and "青溪县人民政府办公室" in html and "50.0%" in html

    from monitor.cli import main

    assert await asyncio.to_thread(main, ["messages", "--config", str(path), "--today", "2026-11-25"]) == 0
    out = capsys.readouterr().out
    assert "青溪县人民政府办公室\t1\t8\t4\t50.0%\t1.5\t7\t1\t3\t2" in out
    assert "政民互动\t青溪县住建局网站\t2026-11-25 10:00" in out


async def test_board_escapes_hostile_box_names(tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    data = inventory_data(tmp_path, page_server, endpoint)
    data["sites"][0]["messages"][0]["name"] = "<script>alert(1)</script>信箱"
    path = tmp_path / "inventory.yaml"
    YAML().dump(data, path)
    async with monitoring(config.load(path)) as monitor:
        runner = await serve(monitor, "127.0.0.1", 0)
        try:
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/messages"
            async with aiohttp.ClientSession() as http, http.get(url) as resp:
                html = await resp.text()
        finally:
            await runner.cleanup()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;信箱" in html
    assert "尚未读取" in html


def test_stats_table_for_boxes_never_read(tmp_path: Path, page_server: PageServer, endpoint: Endpoint,
                                          cal: WorkCalendar) -> None:
    inv = config.build(inventory_data(tmp_path, page_server, endpoint), "inv.yaml", lambda loc: None)
    table = stats_table(inv, {}, NOW, cal)
    assert [b["read_at"] for b in table["boxes"]] == [None, None]
    assert all(u["messages"] == 0 and u["answered_share"] is None for u in table["units"])
