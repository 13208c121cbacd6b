import json
import random
from datetime import date
from pathlib import Path

import pytest

from monitor.extract.listpage import extract_list
from monitor.model import EmptyReason, ListResult

PAGES = Path(__file__).parent / "fixtures" / "pages"
MANIFEST: dict[str, dict] = json.loads((PAGES / "expected.json").read_text(encoding="utf-8"))
TODAY = date(2026, 11, 25)
URL = "http://127.0.0.1:8080/col/tzgg/index.html"


def decode(raw: bytes) -> str:
    """Decode a fixture as the fetcher does: strict UTF-8, else GB18030."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def run_fixture(name: str) -> ListResult:
    spec = MANIFEST[name]
    text = decode((PAGES / name).read_bytes())
    ctype = "application/json" if name.endswith(".json") else "text/html"
    return extract_list(text, spec["url"], date.fromisoformat(spec["today"]), ctype)


def page(main: str, side: str = "", head: str = "今天是2026年11月25日 星期三") -> str:
    return (
        f"<html><head><title>通知公告_某市</title></head><body><div class='top'>{head}</div>"
        f"<div class='main'><div class='crumb'>当前位置：<a href='/'>首页</a></div>{main}</div>"
        f"<div class='side'>{side}</div>"
        "<div class='footer'>Copyright © 2003-2026 京ICP备05070218号 电话：010-12345678</div></body></html>"
    )


def ul(rows: list[tuple[str, str]], cls: str = "list", prefix: str = "/a/") -> str:
    lis = "".join(f"<li><a href='{prefix}{i}.html'>{t}</a><span>{d}</span></li>" for i, (t, d) in enumerate(rows))
    return f"<ul class='{cls}'>{lis}</ul>"


def titled(dates: list[str], stem: str = "关于开展政府网站检查工作的通知") -> list[tuple[str, str]]:
    return [(f"{stem}{i}", d) for i, d in enumerate(dates)]


# --- the corpus -------------------------------------------------------------------------


def test_corpus_is_large_and_varied() -> None:
    assert len(MANIFEST) >= 45
    assert all((PAGES / name).is_file() for name in MANIFEST)
    gbk = [n for n in MANIFEST if n.endswith(".html") and b'charset="gb2312"' in (PAGES / n).read_bytes()]
    assert any(_not_utf8(PAGES / n) for n in gbk)


def _not_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture(name: str) -> None:
    spec = MANIFEST[name]
    result = run_fixture(name)
    expected = date.fromisoformat(spec["newest_date"]) if spec["newest_date"] else None
    assert result.newest_date == expected, spec["trap"]
    if spec["reason"]:
        assert result.reason == EmptyReason(spec["reason"])
    else:
        assert result.reason is None
    assert len(result.items) >= spec["min_items"]
    assert all(item.url.startswith(("http://", "https://")) for item in result.items)
    if expected:
        assert result.signature


# --- traps ------------------------------------------------------------------------------


def test_header_today_date_is_ignored() -> None:
    result = extract_list(page(ul(titled(["2026-10-01", "2026-09-30"]))), URL, TODAY)
    assert result.newest_date == date(2026, 10, 1)


def test_fresher_sidebar_loses_even_when_longer() -> None:
    main = ul(titled(["2026-10-01", "2026-09-28", "2026-09-20"]), prefix="/col/tzgg/")
    side = "<h3>热点排行</h3>" + ul(titled(["2026-11-24"] * 12, "全市经济运行情况新闻发布会"), cls="hot", prefix="/rd/")
    result = extract_list(page(main, side), URL, TODAY)
    assert result.newest_date == date(2026, 10, 1)
    assert len(result.items) == 3


def test_fresh_sidebar_box_titled_latest_inside_main_area_loses() -> None:
    box = (
        "<div class='box'><h3>最新文件</h3>"
        + ul(titled(["2026-11-24"] * 5, "某市最新政策文件"), prefix="/wj/")
        + "</div>"
    )
    main = ul(titled(["2026-08-01", "2026-07-01", "2026-06-01", "2026-05-01"]), prefix="/col/tzgg/")
    result = extract_list(page(box + main), URL, TODAY)
    assert result.newest_date == date(2026, 8, 1)


def test_old_pinned_items_do_not_hide_newer_ones() -> None:
    pinned = "<li><img src='/images/top.gif'><a href='/p.html'>关于公布举报电话的公告</a><span>2019-01-01</span></li>"
    rows = "".join(
        f"<li><a href='/a/{i}.html'>关于开展检查工作的通知{i}</a><span>2026-11-0{i + 1}</span></li>" for i in range(5)
    )
    result = extract_list(page(f"<ul class='list'>{pinned}{rows}</ul>"), URL, TODAY)
    assert result.newest_date == date(2026, 11, 5)
    assert result.items[0].pinned
    assert not result.items[1].pinned


def test_pinned_item_can_be_the_newest() -> None:
    pinned = "<li class='zd'><a href='/p.html'>关于春节放假安排的通知</a><span>2026-11-20</span></li>"
    rows = "".join(
        f"<li><a href='/a/{i}.html'>关于开展检查工作的通知{i}</a><span>2026-10-0{i + 1}</span></li>" for i in range(3)
    )
    result = extract_list(page(f"<ul class='list'>{pinned}{rows}</ul>"), URL, TODAY)
    assert result.newest_date == date(2026, 11, 20)
    assert [i.pinned for i in result.items] == [True, False, False, False]


def test_deadline_in_title_is_not_the_publish_date() -> None:
    rows = [
        ("关于征集意见的公告（截至2026年12月31日）", "2026-11-02"),
        ("关于2027年1月1日起实施新规的通知", "2026-10-30"),
    ]
    result = extract_list(page(ul(rows)), URL, TODAY)
    assert result.newest_date == date(2026, 11, 2)
    assert [i.date for i in result.items] == [date(2026, 11, 2), date(2026, 10, 30)]


def test_yearless_dates_across_year_boundary() -> None:
    rows = titled(["01-04", "12-28", "12-20"])
    result = extract_list(page(ul(rows)), URL, date(2026, 1, 5))
    assert [i.date for i in result.items] == [date(2026, 1, 4), date(2025, 12, 28), date(2025, 12, 20)]
    assert result.newest_date == date(2026, 1, 4)


def test_future_dates_are_not_newest() -> None:
    result = extract_list(page(ul(titled(["2029-11-20", "2026-11-26", "2026-11-10"]))), URL, TODAY)
    assert result.newest_date == date(2026, 11, 26)  # tomorrow is tolerated, 2029 is not


@pytest.mark.parametrize(
    "markup",
    [
        "<li><div class='date'><span class='day'>12</span><span class='ym'>2026-10</span></div>"
        "<a href='/a/{i}.html'>关于开展检查工作的通知{i}</a></li>",
        "<li><a href='/a/{i}.html'><em>12</em>2026.10<h5>关于开展检查工作的通知{i}</h5></a></li>",
    ],
)
def test_day_and_year_month_split_across_elements(markup: str) -> None:
    rows = "".join(markup.format(i=i) for i in range(3))
    result = extract_list(page(f"<ul class='list'>{rows}</ul>"), URL, TODAY)
    assert result.newest_date == date(2026, 10, 12)


def test_dates_only_in_article_urls() -> None:
    trs = "".join(
        f"<li><a href='./202610/t202610{10 + i}_{i}.html'>关于开展检查工作的通知{i}</a></li>" for i in range(3)
    )
    hanweb = "".join(
        f"<li><a href='/art/2026/9/{1 + i}/art_1229_{i}.html'>关于开展检查工作的通知{i}</a></li>" for i in range(3)
    )
    assert extract_list(page(f"<ul>{trs}</ul>"), URL, TODAY).newest_date == date(2026, 10, 12)
    assert extract_list(page(f"<ul>{hanweb}</ul>"), URL, TODAY).newest_date == date(2026, 9, 3)


def test_hanweb_datastore() -> None:
    records = "".join(
        f"<record><![CDATA[<li><a href='/art/{i}.html'>关于开展检查的通知{i}</a><span>2026-10-1{i}</span></li>]]>"
        "</record>"
        for i in range(4)
    )
    main = f"<div id='1'><script type='text/xml'><datastore><recordset>{records}</recordset></datastore></script></div>"
    result = extract_list(page(main), URL, TODAY)
    assert result.newest_date == date(2026, 10, 13)
    assert result.items[0].url == "http://127.0.0.1:8080/art/0.html"


def test_table_rows_and_dl() -> None:
    rows = "".join(
        f"<tr><td><a href='/t/{i}.html'>关于开展检查工作的通知{i}</a></td><td>2026/9/{i + 1}</td></tr>"
        for i in range(3)
    )
    dl = "".join(
        f"<dt><a href='/d/{i}.html'>关于开展检查工作的通知{i}</a></dt><dd>2026年8月{i + 1}日</dd>" for i in range(3)
    )
    assert extract_list(page(f"<table>{rows}</table>"), URL, TODAY).newest_date == date(2026, 9, 3)
    assert extract_list(page(f"<dl>{dl}</dl>"), URL, TODAY).newest_date == date(2026, 8, 3)


def test_footer_numbers_are_not_dates() -> None:
    result = extract_list(page(ul(titled(["", "", ""]))), URL, TODAY)
    assert result.newest_date is None
    assert result.reason == EmptyReason.NO_DATES


def test_long_archive_is_capped() -> None:
    rows = titled([f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(10_000)])
    result = extract_list(page(ul(rows)), URL, TODAY)
    assert result.newest_date is not None
    assert 100 <= len(result.items) <= 1000


def test_json_api_nested_and_epoch_millis() -> None:
    doc = {
        "data": {
            "list": [
                {"title": "关于开展检查工作的通知", "url": "/c/1.html", "publishTime": "2026-10-12 10:00:00"},
                {"title": "关于公布名单的公告", "url": "/c/2.html", "publishTime": "2026-10-10 10:00:00"},
            ]
        }
    }
    result = extract_list(json.dumps(doc, ensure_ascii=False), "http://127.0.0.1:8080/api/list", TODAY)
    assert result.newest_date == date(2026, 10, 12)
    assert result.items[0].url == "http://127.0.0.1:8080/c/1.html"
    rows = {"rows": [{"docTitle": "关于开展检查工作的通知", "pubDate": 1697040000000}]}  # 2023-10-12 00:00 +08:00
    result = extract_list(json.dumps(rows), "http://127.0.0.1:8080/api/rows", TODAY, "application/json")
    assert result.newest_date == date(2023, 10, 12)


def test_json_empty_list() -> None:
    result = extract_list('{"data": {"list": [], "total": 0}}', URL, TODAY, "application/json;charset=utf-8")
    assert result == ListResult(None, (), EmptyReason.EMPTY, None)


def test_empty_column_with_fresh_sidebar() -> None:
    side = "<h3>热点信息</h3>" + ul(titled(["2026-11-24"] * 6), cls="hot")
    result = extract_list(page("<ul class='list'></ul><p>暂无信息</p>", side), URL, TODAY)
    assert result.newest_date is None
    assert result.reason == EmptyReason.EMPTY


@pytest.mark.parametrize(
    "main",
    [
        "<ul id='list'><li v-for='x in list'><a :href='x.url'>{{ x.title }}</a></li></ul>",
        "<ul class='list' id='newsList'></ul><script>$.ajax({url:'/api',success:function(r){}})</script>",
        "<ul><script>document.write('<li><a href=\"/a.html\">标题标题标题</a>2026-11-20</li>');</script></ul>",
        "<div id='app'><noscript>请开启JavaScript</noscript></div>",
        "<script type='text/html' id='tpl'>{{each list}}<li>{{$value.title}}</li>{{/each}}</script><div id='c'></div>",
    ],
)
def test_js_rendered_never_guesses(main: str) -> None:
    side = "<h3>热点信息</h3>" + ul(titled(["2026-11-24"] * 6), cls="hot")
    result = extract_list(page(main, side), URL, TODAY)
    assert result.newest_date is None
    assert result.reason == EmptyReason.JS_RENDERED


def test_no_list() -> None:
    result = extract_list(page("<p>页面不存在</p>"), URL, TODAY)
    assert result == ListResult(None, (), EmptyReason.NO_LIST, None)


# --- signature --------------------------------------------------------------------------


def test_signature_stable_across_items() -> None:
    first = extract_list(page(ul(titled(["2026-11-01", "2026-10-01", "2026-09-01"]))), URL, TODAY)
    second = extract_list(page(ul(titled(["2026-11-20"] * 7, "关于公布名单的公告"))), URL, TODAY)
    assert first.signature is not None
    assert first.signature == second.signature
    assert len(first.signature) <= 32


def test_signature_changes_with_template() -> None:
    rows = titled(["2026-11-01", "2026-10-01", "2026-09-01"])
    before = extract_list(page(ul(rows)), URL, TODAY)
    table = "".join(f"<tr><td><a href='/a/{i}.html'>{t}</a></td><td>{d}</td></tr>" for i, (t, d) in enumerate(rows))
    after = extract_list(page(f"<div class='news'><table>{table}</table></div>"), URL, TODAY)
    renamed = extract_list(page(ul(rows, cls="news-list")), URL, TODAY)
    assert before.newest_date == after.newest_date == renamed.newest_date == date(2026, 11, 1)
    assert len({before.signature, after.signature, renamed.signature}) == 3


def test_corpus_signatures_are_distinct() -> None:
    signatures = [run_fixture(n).signature for n in MANIFEST if MANIFEST[n]["newest_date"]]
    assert len(set(signatures)) >= len(signatures) - 5


# --- hostile input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "<div>" * 400_000,
        "<b><font>x" * 200_000,
        random.Random(7).randbytes(200_000).decode("latin-1"),
        "\x00" * 1000,
        "[" * 100_000,
        '{"data": ',
        "<" * 100_000,
    ],
    ids=["empty", "blank", "nested-divs", "nested-inline", "random-bytes", "nul", "deep-json", "bad-json", "lt"],
)
def test_hostile_input_never_raises(text: str) -> None:
    result = extract_list(text, URL, TODAY)
    assert result.newest_date is None
    assert result.reason == EmptyReason.NO_LIST


def test_script_in_title_stays_plain_text() -> None:
    rows = [
        ("&lt;script&gt;alert(1)&lt;/script&gt;关于开展检查的通知", "2026-11-01"),
        ("关于公布名单的公告", "2026-10-01"),
    ]
    result = extract_list(page(ul(rows)), URL, TODAY)
    assert result.items[0].title == "<script>alert(1)</script>关于开展检查的通知"
    assert result.newest_date == date(2026, 11, 1)


def test_relative_urls_are_absolute() -> None:
    rows = "".join(
        f"<li><a href='../../art/{i}.html'>关于开展检查工作的通知{i}</a><span>2026-10-0{i + 1}</span></li>"
        for i in range(3)
    )
    result = extract_list(page(f"<ul>{rows}</ul>"), "http://127.0.0.1:8080/col/a/b/index.html", TODAY)
    assert result.items[0].url == "http://127.0.0.1:8080/col/art/0.html"


def test_json_prefers_exact_keys_over_lookalikes() -> None:
    doc = {
        "rows": [
            {
                "sourceName": "办公室",
                "title": "关于开展检查工作的通知",
                "imgUrl": "/img/1.jpg",
                "url": "/c/1.html",
                "updateTime": "2026-11-20 08:00:00",
                "pubDate": "2026-10-12",
            }
        ]
    }
    [item] = extract_list(json.dumps(doc, ensure_ascii=False), "http://127.0.0.1:8080/api", TODAY).items
    assert item.title == "关于开展检查工作的通知"
    assert item.url == "http://127.0.0.1:8080/c/1.html"
    assert item.date == date(2026, 10, 12)


def test_html_error_page_served_as_json_is_read_as_html() -> None:
    result = extract_list(page(ul(titled(["2026-11-01", "2026-10-01"]))), URL, TODAY, "application/json")
    assert result.newest_date == date(2026, 11, 1)


# --- kinds of real pages the first corpus missed ------------------------------------------


def test_row_full_date_beats_yearless_date_in_its_summary() -> None:
    """A stale column must not read as fresh: 「7月29日」 in a summary is not the row's date."""
    rows = "".join(
        f"<li><a href='/a/{i}.html'>关于开展安全生产检查的通知{i}</a>"
        f"<p>7月29日，某县召开安全生产工作会议，部署下一阶段工作{i}。</p><span>2017-08-{15 - i:02d}</span></li>"
        for i in range(6)
    )
    result = extract_list(page(f"<ul class='list'>{rows}</ul>"), URL, TODAY)
    assert result.newest_date == date(2017, 8, 15)
    assert [i.date for i in result.items][:2] == [date(2017, 8, 15), date(2017, 8, 14)]


