"""Hidden links (暗链), injected spam, soft 404 and external links on realistic hostile and ordinary pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.checks.page import check_html, soft404, words
from monitor.checks.page.external import external_links, host_kind
from monitor.checks.page.hidden import find_hidden

FIX = Path(__file__).parent / "fixtures" / "health"
URL = "http://www.qingchuan.gov.cn/zwgk/tzgg/202611/t20261120_88.html"


@pytest.fixture(scope="module")
def dicts() -> words.Dictionaries:
    return words.load()


def page(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def test_every_hiding_style_on_a_hacked_page(dicts: words.Dictionaries) -> None:
    found = find_hidden(page("hacked.html"), URL, dicts)
    by_url = {f.url: f for f in found if f.url}
    expected = {  # URL → a piece of the reported hiding style
        "http://www.amxpj8888.com/": "display:none",
        "http://www.bjl-vip.net/": "display:none",
        "https://tyc-bet365.cc/": "visibility:hidden",
        "http://www.3d-caipiao.com/": "left:-9999px",
        "http://xjp-casino.org/kaihu": "text-indent:-9999px",
        "http://www.hg0088-tiyu.com/": "font-size:0",
        "http://www.av-jingpin.xyz/": "overflow:hidden",
        "http://www.liuhecai-kj.com/": "与背景色相同",
        "http://www.sscai.top/": "与背景色相同",  # <font color> on a <td bgcolor>
        "http://tj.spam-stat.xyz/count.html": "iframe width=0 height=0",
        "http://www.yinhe-yule.vip/": "marquee",
        "http://www.js-yule.vip/": "marquee",
        "http://www.kyqp-app.com/": ".lj1 {display:none}",  # class rule in a <style> block
        "http://www.wns-ren.net/": "#bc8 {font-size:0px}",  # id rule
        "http://www.tyc-ylc.com/": ".wz {position:absolute; top:-8000px}",  # second selector of a group
        "http://www.dk-fapiao.cn/": "hidden 属性",
    }
    for url, style in expected.items():
        assert url in by_url, f"missed {url}"
        assert style in by_url[url].style, (url, by_url[url].style)
    assert by_url["http://tj.spam-stat.xyz/count.html"].kind == "hidden_iframe"
    casino = by_url["http://www.kyqp-app.com/"]
    assert casino.text == "开元棋牌" and casino.where.endswith("div.lj1 > a") and "开元棋牌" in casino.reason
    text_only = [f for f in found if f.kind == "hidden_text"]
    assert len(text_only) == 1 and "真人视讯" in text_only[0].reason
    # the page's own links (header, footer, the visible gov.cn link) are never findings
    assert not [f for f in found if f.url and ("qingchuan" in f.url or "gov.cn" in f.url)]
    assert len(found) == len(expected) + 1


def test_seed_spam_tail_is_an_injected_block(dicts: words.Dictionaries) -> None:
    found = find_hidden(page("seed_spam_tail.html"), URL, dicts)
    assert [f.kind for f in found] == ["spam_block"]
    assert found[0].text.startswith("国产精品拍在线观看") and "午夜福利" in found[0].reason
    assert found[0].where.endswith("div#zoom")


def test_ordinary_menus_tabs_and_dropdowns_are_not_hidden_links(dicts: words.Dictionaries) -> None:
    html = page("menus.html")
    assert find_hidden(html, "http://www.qingchuan.gov.cn/", dicts) == []
    report = check_html(html, "http://www.qingchuan.gov.cn/", dicts)
    assert report.hidden == [] and report.words == [] and not report.soft404.is_soft404
    assert [e.host for e in report.external] == ["www.weibo.com"]


def test_hidden_same_site_links_with_spam_text_are_reported(dicts: words.Dictionaries) -> None:
    html = ('<html><body><ul class="nav"><li><a href="/a/">政务公开</a></li></ul>'
            '<div style="display:none"><a href="/x/1.html">澳门新葡京娱乐城</a></div></body></html>')
    found = find_hidden(html, "http://www.qingchuan.gov.cn/", dicts)
    assert [(f.kind, f.url) for f in found] == [("hidden_link", "http://www.qingchuan.gov.cn/x/1.html")]


def test_visible_spam_link_and_news_about_gambling(dicts: words.Dictionaries) -> None:
    html = ('<html><body><p>县公安局召开会议，部署严厉打击网赌和电信网络诈骗专项行动。</p>'
            '<p><a href="http://bet.example.com/">百家乐官网</a></p></body></html>')
    found = find_hidden(html, "http://www.qingchuan.gov.cn/", dicts)
    assert [(f.kind, f.url) for f in found] == [("spam_link", "http://bet.example.com/")]


def test_soft_404() -> None:
    assert soft404.detect(page("soft404.html")).is_soft404
    assert soft404.detect("<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1>"
                          "<hr>nginx</body></html>").is_soft404
    assert soft404.detect("<html><head><title>提示</title></head><body><p>该信息已删除</p></body></html>").is_soft404
    assert not soft404.detect(page("news_404.html")).is_soft404  # "404" in the title, 页面不存在 in the text
    assert not soft404.detect(page("menus.html")).is_soft404
    assert not soft404.detect(page("hacked.html")).is_soft404


@pytest.mark.parametrize(("host", "kind"), [
    ("www.qingchuan.gov.cn", "internal"), ("liuyan.qingchuan.gov.cn", "internal"), ("www.gov.cn", "government"),
    ("www.sc.gov.cn", "government"), ("www.usa.gov", "government"), ("www.people.com.cn", "allowed"),
    ("www.weibo.com", "external"), ("gov.cn.example.com", "external"), ("fakegov.cn", "external"),
    ("www.gov.cn.evil.com", "external"), ("www.gov.hk", "government"),
])
def test_host_kind(host: str, kind: str) -> None:
    assert host_kind(host, "www.qingchuan.gov.cn") == kind


def test_external_links_allow_list_is_configurable() -> None:
    from selectolax.lexbor import LexborHTMLParser

    html = '<a href="https://www.weibo.com/x">微博</a><a href="mailto:a@b.c">信箱</a><a href="/x">内部</a>'
    tree = LexborHTMLParser(html)
    assert [e.url for e in external_links(tree, URL)] == ["https://www.weibo.com/x"]
    assert external_links(tree, URL, allow=("weibo.com",)) == []
