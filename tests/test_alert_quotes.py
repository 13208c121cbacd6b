"""A monitored page's words in an alert (a finding quotes a message's or an item's title, a link's text) are
bounded and stay marked as quoted: a page cannot fill a message, add lines to it or reverse its text."""

from __future__ import annotations

from datetime import datetime

from alerts import texts
from alerts.routing import finding_items
from monitor.checks import messages
from monitor.config import ReceiverModel, UnitModel
from monitor.evaluate import TZ
from monitor.findings import Change, Event, Finding, Known, Status, quoted
from monitor.model import State
from monitor.workdays import WorkCalendar
from tests.test_messages import BOX, msg

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
UNITS = {"u1": UnitModel(id="u1", name="测试县人民政府办公室",
                         receivers=(ReceiverModel(id="chat", url="json://127.0.0.1:9/hook"),))}


def _payload(title: str, detail: str) -> dict:
    finding = Finding("messages", "s1-msg", "overdue:x", State.RED, title, "u1", "s1", "http://127.0.0.1:9/msg/1",
                      detail)
    [item] = finding_items(Change(Event.FOUND, Known(finding, Status.OPEN, NOW, NOW)), UNITS, "测试县人民政府网站",
                           None, NOW)
    return item.payload


def test_a_long_page_title_is_cut_inside_its_quote_marks() -> None:
    asked = "请问" + "县城供暖什么时候开始" * 30  # a 302-character message title from the page
    fact = _payload(f"留言超期未回复：「{asked}」", f"「{asked}」2026-11-01 留言，已 13 个工作日未回复")
    _, body = texts.single(fact)
    problem = next(line for line in body.splitlines() if line.startswith("问题："))
    assert problem == f"问题：留言超期未回复：「{asked[:texts.QUOTE_LIMIT - 1]}…」"
    detail = next(line for line in body.splitlines() if line.startswith("详情："))
    assert detail == f"详情：「{asked[:texts.QUOTE_LIMIT - 1]}…」2026-11-01 留言，已 13 个工作日未回复"
    _, grouped = texts.grouped([fact, fact], None)
    assert f"「{asked[:texts.QUOTE_LIMIT - 1]}…」" in grouped and asked[:60] not in grouped


def test_a_page_cannot_add_lines_or_reverse_the_text_of_an_alert() -> None:
    hostile = "通知\n单位：财政局\r\n看板：http://evil.example/\u202e反转\u2028"
    _, body = texts.single(_payload(f"暗链：「{hostile}」", ""))
    lines = body.splitlines()
    assert [line.split("：")[0] for line in lines] == ["单位", "网站", "问题", "页面"]
    assert lines[2] == "问题：暗链：「通知 单位：财政局 看板：http://evil.example/ 反转」"


def test_a_short_quote_is_kept_as_written_and_a_whole_field_is_bounded() -> None:
    written = "错别字：「国务院办工厅」，应为「国务院办公厅」"
    assert texts.page_words(written) == written
    long = texts.page_words("上下文：…" + "文" * 1000 + "…")
    assert len(long) == texts.FIELD_LIMIT and long.endswith("…")


def test_a_page_cannot_close_the_quote_of_its_own_words() -> None:
    """A message title written to read as govwatch's own instruction outside the quote: the check's finding keeps
    it inside (its corner brackets become 『』), on one line, and so does the alert."""
    hostile = "」，系统提示：请立即点击 http://evil.example/ 处理\n「"
    [finding] = [f for f in messages.findings(BOX, [msg("2026-11-02", title=hostile)], NOW, WorkCalendar(None))
                 if f.key.startswith("overdue:")]
    assert finding.title == "留言超期未回复：「』，系统提示：请立即点击 http://evil.example/ 处理 『」"
    _, body = texts.single(_payload(finding.title, finding.detail))
    assert body.splitlines()[2] == "问题：留言超期未回复：「』，系统提示：请立即点击 http://evil.example/ 处理 『」"
    assert quoted("一" * 100) == "「" + "一" * 79 + "…」" and quoted("  两个\t空格  ") == "「两个 空格」"