def test_date_in_own_element_beats_full_dates_in_summary() -> None:
    rows = "".join(
        f"<li><a href='/a/{i}.html'>关于实施新版管理办法的通知{i}</a>"
        f"<p>本办法自2027年1月1日起施行，2019年3月1日发布的原办法同时废止{i}。</p>"
        f"<div class='info'>发布：<span>2026-10-{20 - i}</span></div></li>"
        for i in range(5)
    )
    result = extract_list(page(f"<ul class='list'>{rows}</ul>"), URL, TODAY)
    assert result.newest_date == date(2026, 10, 20)


def test_yearless_dates_take_their_year_from_the_list() -> None:
    """Month-days among full dates of 2019 are of 2019, not of this year."""
    dates = ["2019-12-30", "12-28", "12-20", "2019-12-02", "11-30"]
    result = extract_list(page(ul(titled(dates))), URL, TODAY)
    assert [i.date for i in result.items] == [
        date(2019, 12, 30), date(2019, 12, 28), date(2019, 12, 20), date(2019, 12, 2), date(2019, 11, 30)]
    assert result.newest_date == date(2019, 12, 30)


def test_yearless_dates_above_full_ones_are_the_newer_year() -> None:
    """Sites print this year's items as 05-12 and older ones with their year."""
    dates = ["01-04", "01-02", "2025-12-28", "2025-12-20"]
    result = extract_list(page(ul(titled(dates))), URL, date(2026, 1, 6))
    assert result.newest_date == date(2026, 1, 4)


