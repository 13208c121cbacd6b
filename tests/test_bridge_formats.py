"""Accounts read right from the bridges offices run: feeds in RSSHub's, wewe-rss's and we-mp-rss's exact shapes
(tests/bridges.py), served on 127.0.0.1 and read through the daemon's path — fetcher, parser worker, evaluation,
the share check and the accounts page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from ruamel.yaml import YAML

from monitor import config
from monitor.account_source import source_parser
from monitor.evaluate import TZ, Reason
from monitor.extract.accounts.feeds import rendering_stamp, shared_stamp
from monitor.extract_pool import ExtractPool
from monitor.fetch import Fetcher, FetchSettings
from monitor.model import Item, Observation, State
from monitor.probe import probe
from monitor.service import monitoring
from monitor.web.app import serve
from tests.bridges import (
    MpFeed,
    Post,
    Route,
    RssHub,
    WeMpRss,
    WeweRss,
    bilibili_forward,
    js_content,
    running,
    wechat_page,
    weibo_comments,
    weibo_repost,
)
from tests.conftest import NAMED, Endpoint

NOW = datetime.now(TZ).replace(microsecond=0)
TODAY = NOW.date()


def at(days: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time ``days`` ago; early hours are the previous day in UTC (GMT and ``Z`` dates show it)."""
    return datetime.combine(TODAY - timedelta(days=days), datetime.min.time(), TZ).replace(hour=hour, minute=minute)


def weibo_posts() -> list[Post]:
    title, desc = weibo_repost("转发微博", "青溪气象", "1234", "青溪县气象台发布今日天气预报：阴转小雨，气温6～12℃")
    commented = "青溪县召开冬季安全生产工作会议，部署冬季消防检查"
    return [
        Post("https://weibo.com/5678/P1", "青溪县开展冬季森林防火宣传", "青溪县开展冬季森林防火宣传<br><img src="
             '"https://wx1.sinaimg.cn/large/p1.jpg">', at(1, 7, 30)),
        Post("https://weibo.com/5678/P2", title, desc, at(2, 10)),
        # an original post with its hot comments (displayComments=1): a reply quotes @someone in a blockquote
        Post("https://weibo.com/5678/P3", commented, weibo_comments(commented, [
            ("网友甲", "为安全生产点赞", [("青溪发布", "回复<a href='https://m.weibo.cn/n/网友甲'>@网友甲</a>:谢谢关注"),
                                     ("网友乙", "//@网友甲: 转发支持")])]), at(3, 0, 30)),
    ]


def bilibili_posts() -> list[Post]:
    return [
        Post("https://t.bilibili.com/901", "", bilibili_forward(
            "一起来学防汛知识", "应急管理部", "防汛避险小常识", "汛期来临，这些知识要记牢", "BV1xx411c7mD"), at(0, 1)),
        Post("https://t.bilibili.com/902", "青溪县2026年征兵宣传片", "青溪县征兵宣传片上线<br><br>视频地址："
             "<a href=https://www.bilibili.com/video/BV1yy411c7mE>https://www.bilibili.com/video/BV1yy411c7mE</a>",
             at(2, 15)),
    ]


def wechat_posts() -> list[Post]:
    return [
        Post("a1", "青溪县2026年冬季征兵公告", wechat_page(
            "青溪县2026年冬季征兵公告", "<p>根据县征兵工作领导小组安排……</p>", original=True), at(0, 1, 15),
             "冬季征兵开始报名"),
        Post("a2", "权威发布｜全国冬季安全生产电视电话会议召开", wechat_page(
            "全国冬季安全生产电视电话会议召开", "<p>来源：新华社</p><p>会议强调……</p>", source="新华社"), at(1, 20)),
        Post("a3", "青溪县召开县委常委会会议", wechat_page("青溪县召开县委常委会会议", "<p>会议传达学习……</p>"),
             at(3, 9)),
    ]


