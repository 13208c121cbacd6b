"""An operator's override (rows and date selectors) and detection's explanation of a page."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import date

import pytest

from monitor.extract.explain import explanation_lines
from monitor.extract.listpage import explain_list, extract_list, extract_selected
from monitor.list_override import Override, from_parser, problems
from monitor.model import EmptyReason
from tests.conftest import PageServer
from tests.test_listpage import URL, page, titled, ul

TODAY = date(2026, 11, 25)


def day_first_table() -> str:
    """Dates written day first, 20/11/2026 (an English-language sub-site): detection reads none of them."""
    rows = "".join(
        f"<tr onclick=\"location.href='/xm/{i}.html'\"><td class='bt'>某某镇道路提升改造工程施工招标公告第{i}标段</td>"
        f"<td class='rq'>{20 - i}/11/2026</td></tr>"
        for i in range(6)
    )
    news = ul(titled(["2026-11-24"] * 4, "全省公共资源交易工作会议"), prefix="/r/")
    related = f"<div class='box'><h3>相关链接</h3>{news}</div>"
    return page(f"<table class='jyxx'>{rows}</table>{related}")


def test_detection_cannot_date_the_page_and_the_override_fixes_it() -> None:
    html = day_first_table()
    detected = extract_list(html, URL, TODAY)
    assert (detected.newest_date, detected.reason) == (None, EmptyReason.NO_DATES)
    assert len(detected.items) == 6  # rows that are links by script (tr onclick) are rows
    fixed = extract_selected(html, URL, TODAY, Override("table.jyxx tr", "td.rq", "%d/%m/%Y"))
    assert fixed.newest_date == date(2026, 11, 20)
    assert len(fixed.items) == 6
    assert fixed.items[0].title == "某某镇道路提升改造工程施工招标公告第0标段 20/11/2026"
    assert fixed.signature and fixed.signature.startswith("select:")


def test_override_date_as_regex_with_or_without_a_group() -> None:
    html = page(ul(titled(["发布于2026年10月03日", "发布于2026年09月28日"])))
    grouped = Override("ul.list > li", r"/发布于(\S+日)/")
    whole = Override("ul.list > li", r"/\d{4}年\d{2}月\d{2}日/", "%Y年%m月%d日")
    assert extract_selected(html, URL, TODAY, grouped).newest_date == date(2026, 10, 3)
    assert extract_selected(html, URL, TODAY, whole).newest_date == date(2026, 10, 3)


def test_override_without_date_dates_rows_as_detection_does() -> None:
    main = ul(titled(["2026-10-01", "2026-09-28"]), prefix="/col/tzgg/")
    side = "<h3>热点排行</h3>" + ul(titled(["2026-11-24"] * 12, "全市经济运行情况新闻发布会"), cls="hot", prefix="/rd/")
    result = extract_selected(page(main, side), URL, TODAY, Override("ul.hot > li"))
    assert result.newest_date == date(2026, 11, 24)
    assert len(result.items) == 12


def test_override_date_element_missing_is_no_date_not_a_guess_from_the_url() -> None:
    rows = "".join(
        f"<li><a href='./202611/t202611{10 + i}_{i}.html'>关于开展检查工作的通知{i}</a></li>" for i in range(3)
    )
    result = extract_selected(page(f"<ul class='list'>{rows}</ul>"), URL, TODAY, Override("ul.list > li", "span.date"))
    assert result.newest_date is None
    assert result.reason == EmptyReason.NO_DATES


def test_override_picking_nothing_is_no_list() -> None:
    result = extract_selected(page(ul(titled(["2026-10-01"]))), URL, TODAY, Override("div.gone > li"))
    assert (result.newest_date, result.reason) == (None, EmptyReason.NO_LIST)


def test_yearless_override_dates_take_their_year_from_the_list() -> None:
    rows = "".join(
        f"<li><a href='/a/{i}.html'>关于开展检查工作的通知{i}</a><em>{d}</em></li>"
        for i, d in enumerate(["2019/12/30", "12/28", "12/20"])
    )
    result = extract_selected(page(f"<ul class='list'>{rows}</ul>"), URL, TODAY, Override("ul.list > li", "em"))
    assert [i.date for i in result.items] == [date(2019, 12, 30), date(2019, 12, 28), date(2019, 12, 20)]


def test_parser_string_round_trip() -> None:
    override = Override("div.list > ul > li", "/(\\d+-\\d+)/", "%m-%d")
    assert from_parser(override.as_parser()) == override
    assert from_parser(Override("ul > li").as_parser()) == Override("ul > li")
    assert override.as_yaml() == '{list: "div.list > ul > li", date: "/(\\\\d+-\\\\d+)/", date_format: "%m-%d"}'


@pytest.mark.parametrize(
    ("override", "field"),
    [
        (Override("ul..list > li"), "list"),
        (Override(""), "list"),
        (Override("ul > li", "span["), "date"),
        (Override("ul > li", "/([0-9]+/"), "date"),
        (Override("ul > li", "span", "%Y-%m"), "date_format"),
        (Override("ul > li", "span", "%Y-%m-%q"), "date_format"),
    ],
)
def test_problems_name_the_field(override: Override, field: str) -> None:
    found = problems(override)
    assert [f for f, _ in found] == [field]
    assert all(message for _, message in found)


def test_good_override_has_no_problems() -> None:
    assert problems(Override("table.jyxx tr", "td:nth-child(2)", "%d/%m/%Y")) == []
    assert problems(Override("ul.list > li", r"/发布时间：(\S+)/")) == []


def test_explain_ranks_candidates_and_suggests_an_override_that_reads_the_same() -> None:
    main = ul(titled(["2026-10-01", "2026-09-28", "2026-09-20"]), prefix="/col/tzgg/")
    side = "<h3>热点排行</h3>" + ul(titled(["2026-11-24"] * 12, "全市经济运行情况新闻发布会"), cls="hot", prefix="/rd/")
    html = page(main, side)
    explained = explain_list(html, URL, TODAY)
    chosen, other = explained.candidates[:2]
    assert chosen.chosen and not chosen.side and chosen.newest == date(2026, 10, 1)
    assert chosen.selector == "ul.list > li" and chosen.rows == 3 and chosen.dated == 3
    assert chosen.parts["column_urls"] == 25
    assert other.side and other.score > chosen.score  # a sidebar competes only when no other list is dated
    assert explained.suggestion == Override("ul.list > li", "span")
    assert extract_selected(html, URL, TODAY, explained.suggestion).newest_date == date(2026, 10, 1)


def test_explain_of_an_undated_list_suggests_its_rows() -> None:
    explained = explain_list(day_first_table(), URL, TODAY)
    assert explained.result.reason == EmptyReason.NO_DATES
    # the rows, and the cell whose digits one date format alone reads (day first: some days are over 12)
    assert explained.suggestion == Override("table.jyxx > tbody > tr", "td.rq", "%d/%m/%Y")
    assert extract_selected(day_first_table(), URL, TODAY, explained.suggestion).newest_date == date(2026, 11, 20)


def test_no_date_format_is_guessed_when_two_fit() -> None:
    """01/11/2026 reads as 1 November and as 11 January: the operator must say which."""
    html = day_first_table()
    for i in range(6):
        html = html.replace(f">{20 - i}/11/2026<", f">{6 - i:02d}/10/2026<")
    suggestion = explain_list(html, URL, TODAY).suggestion
    assert suggestion == Override("table.jyxx > tbody > tr")


# --- govwatch probe --explain / --list (the CLI against a loopback server) ------------------


async def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=120)


async def test_probe_explain_then_override_fixes_the_column(page_server: PageServer) -> None:
    page_server.set("/jyxx/zbgg/index.html", day_first_table())
    url = page_server.url("/jyxx/zbgg/index.html")
    explained = await _cli("probe", url, "--explain", "--today", "2026-11-25")
    assert explained.returncode == 0, explained.stderr
    text = explained.stdout
    assert "newest item date: — (no_dates)" in text
    assert "★ 1. table.jyxx > tbody > tr  [正文]" in text and "行数 6  有日期 0" in text
    assert "ul.list > li  [侧栏/导航]" in text and "最新 2026-11-24" in text
    assert "用 date 指定日期所在的元素" in text
    assert 'list: "table.jyxx > tbody > tr"' in text and 'date: "td.rq"' in text and 'date_format: "%d/%m/%Y"' in text

    tried = await _cli("probe", url, "--list", "table.jyxx > tbody > tr", "--date", "td.rq",
                       "--date-format", "%d/%m/%Y", "--today", "2026-11-25", "--json")
    assert tried.returncode == 0, tried.stderr
    result = json.loads(tried.stdout)
    assert result["newest_date"] == "2026-11-20" and result["reason"] is None and len(result["items"]) == 6
    assert result["items"][0]["url"] == page_server.url("/xm/0.html")


async def test_probe_explain_json(page_server: PageServer) -> None:
    main = ul(titled(["2026-10-01", "2026-09-28", "2026-09-20"]), prefix="/col/tzgg/")
    side = "<h3>热点排行</h3>" + ul(titled(["2026-11-24"] * 12, "全市经济运行情况新闻发布会"), cls="hot", prefix="/rd/")
    page_server.set("/col/tzgg/index.html", page(main, side))
    out = await _cli("probe", page_server.url("/col/tzgg/index.html"), "--explain", "--json", "--today", "2026-11-25")
    explain = json.loads(out.stdout)["explain"]
    chosen, side_list = explain["candidates"][:2]
    assert chosen["chosen"] and chosen["selector"] == "ul.list > li" and chosen["newest"] == "2026-10-01"
    assert side_list["side"] and side_list["score"] > chosen["score"]
    assert explain["suggestion"] == {"list": "ul.list > li", "date": "span"}
    assert explain["why"][0].startswith("入选原因：正文区域中得分最高的列表")


async def test_probe_refuses_a_bad_override(page_server: PageServer) -> None:
    out = await _cli("probe", page_server.url("/x/"), "--list", "ul..list > li", "--date-format", "%Y-%m")
    assert out.returncode == 2
    assert "--list: 无法解析的 CSS 选择器" in out.stderr and "--date-format: 日期格式无效" in out.stderr
    alone = await _cli("probe", page_server.url("/x/"), "--date", "span")
    assert alone.returncode == 2 and "需要与 --list" in alone.stderr


def test_explain_of_a_json_list_api_reads_it_without_candidates() -> None:
    doc = '{"data": {"list": [{"title": "关于开展检查工作的通知", "url": "/c/1.html", "pubDate": "2026-10-12"}]}}'
    explained = explain_list(doc, URL, TODAY)
    assert explained.result.newest_date == date(2026, 10, 12)
    assert explained.candidates == () and explained.suggestion is None
    assert explanation_lines(explained)[-1].startswith("页面是 JSON 列表接口")