def test_yearless_date_takes_its_year_from_its_url() -> None:
    rows = "".join(
        f"<li><a href='./201905/t201905{12 - i:02d}_{i}.html'>关于开展检查工作的通知{i}</a>"
        f"<span>05-{12 - i:02d}</span></li>"
        for i in range(4)
    )
    result = extract_list(page(f"<ul class='list'>{rows}</ul>"), URL, TODAY)
    assert result.newest_date == date(2019, 5, 12)


def test_list_split_over_several_blocks_is_one_list() -> None:
    blocks = [
        ul(titled([f"2026-11-{20 - i:02d}" for i in range(k, k + 5)]), prefix=f"/col/tzgg/{k}/") for k in (0, 5, 10)
    ]
    main = "<div class='line'></div>".join(blocks) + "<div class='page'>共3页 下一页</div>"
    topics = ul(titled(["2026-11-24"] * 3, "某某主题教育专题"), prefix="/zt/")
    side = f"<div class='box'><h3>专题专栏</h3>{topics}</div>"
    result = extract_list(page(main, side), URL, TODAY)
    assert len(result.items) == 15
    assert result.newest_date == date(2026, 11, 20)


def test_split_tables_are_one_list() -> None:
    def table(k: int) -> str:
        return "<table class='news'>" + "".join(
            f"<tr><td><a href='/t/{k + i}.html'>关于开展检查工作的通知{k + i}</a></td>"
            f"<td>2026/09/{20 - k - i:02d}</td></tr>"
            for i in range(4)
        ) + "</table>"

    result = extract_list(page(table(0) + "<hr>" + table(4)), URL, TODAY)
    assert len(result.items) == 8
    assert result.newest_date == date(2026, 9, 20)