@pytest.fixture
async def rsshub() -> AsyncIterator[RssHub]:
    hub = RssHub(now=lambda: datetime.now(TZ))
    hub.routes["/weibo/user/5678"] = Route("青溪发布的微博", "https://weibo.com/5678", "青溪发布的微博", weibo_posts(),
                                           "青溪发布")
    hub.routes["/bilibili/user/dynamic/3461"] = Route("青溪发布 的 bilibili 动态", "https://space.bilibili.com/3461/dynamic",
                                                      "青溪发布 的 bilibili 动态", bilibili_posts(), "青溪发布")
    hub.routes["/wechat/mp/MzA5NzQ1NjY2MA=="] = Route(
        "青溪县人民政府", "https://mp.weixin.qq.com/", "青溪县人民政府",
        [Post(f"https://mp.weixin.qq.com/s/{p.id}", p.title, js_content(p.html), p.at) for p in wechat_posts()])
    async for served in running(hub):
        yield served  # type: ignore[misc]


@pytest.fixture
async def wewe() -> AsyncIterator[WeweRss]:
    bridge = WeweRss(now=lambda: datetime.now(TZ))
    bridge.feeds["MP_WXS_3941633310"] = MpFeed("青溪县人民政府", wechat_posts(), sync_time=NOW - timedelta(hours=3),
                                               update_time=at(30, 12), intro="青溪县人民政府官方公众号")
    async for served in running(bridge):
        yield served  # type: ignore[misc]


@pytest.fixture
async def wemp() -> AsyncIterator[WeMpRss]:
    bridge = WeMpRss(now=lambda: datetime.now(TZ), token="eyJhbGciOiJIUzI1NiJ9.test")
    bridge.feeds["MP_WXS_3941633310"] = MpFeed("青溪县人民政府", wechat_posts(), sync_time=NOW - timedelta(hours=3))
    async for served in running(bridge):
        yield served  # type: ignore[misc]


async def read_all(urls: dict[str, str], platforms: dict[str, str], when: datetime) -> dict[str, Observation]:
    """Each URL probed and parsed in a worker process, as the daemon does."""
    pool = ExtractPool(workers=1)
    out = {}
    try:
        async with Fetcher(FetchSettings(named=NAMED, per_host_interval_s=0, per_host_concurrency=4)) as fetcher:
            for name, url in urls.items():
                parser = source_parser("rss", None, None, platforms[name])
                obs, result = await probe(fetcher, pool, name, url, when, parser=parser)
                assert result.ok, (name, result.detail)
                out[name] = obs
    finally:
        pool.close()
    return out


def flags(items: tuple[Item, ...]) -> list[tuple[date | None, bool | None, bool | None]]:
    return [(i.date, i.repost, i.off_duty) for i in items]


async def test_rsshub_weibo_and_bilibili_in_rss_atom_and_json_feed(rsshub: RssHub) -> None:
    # an item the platform gave no date: RSSHub's Atom stamps it with the rendering instant
    pinned = Post("https://weibo.com/5678/P0", "置顶：青溪发布欢迎您", "置顶微博", None)
    rsshub.routes["/weibo/user/5678"].posts.append(pinned)
    weibo, bili = rsshub.base + "/weibo/user/5678", rsshub.base + "/bilibili/user/dynamic/3461"
    urls = {"weibo.rss": weibo, "weibo.atom": weibo + "?format=atom", "weibo.json": weibo + "?format=json",
            "bili.rss": bili, "bili.atom": bili + "?format=atom", "bili.json": bili + "?format=json"}
    got = await read_all(urls, {k: "微博" if k.startswith("weibo") else "哔哩哔哩" for k in urls}, datetime.now(TZ))
    expected_weibo = [
        (TODAY - timedelta(days=1), False, False),  # 07:30 Shanghai: the day before in GMT (pubDate), read right
        (TODAY - timedelta(days=2), True, True),  # a repost of the weather station's forecast
        (TODAY - timedelta(days=3), False, False),  # 00:30: its comments' @replies are not a repost
        (None, False, False),  # undated: neither its RSS nor its Atom stamp makes it today's
    ]
    for fmt in ("rss", "atom", "json"):
        obs = got[f"weibo.{fmt}"]
        assert obs.newest_date == TODAY - timedelta(days=1), fmt
        assert flags(obs.items) == expected_weibo, fmt
        bili_obs = got[f"bili.{fmt}"]
        assert bili_obs.newest_date == TODAY, fmt
        forward, video = bili_obs.items
        assert (forward.repost, video.repost) == (True, False), fmt  # //转发自: @应急管理部
        assert forward.title.startswith("一起来学防汛知识 //转发自: @应急管理部: 防汛避险小常识"), fmt  # empty title
        assert video.title == "青溪县2026年征兵宣传片"
    assert rsshub.hits.count("/weibo/user/5678?format=atom") == 1


async def test_wewe_rss_atom_rss_and_json_feed_with_and_without_full_text(wewe: WeweRss) -> None:
    feed = wewe.base + "/feeds/MP_WXS_3941633310"
    urls = {"atom": feed + ".atom", "fulltext": feed + ".atom?mode=fulltext", "rss": feed + ".rss?mode=fulltext",
            "json": feed + ".json"}
    got = await read_all(urls, dict.fromkeys(urls, "微信公众号"), datetime.now(TZ))
    for name, obs in got.items():
        assert obs.newest_date == TODAY, name  # 01:15 Shanghai: yesterday in ISO Z and GMT
        assert [i.date for i in obs.items] == [TODAY, TODAY - timedelta(days=1), TODAY - timedelta(days=3)], name
    # titles only: WeChat says nothing of 原创 or 以下文章来源于, and the headlines hold no off-duty keyword
    assert flags(got["atom"].items) == [(i.date, None, None) for i in got["atom"].items]
    assert flags(got["json"].items) == flags(got["atom"].items)  # JSON Feed 1: date_modified only
    for name in ("fulltext", "rss"):
        assert [(i.repost, i.off_duty) for i in got[name].items] == [(False, False), (True, True), (None, False)]

    wewe.clean_html = True  # ENABLE_CLEAN_HTML keeps #js_content only: the marks are gone, the text stays
    wewe.full_text_fails = False
    cleaned = await read_all({"atom": urls["fulltext"]}, {"atom": "微信公众号"}, datetime.now(TZ))
    assert [(i.repost, i.off_duty) for i in cleaned["atom"].items] == [(None, False), (None, True), (None, False)]
    wewe.full_text_fails = True  # wewe-rss's placeholder is not the article's text
    failed = await read_all({"atom": urls["fulltext"]}, {"atom": "微信公众号"}, datetime.now(TZ))
    assert [(i.repost, i.off_duty) for i in failed["atom"].items] == [(None, None)] * 3


async def test_we_mp_rss_local_times_without_a_zone(wemp: WeMpRss) -> None:
    url = wemp.base + "/rss/MP_WXS_3941633310"
    got = await read_all({"rss": url}, {"rss": "微信公众号"}, datetime.now(TZ))
    assert [i.date for i in got["rss"].items] == [TODAY, TODAY - timedelta(days=1), TODAY - timedelta(days=3)]
    # its <description> is the digest (or the title again): a digest is text, a repeated title is not
    assert [i.off_duty for i in got["rss"].items] == [False, None, None]


def test_a_feeds_rendering_stamp_is_told_from_a_posts_date() -> None:
    fetched = datetime(2026, 11, 25, 15, 0, 3, tzinfo=TZ)
    stamp = datetime(2026, 11, 25, 15, 0, 2, 417000, tzinfo=TZ)
    post = datetime(2026, 11, 25, 9, 30, tzinfo=TZ)
    assert rendering_stamp(post, "RSSHub", None, fetched)  # RSSHub's Atom has <published> for every dated item
    assert rendering_stamp(stamp, "", None, fetched)  # the instant of the fetch itself
    assert not rendering_stamp(post, "WeWe-RSS", None, fetched)
    assert not rendering_stamp(post, "", None, None)
    # a feed whose <updated> is its newest entry's is common and honest; every entry at that instant is a stamp
    assert shared_stamp([post, post - timedelta(days=1)], post) is None
    assert shared_stamp([post, post], post) == post and rendering_stamp(post, "", post, None)
    assert shared_stamp([post], post) is None


def inventory(tmp: Path, listed: list[dict[str, Any]], endpoint: Endpoint, **settings: Any) -> Path:
    data = {
        "settings": {"store": str(tmp / "s.sqlite3"), "extract_workers": 1,
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"},
                     "alerts": {"group_window": "0s", "repeat_at": None, "escalate_after": None,
                                "send_timeout": "2s", "max_backoff": "1s"}, **settings},
        "units": [{"id": "u1", "name": "青溪县人民政府办公室",
                   "receivers": [{"id": "group", "url": endpoint.url("json", "u1")}]}],
        "accounts": listed,
    }
    path = tmp / "inv.yaml"
    YAML().dump(data, path)
    return path