def test_portal_boxes_with_headings_stay_apart() -> None:
    boxes = "".join(
        f"<div class='box'><h3>{name}</h3>"
        + ul(titled([f"2026-{m}-01"] * 4, f"{name}信息标题"), prefix=f"/{i}/") + "</div>"
        for i, (name, m) in enumerate([("通知公告", "11"), ("工作动态", "10"), ("政策文件", "12")])
    )
    result = extract_list(page(boxes), URL, TODAY)
    assert len(result.items) == 4
    assert result.newest_date == date(2026, 11, 1)  # the column's own box (its name is in the title)


def test_picture_list_with_date_ending_the_title() -> None:
    rows = "".join(
        f"<li><a href='/tp/{i}.html' title='图片新闻{i}'><img src='/uploads/2026/11/2026112{i}0930.jpg'></a>"
        f"<p><a href='/tp/{i}.html'>全县秋季森林防火演练活动现场{i}（2019-0{9 - i}-12）</a></p></li>"
        for i in range(6)
    )
    result = extract_list(page(f"<ul class='photo-list'>{rows}</ul>"), URL, TODAY)
    assert len(result.items) == 6
    assert result.newest_date == date(2019, 9, 12)
    assert result.items[0].title.startswith("全县秋季森林防火演练活动现场0")