def account(aid: str, platform: str, url: str, kind: str = "rss") -> dict[str, Any]:
    return {"id": aid, "unit": "u1", "platform": platform, "name": f"青溪{aid}",
            "source": {"kind": kind, "url": url}}


async def accounts_page(monitor: Any) -> dict[str, str]:
    runner = await serve(monitor, "127.0.0.1", 0)
    try:
        async with ClientSession() as http:
            html = await (await http.get(f"http://127.0.0.1:{runner.addresses[0][1]}/accounts")).text()
    finally:
        await runner.cleanup()
    return {r.split('data-id="')[1].split('"')[0]: r for r in html.split("<tr ")[1:] if 'data-id="' in r}


async def test_error_pages_and_undecidable_shares_through_the_daemon(
        tmp_path: Path, rsshub: RssHub, wewe: WeweRss, wemp: WeMpRss, endpoint: Endpoint) -> None:
    rsshub.routes["/weibo/user/1111"] = Route("县公安局的微博", "https://weibo.com/1111", "县公安局的微博",
                                              weibo_posts())
    rsshub.fail = {"/weibo/user/1111": 503, "/weibo/user/2222": 404, "/weibo/user/3333": 200}
    wechat = [Post(p.id, p.title, p.html, at(n, 9)) for n, p in enumerate(wechat_posts() * 2)]
    wewe.feeds["MP_WXS_3941633310"].posts = [Post(f"{p.id}-{n}", p.title, p.html, p.at)
                                             for n, p in enumerate(wechat)]
    accounts = [
        account("weibo", "微博", rsshub.base + "/weibo/user/5678"),
        account("mp-titles", "微信公众号", wewe.base + "/feeds/MP_WXS_3941633310.atom", "atom"),
        account("mp-rsshub", "微信公众号", rsshub.base + "/wechat/mp/MzA5NzQ1NjY2MA==?format=atom", "atom"),
        account("busy", "微博", rsshub.base + "/weibo/user/1111"),
        account("gone", "微博", rsshub.base + "/weibo/user/2222"),
        account("proxied", "微博", rsshub.base + "/weibo/user/3333"),
        account("wewe-unknown", "微信公众号", wewe.base + "/feeds/MP_WXS_404.atom", "atom"),
        account("wemp-unknown", "微信公众号", wemp.base + "/rss/MP_WXS_404"),
    ]
    path = inventory(tmp_path, accounts, endpoint, accounts={"min_posts": 3})
    async with monitoring(config.load(path)) as monitor:
        await monitor.sweep_once()
        verdicts = {aid: t.verdict for aid, t in monitor.tracked.items()}
        rows = await accounts_page(monitor)
        found = {key for key in monitor.findings if key[0] == "repost_share" and monitor.findings[key]}
    assert {aid: v.state for aid, v in verdicts.items()} == {
        "weibo": State.GREEN, "mp-titles": State.GREEN, "mp-rsshub": State.GREEN, "busy": State.UNKNOWN,
        "gone": State.UNKNOWN, "proxied": State.UNKNOWN, "wewe-unknown": State.UNKNOWN,
        "wemp-unknown": State.UNKNOWN}
    assert verdicts["proxied"].reasons == (Reason.SOURCE_FAULT,)  # an error page served with 200
    assert "转发 1/3（33%）" in rows["weibo"] and "非本职 1/3（33%）" in rows["weibo"]
    # six headlines with nothing else: neither share can be judged, and nothing is claimed about them
    assert "转发 无法判断 · 非本职 无法判断" in rows["mp-titles"] and 'data-state="unknown">转发' in rows["mp-titles"]
    # RSSHub's WeChat articles (#js_content only) say nothing of 原创 or reprints; their text tells 新华社's
    assert "转发 无法判断 · 非本职 1/3（33%）" in rows["mp-rsshub"]
    assert "转发 0/" not in "".join(rows.values())
    assert found == set()
    assert endpoint.received == []  # nobody is told anything of a bridge's error page