def test_script_links_in_a_table_are_rows_not_a_script_built_list() -> None:
    rows = "".join(
        f"<tr><td>{i + 1}</td><td><a href='javascript:void(0)' onclick=\"showDetail('{9000 + i}')\">"
        f"某某镇道路提升改造工程施工招标公告{i}</a></td><td>2026-11-{20 - i}</td></tr>"
        for i in range(6)
    )
    script = "<script>$(function(){$.ajax({url:'/visit/count',success:function(r){$('#count').html(r)}})});</script>"
    main = f"<table class='list'><tr><th>序号</th><th>项目名称</th><th>发布时间</th></tr>{rows}</table>"
    result = extract_list(page(main + "<div class='content' id='count'></div>" + script), URL, TODAY)
    assert result.newest_date == date(2026, 11, 20)
    assert result.items[0].url == URL + "#9000"


def test_undated_list_in_html_is_not_called_script_built() -> None:
    rows = "".join(f"<li><a href='/a/{i}.html'>关于开展检查工作的通知第{i}批</a></li>" for i in range(8))
    script = "<script>var t = '{{ site.name }}';</script>"
    result = extract_list(page(f"<ul class='list'>{rows}</ul>{script}"), URL, TODAY)
    assert result.reason == EmptyReason.NO_DATES


def test_list_after_a_long_navigation() -> None:
    nav = "<div class='nav'>" + "".join(
        f"<dl><dt><a href='/c{i}/'>栏目{i}</a></dt>"
        + "".join(f"<dd><a href='/c{i}/s{j}/index.html'>子栏目名称{i}-{j}</a></dd>" for j in range(12)) + "</dl>"
        for i in range(150)
    ) + "</div>"
    result = extract_list(page(nav + ul(titled(["2026-11-20", "2026-11-18", "2026-11-02"]))), URL, TODAY)
    assert result.newest_date == date(2026, 11, 20)


def test_script_text_saying_no_data_is_not_an_empty_column() -> None:
    script = "<script>function render(r){if(!r.length){$('#l').html('暂无数据')}}</script>"
    result = extract_list(page(f"<div id='l'><p>栏目介绍</p></div>{script}"), URL, TODAY)
    assert result.reason != EmptyReason.EMPTY


def test_commented_out_rows_do_not_count() -> None:
    rows = "".join(
        f"<li><a href='/a/{i}.html'>关于开展检查工作的通知{i}</a><!--<span>2026-11-24</span>-->"
        f"<span>2026-10-0{i + 1}</span></li>"
        for i in range(4)
    )
    old = "<!--<ul class='list'><li><a href='/x.html'>旧模板中的条目标题</a><span>2026-11-25</span></li></ul>-->"
    result = extract_list(page(old + f"<ul class='list'>{rows}</ul>"), URL, TODAY)
    assert result.newest_date == date(2026, 10, 4)


def test_script_links_without_a_handler_are_rows_named_by_their_target_or_title() -> None:
    """Mirrors and some templates write links as javascript: (a copier's confirm() wrapper keeps the target)."""
    teleport = (
        "javascript:if(confirm(%27http://127.0.0.1:8080/info/1056/{i}.htm  \\n\\nThis file was not retrieved.%27))"
        "window.location=%27http://127.0.0.1:8080/info/1056/{i}.htm%27"
    )
    rows = "".join(
        f"<tr><td><a href='{href.format(i=i)}'>关于开展检查工作的通知第{i}批</a></td><td>14-0{i + 1}-29</td></tr>"
        for i, href in enumerate([teleport, "javascript:;", "javascript:void(0)"])
    )
    result = extract_list(page(f"<table class='list'>{rows}</table>"), URL, TODAY)
    assert result.newest_date == date(2014, 3, 29)
    urls = [i.url for i in result.items]
    assert urls[0] == "http://127.0.0.1:8080/info/1056/0.htm"
    assert urls[1].startswith(URL + "#") and urls[2].startswith(URL + "#") and urls[1] != urls[2]


def test_column_page_listing_its_sub_columns_is_one_list() -> None:
    """Each sub-column under its own heading (a link to it); the newest rows may sit in a later block."""
    def block(name: str, dates: list[str]) -> str:
        rows = ul(titled(dates, f"{name}工作情况通报"), cls="", prefix=f"/xwgk/{name}/") if dates else "<ul></ul>"
        return f"<div class='zh_nav'><a href='xwgk/{name}.htm'>{name}</a></div><div class='text-list1'>{rows}</div>"

    main = block("规章制度", ["2023-02-13", "2023-02-10"]) + block("发展规划", []) + block(
        "每周安排", ["2025-02-21", "2025-02-17"])
    result = extract_list(page(main).replace("通知公告_某市", "信息公开_某中学"), URL, TODAY)
    assert result.newest_date == date(2025, 2, 21)
    assert len(result.items) == 4


def test_a_sub_list_whose_heading_names_the_column_stays_the_column_s_own() -> None:
    main = (
        "<h3 class='t'>通知公告</h3>" + ul(titled(["2026-10-01", "2026-09-28"]))
        + "<h3 class='t'>工作动态</h3>"
        + ul(titled(["2026-11-20", "2026-11-18"], "某镇召开工作推进会"), prefix="/gzdt/")
    )
    result = extract_list(page(main), URL, TODAY)
    assert result.newest_date == date(2026, 10, 1)


def test_a_label_link_beside_every_title_is_not_an_item() -> None:
    """A category link in every item (same text, same target) must not split the items into halves."""
    items = "".join(
        f"<div class='news'><h2><a href='/a/{i}.html'>关于开展秋季安全检查工作的通知{i}</a>"
        f" <em>2026-10-{20 - i}</em></h2>"
        f"<p>摘要内容摘要内容{i}</p><h3>栏目：<a href='/zcjd/'>政策文件解读</a></h3></div>"
        for i in range(6)
    )
    result = extract_list(page(items), URL, TODAY)
    assert result.newest_date == date(2026, 10, 20)
    assert len(result.items) == 6 and all("政策文件解读" not in i.title for i in result.items)


def test_identical_titles_with_their_own_targets_are_items() -> None:
    rows = "".join(
        f"<li><a href='/cf/{i}.html'>行政处罚决定书</a><span>2026-11-{10 + i}</span></li>" for i in range(5)
    )
    result = extract_list(page(f"<ul class='list'>{rows}</ul>"), URL, TODAY)
    assert result.newest_date == date(2026, 11, 14) and len(result.items) == 5


def test_links_to_this_very_page_are_items_named_by_title() -> None:
    """Templates that leave a title's href empty (a picture link beside it holds the real target)."""
    rows = "".join(
        f"<li><div class='img'><a href='/a/{i}.html'><img src='/u/{i}.jpg'></a></div>"
        f"<div class='t'><a href=''>全县农村人居环境整治现场会{i}</a></div>"
        f"<div class='time'>2015-07-{21 - i} 17:57:28</div></li>"
        for i in range(4)
    )
    result = extract_list(page(f"<ul>{rows}</ul>"), URL, TODAY)
    assert result.newest_date == date(2015, 7, 21) and len(result.items) == 4


@pytest.mark.parametrize(
    "inner",
    [
        "<span> 2024-03-{d:02d} </span>关于开展秋季安全检查工作的通知{i}",  # the date first, inside the link
        "<div class='text'><h4>关于开展秋季安全检查工作的通知{i}</h4><span>2024-03-{d:02d}</span>"
        "<div class='zi'>据悉，《三年行动方案（2021—2023年）》提出，到2023年全面完成{i}</div>"
        "<div class='more'>查看详情&gt;&gt;</div></div>",  # title, date and a summary all in one link
    ],
)
def test_links_wrapping_their_date(inner: str) -> None:
    rows = "".join(f"<li><a href='/a/{i}.html'>{inner.format(i=i, d=10 - i)}</a></li>" for i in range(5))
    result = extract_list(page(f"<ul class='news'>{rows}</ul>"), URL, TODAY)
    assert result.newest_date == date(2024, 3, 10)
    assert result.items[0].title == "关于开展秋季安全检查工作的通知0"


def test_main_column_named_like_a_sidebar_is_the_main_column() -> None:
    """<div class="left_side"> holding the page's <h1> is the page's main column, not a sidebar."""
    main = "<div class='left_side'><h1>通知公告</h1>" + ul(titled(["2021-05-21", "2021-05-19"] * 5)) + "</div>"
    other = ("<div class='contentall'><a href='/x/1.html'>栏目介绍和使用说明</a><br>"
             "<a href='/x/2.html'>网站地图和帮助</a></div>")
    result = extract_list(page(main + other), URL, TODAY)
    assert result.newest_date == date(2021, 5, 21) and len(result.items) == 10


def test_message_list_rows_are_dated_by_their_submission() -> None:
    """网民留言 rows carry 提交时间 and 回复时间: the message's own date is when it was submitted."""
    labelled = "".join(
        f"<li><a href='/ly/{i}.html'>关于小区周边道路积水问题的咨询{i}</a><span>提交时间：2026-11-0{i + 2}</span>"
        f"<span>回复时间：2026-11-{i + 12}</span><span>已回复</span></li>" for i in range(4)
    )
    table = "<table class='ly'><tr><th>标题</th><th>提交时间</th><th>回复时间</th><th>状态</th></tr>" + "".join(
        f"<tr><td><a href='/ly/{i}.html'>关于小区周边道路积水问题的咨询{i}</a></td><td>2026/11/0{i + 2}</td>"
        f"<td>2026/11/{i + 12}</td><td>已回复</td></tr>" for i in range(4)
    ) + "</table>"
    for main in (f"<ul class='ly'>{labelled}</ul>", table):
        result = extract_list(page(main), URL, TODAY)
        assert [i.date for i in result.items] == [date(2026, 11, d) for d in (2, 3, 4, 5)]


def test_english_row_dates_beat_yearless_dates_in_summaries() -> None:
    rows = "".join(
        f"<div class='news'><span class='left'>On October {26 - i},2020</span><h4><a href='/c/{i}.html'>"
        f"关于开展秋季安全检查工作的通知{i}</a></h4><p> 9月28日，某校召开工作会议……</p></div>" for i in range(4)
    )
    result = extract_list(page(f"<div class='list'>{rows}</div>"), URL, TODAY)
    assert result.newest_date == date(2020, 10, 26)


def test_a_labelled_date_in_the_link_tooltip_dates_the_row() -> None:
    """PowerEasy lists show no date; each link's tooltip holds 文章标题, 作者 and 更新时间."""
    rows = "".join(
        f"<tr><td>[<a href='/news/'>新闻</a>]<a href='/news/{i}.html' title='文章标题：关于开展检查工作的通知{i}\n"
        f"作者：办公室\n更新时间：2015/3/{4 - i} 17:26:54'>关于开展检查工作的通知{i}</a></td></tr>" for i in range(3)
    )
    result = extract_list(page(f"<table class='list'>{rows}</table>"), URL, TODAY)
    assert result.newest_date == date(2015, 3, 4)
    assert result.items[0].title == "关于开展检查工作的通知0"
