"""Loopback servers shaped like the feed bridges offices run: RSSHub, wewe-rss and we-mp-rss.

Written by us from reading each bridge's renderers and routes (not copied): the same URLs, status codes,
content types and bytes in the same shapes —

* RSSHub: ``/weibo/user/<uid>``, ``/bilibili/user/dynamic/<uid>``, ``/wechat/mp/<biz>`` in RSS (``pubDate`` in
  GMT, HTML escaped into ``<description>``), Atom (``?format=atom``: ISO ``…Z``, ``<published>`` only for an
  item with a date, ``<updated>`` = the rendering instant for one without) and JSON Feed 1.1 (``?format=json``);
  Weibo reposts quoted in ``<blockquote> - 转发 @…``, ``displayComments=1`` appending 热门评论 with replies in
  ``<blockquote>``; Bilibili forwards as ``//转发自: @…`` with an empty title; WeChat articles as their
  ``#js_content`` only; errors as its HTML error page (404, or 503 while a path is being fetched).
* wewe-rss: ``GET /feeds/`` (each feed's ``syncTime``/``updateTime``, Unix seconds) and
  ``/feeds/<mp id>.atom|rss|json`` (``?mode=fulltext`` for the article pages, ``?limit=``): Atom and RSS as the
  ``feed`` package 4.2 renders them, JSON Feed 1 with ``date_modified`` only; 400 JSON for an unknown feed.
* we-mp-rss: ``/rss/<mp id>`` (RSS 2.0 by ElementTree: ``pubDate`` in the bridge's local time with no zone),
  ``/api/v1/wx/articles?mp_id=…`` (bearer token; ``{"code": 0, "data": {"list": [...]}}``, ``publish_time`` in
  Unix seconds) and ``/api/v1/wx/mps/<mp id>`` (its ``sync_time``).

A test sets what each account posted (``Post``) and whether the bridge fails; ``now`` is the bridge's clock.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from typing import Any

from aiohttp import web

from monitor.evaluate import TZ


@dataclass
class Post:
    """One post as the platform gave it to the bridge."""

    id: str
    title: str  # empty for a Bilibili dynamic without a title (and every forward)
    html: str  # the post's body as the bridge renders it (see the helpers below)
    at: datetime | None  # None: the platform gave no date (RSSHub then stamps Atom's <updated> with now)
    digest: str = ""


def gmt(at: datetime) -> str:
    """JavaScript's ``Date.toUTCString()``: ``Wed, 25 Nov 2026 07:00:00 GMT``."""
    return format_datetime(at.astimezone(UTC), usegmt=True)


def iso_z(at: datetime) -> str:
    """JavaScript's ``Date.toISOString()``: ``2026-11-25T07:00:00.000Z``."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


# ------------------------------------------------------------------------------------------ post bodies


def weibo_text(text: str) -> str:
    return text.replace("\n", "<br>")


def weibo_repost(own: str, who: str, uid: str, quoted: str) -> tuple[str, str]:
    """(title, description) of a Weibo repost as RSSHub's weibo utils format it."""
    desc = (f'{weibo_text(own)}<br><blockquote> - 转发 <a href="https://weibo.com/{uid}" target="_blank">@{who}</a>:'
            f"&ensp;{weibo_text(quoted)}</blockquote>")
    return f"{own} - 转发 @{who}:&ensp;{quoted}", desc


def weibo_comments(desc: str, comments: list[tuple[str, str, list[tuple[str, str]]]]) -> str:
    """A description with ``displayComments=1``: 热门评论, each reply quoted in a blockquote."""
    out = desc + ('<br clear="both" /><div style="clear: both"></div><div style="background: #80808010;'
                  'border-top:1px solid #80808030;border-bottom:1px solid #80808030;margin:0;padding:5px 20px;">'
                  "<h3>热门评论</h3>")
    for n, (name, text, replies) in enumerate(comments):
        out += (f'<p style="margin-bottom: 0.5em;margin-top: 0.5em"><a href="https://weibo.com/{100 + n}" '
                f'target="_blank">{name}</a>: {text}')
        if replies:
            out += ('<blockquote style="border-left:0.2em solid #80808080; margin-left: 0.3em; padding-left: 0.5em; '
                    'margin-bottom: 0.5em; margin-top: 0.25em">')
            for who, reply in replies:
                out += (f'<div style="font-size: 0.9em"><a href="https://weibo.com/{200 + n}" target="_blank">{who}'
                        f"</a>: {reply}</div>")
            out += "</blockquote>"
        out += "</p>"
    return out + "</div>"


def bilibili_forward(own: str, up: str, title: str, desc: str, bvid: str) -> str:
    """A Bilibili forward's description as RSSHub's dynamic route writes it (the post's title is empty)."""
    url = f"https://www.bilibili.com/video/{bvid}"
    return (f"{own}<br>//转发自: @{up}: {title}<br>{desc}<br><br>视频地址：<a href={url}>{url}</a>"
            f'<br><iframe src="https://www.bilibili.com/blackboard/html5mobileplayer.html?bvid={bvid}" '
            'width="650" height="477" scrolling="no" border="0" frameborder="no" framespacing="0" '
            'allowfullscreen="true"></iframe><br>')


def wechat_page(title: str, text: str, original: bool = False, source: str | None = None) -> str:
    """An article page as mp.weixin.qq.com serves it (what wewe-rss puts in ``mode=fulltext``): the 原创 mark,
    or the reprint card 以下文章来源于, in the header outside ``#js_content``."""
    mark = ('<span id="copyright_logo" class="rich_media_meta meta_original_tag">原创</span>' if original else "")
    card = (f'<div id="js_share_source" class="original_primary_card_tips">以下文章来源于{source}</div>'
            if source else "")
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(title)}</title></head><body>'
            f'<div id="img-content" class="rich_media_wrp"><h1 class="rich_media_title" id="activity-name">'
            f'{escape(title)}</h1><div id="meta_content" class="rich_media_meta_list">{mark}'
            f'<span class="rich_media_meta rich_media_meta_nickname">青溪发布</span></div>{card}'
            f'<div class="rich_media_content js_underline_content" id="js_content" style="visibility: hidden;">'
            f"{text}</div></div></body></html>")


def js_content(page: str) -> str:
    """Only the article's ``#js_content`` (RSSHub's WeChat routes; wewe-rss with ``ENABLE_CLEAN_HTML``)."""
    start = page.index('<div class="rich_media_content')
    return page[start:page.index("</div></div></body>")] + "</div>"


# ------------------------------------------------------------------------------------------ servers


async def _serve(handler: Callable[[web.Request], Any]) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@dataclass
class Route:
    title: str
    link: str
    description: str
    posts: list[Post]
    author: str = ""


@dataclass
class RssHub:
    """RSSHub: routes by path; ``fail[path]`` = 503 (being fetched), 404 (its error page) or 200 (an error page
    served with 200 by a proxy in front)."""

    now: Callable[[], datetime]
    routes: dict[str, Route] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    built: dict[str, datetime] = field(default_factory=dict)  # when a route's data was cached (lastBuildDate)
    base: str = ""
    hits: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(request.path_qs)
        path = request.path
        if path in self.fail or path not in self.routes:
            status = self.fail.get(path, 404)
            message = ("This path is currently fetching, please come back later!" if status == 503 else
                       "this route is empty, please check the original site or <a href=\"https://github.com/DIYgod/"
                       "RSSHub/issues/new/choose\">create an issue</a>")
            return web.Response(status=status, text=rsshub_error(path, message),
                                content_type="text/html", charset="utf-8")
        route = self.routes[path]
        now = self.now()
        built = self.built.setdefault(path, now)
        fmt = request.query.get("format", "rss")
        url = self.base + request.path_qs
        if fmt == "json":
            return web.Response(body=rsshub_json(route, built).encode(),
                                headers={"Content-Type": "application/feed+json; charset=UTF-8"})
        body = rsshub_atom(route, url, built, now) if fmt == "atom" else rsshub_rss(route, url, built)
        return web.Response(text=body, content_type="application/xml", charset="utf-8")


def rsshub_error(path: str, message: str) -> str:
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><title>RSSHub</title></head><body>'
            '<div class="w-full h-screen flex items-center justify-center flex-col space-y-4">'
            '<img class="grayscale" src="/logo.png" alt="RSSHub" width="100" loading="lazy">'
            '<h1 class="text-4xl font-bold">Looks like something went wrong</h1>'
            '<p class="message">Error Message:<br><code class="mt-2 block max-h-28 overflow-auto bg-zinc-100 '
            f'align-bottom w-fit details">{message}</code></p><p class="message">Route: <code class="ml-2 '
            f'bg-zinc-100">{escape(path)}</code></p></div></body></html>')


def _sorted(posts: list[Post]) -> list[Post]:
    """RSSHub sorts items by pubDate, newest first; undated ones last."""
    return sorted(posts, key=lambda p: p.at.timestamp() if p.at else 0, reverse=True)


def rsshub_rss(route: Route, url: str, built: datetime) -> str:
    items = "".join(
        f"<item><title>{escape(p.title, quote=False)}</title><description>{escape(p.html, quote=False)}"
        f"</description><link>{escape(p.id)}</link><guid isPermaLink=\"false\">{escape(p.id)}</guid>"
        + (f"<pubDate>{gmt(p.at)}</pubDate>" if p.at else "")
        + (f"<author>{escape(route.author)}</author>" if route.author else "") + "</item>"
        for p in _sorted(route.posts))
    return ('<?xml version="1.0" encoding="UTF-8"?><rss xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">'
            f"<channel><title>{escape(route.title)}</title><link>{escape(route.link)}</link>"
            f'<atom:link href="{escape(url)}" rel="self" type="application/rss+xml"></atom:link>'
            f"<description>{escape(route.description)} - Powered by RSSHub</description><generator>RSSHub</generator>"
            "<webMaster>contact@rsshub.app (RSSHub)</webMaster><language>zh-cn</language>"
            f"<lastBuildDate>{gmt(built)}</lastBuildDate><ttl>5</ttl>{items}</channel></rss>")


def rsshub_atom(route: Route, url: str, built: datetime, now: datetime) -> str:
    entries = "".join(
        f"<entry><title>{escape(p.title, quote=False)}</title><content type=\"html\">{escape(p.html, quote=False)}"
        f"</content><link href=\"{escape(p.id)}\"></link><id>{escape(p.id)}</id>"
        + (f"<published>{iso_z(p.at)}</published>" if p.at else "")
        # an item without a date gets the rendering instant (with its milliseconds)
        + f"<updated>{iso_z(p.at or now)}</updated>"
        + (f"<author><name>{escape(route.author)}</name></author>" if route.author else "") + "</entry>"
        for p in _sorted(route.posts))
    return ('<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:rsshub="http://rsshub.app/xml/schemas" xml:lang="zh-cn">'
            f"<title>{escape(route.title)}</title><link rel=\"alternate\" href=\"{escape(route.link)}\"></link>"
            f"<link rel=\"self\" href=\"{escape(url)}\" type=\"application/atom+xml\"></link><id>{escape(route.link)}"
            f"</id><subtitle>{escape(route.description)} - Powered by RSSHub</subtitle><generator>RSSHub</generator>"
            f"<updated>{iso_z(built.replace(microsecond=0))}</updated><author><name>{escape(route.author or 'RSSHub')}"
            f"</name></author>{entries}</feed>")


def rsshub_json(route: Route, built: datetime) -> str:
    items = []
    for p in _sorted(route.posts):
        item: dict[str, Any] = {"id": p.id, "url": p.id, "title": p.title, "content_html": p.html or p.title}
        if p.at:
            item["date_published"] = iso_z(p.at)
        if route.author:
            item["authors"] = [{"name": route.author}]
        items.append(item)
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": route.title,
                       "home_page_url": route.link,
                       "description": f"{route.description} - Made with love by RSSHub(https://github.com/DIYgod/RSSHub)",
                       "language": "zh-cn", "items": items}, ensure_ascii=False, indent=4)


@dataclass
class MpFeed:
    """One 公众号 a wewe-rss or we-mp-rss instance follows."""

    name: str
    posts: list[Post]
    sync_time: datetime | None = None  # the last sync (None: never)
    update_time: datetime | None = None
    intro: str = ""


@dataclass
class WeweRss:
    """wewe-rss: ``FEED_MODE`` (``fulltext`` or not) and ``ENABLE_CLEAN_HTML`` as its settings;
    ``full_text_fails`` makes its fetch of the article pages fail (it then writes its placeholder)."""

    now: Callable[[], datetime]
    feeds: dict[str, MpFeed] = field(default_factory=dict)
    mode: str = ""
    clean_html: bool = False
    full_text_fails: bool = False
    base: str = ""
    hits: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(request.path_qs)
        if request.path in ("/feeds", "/feeds/"):
            return web.json_response([
                {"id": mp, "name": f.name, "intro": f.intro, "cover": "https://mmbiz.qpic.cn/cover.jpg",
                 "syncTime": int(f.sync_time.timestamp()) if f.sync_time else 0,
                 "updateTime": int((f.update_time or self.now()).timestamp())} for mp, f in self.feeds.items()])
        name = request.path.removeprefix("/feeds/")
        mp, _, kind = name.partition(".")
        kind = kind if kind in ("rss", "atom", "json") else "atom"
        feed = self.feeds.get(mp)
        if feed is None or not request.path.startswith("/feeds/"):
            return web.json_response({"statusCode": 400, "message": "不存在该feed！"}, status=400)
        limit = int(request.query.get("limit", "10"))
        mode = request.query.get("mode", self.mode)
        posts = sorted(feed.posts, key=lambda p: p.at or self.now(), reverse=True)[:limit]
        bodies = [self._content(p) if mode == "fulltext" else "" for p in posts]
        link = f"/feeds/{mp}.{kind}"
        updated = feed.update_time or self.now()
        if kind == "json":
            return web.Response(body=wewe_json(feed, link, posts, bodies).encode(),
                                headers={"Content-Type": "application/feed+json; charset=utf-8"})
        render = wewe_rss if kind == "rss" else wewe_atom
        return web.Response(body=render(feed, link, updated, posts, bodies).encode(),
                            headers={"Content-Type": f"application/{kind}+xml; charset=utf-8"})

    def _content(self, post: Post) -> str:
        if self.full_text_fails:
            return "获取全文失败，请重试~"
        return js_content(post.html) if self.clean_html else post.html


def _cdata(text: str) -> str:
    return f"<![CDATA[{text}]]>"


def wewe_atom(feed: MpFeed, link: str, updated: datetime, posts: list[Post], bodies: list[str]) -> str:
    entries = "".join(
        f'\n    <entry>\n        <title type="html">{_cdata(p.title)}</title>\n        <id>{p.id}</id>\n'
        f'        <link href="https://mp.weixin.qq.com/s/{p.id}"/>\n        <updated>{iso_z(p.at or updated)}'
        f"</updated>" + (f'\n        <content type="html">{_cdata(b)}</content>' if b else "") + "\n    </entry>"
        for p, b in zip(posts, bodies, strict=True))
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n    <id>{link}</id>\n'
            f"    <title>{escape(feed.name)}</title>\n    <updated>{iso_z(updated)}</updated>\n"
            f"    <generator>WeWe-RSS</generator>\n    <author>\n        <name>{escape(feed.name)}</name>\n"
            f'    </author>\n    <link rel="alternate" href="{link}"/>\n    <subtitle>{escape(feed.intro)}</subtitle>\n'
            f"    <logo>https://mmbiz.qpic.cn/cover.jpg</logo>\n    <icon>https://mmbiz.qpic.cn/cover.jpg</icon>"
            f"{entries}\n</feed>")


def wewe_rss(feed: MpFeed, link: str, updated: datetime, posts: list[Post], bodies: list[str]) -> str:
    items = "".join(
        f"\n        <item>\n            <title>{_cdata(p.title)}</title>\n"
        f"            <link>https://mp.weixin.qq.com/s/{p.id}</link>\n"
        f"            <guid>https://mp.weixin.qq.com/s/{p.id}</guid>\n"
        f"            <pubDate>{gmt(p.at or updated)}</pubDate>\n"
        + (f"            <content:encoded>{_cdata(b)}</content:encoded>\n" if b else "")
        + f'            <enclosure url="https://mmbiz.qpic.cn/{p.id}.jpeg" length="0" type="image/jpeg"/>\n'
        "        </item>" for p, b in zip(posts, bodies, strict=True))
    ns = (' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
          if any(bodies) else "")
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"{ns}>\n    <channel>\n'
            f"        <title>{escape(feed.name)}</title>\n        <link>{link}</link>\n"
            f"        <description>{escape(feed.intro)}</description>\n        <lastBuildDate>{gmt(updated)}"
            "</lastBuildDate>\n        <docs>https://validator.w3.org/feed/docs/rss2.html</docs>\n"
            "        <generator>WeWe-RSS</generator>\n        <language>zh-cn</language>"
            f"{items}\n    </channel>\n</rss>")


def wewe_json(feed: MpFeed, link: str, posts: list[Post], bodies: list[str]) -> str:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1", "title": feed.name, "home_page_url": link,
        "description": feed.intro, "icon": "https://mmbiz.qpic.cn/cover.jpg", "author": {"name": feed.name},
        "generator": "WeWe-RSS",
        "items": [{"id": p.id, "content_html": b, "url": f"https://mp.weixin.qq.com/s/{p.id}", "title": p.title,
                   "image": f"https://mmbiz.qpic.cn/{p.id}.jpeg", "date_modified": iso_z(p.at or datetime.now(UTC))}
                  for p, b in zip(posts, bodies, strict=True)]}, ensure_ascii=False, indent=4)


@dataclass
class WeMpRss:
    """we-mp-rss: its RSS at ``/rss/<mp id>`` (``rss.full_context`` as ``full_context``), its JSON API behind a
    bearer ``token``; ``local`` is the time zone of the machine it runs on (its RSS dates carry none)."""

    now: Callable[[], datetime]
    token: str
    feeds: dict[str, MpFeed] = field(default_factory=dict)
    full_context: bool = False
    local: timezone | Any = TZ
    base: str = ""
    hits: list[str] = field(default_factory=list)
    auth_seen: list[str | None] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(request.path_qs)
        if request.path.startswith("/rss/"):
            mp = request.path.removeprefix("/rss/")
            feed = self.feeds.get(mp)
            if feed is None:
                return web.json_response({"detail": {"code": 40401, "message": "公众号不存在", "data": None}},
                                         status=404)
            return web.Response(body=self.rss(feed).encode(), content_type="application/xml")
        if request.path.startswith("/api/v1/wx/mps/"):
            feed = self.feeds.get(request.path.removeprefix("/api/v1/wx/mps/"))
            if feed is None:
                return web.json_response({"detail": {"code": 40401, "message": "公众号不存在", "data": None}},
                                         status=201)
            return web.json_response({"code": 0, "message": "success", "data": self.mp(request.path, feed)})
        if request.path == "/api/v1/wx/articles":
            self.auth_seen.append(request.headers.get("Authorization"))
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return web.json_response({"detail": "Could not validate credentials"}, status=401,
                                         headers={"WWW-Authenticate": "Bearer"})
            mp = request.query.get("mp_id", "")
            limit = int(request.query.get("limit", "5"))
            feed = self.feeds.get(mp)
            posts = sorted(feed.posts, key=lambda p: p.at or self.now(), reverse=True)[:limit] if feed else []
            return web.json_response({"code": 0, "message": "success", "data": {"list": [
                {"id": p.id, "mp_id": mp, "title": p.title, "pic_url": f"https://mmbiz.qpic.cn/{p.id}.jpeg",
                 "url": f"https://mp.weixin.qq.com/s/{p.id}", "content": p.html, "description": p.digest,
                 "status": 1, "publish_time": int((p.at or self.now()).timestamp()),
                 "created_at": self._local(p.at or self.now()), "updated_at": self._local(self.now()),
                 "is_export": 0, "mp_name": feed.name if feed else "未知公众号"} for p in posts],
                "total": len(posts)}}, dumps=lambda d: json.dumps(d, ensure_ascii=False))
        return web.Response(status=404, text='{"detail":"Not Found"}', content_type="application/json")

    def _local(self, at: datetime) -> str:
        return at.astimezone(self.local).replace(tzinfo=None).isoformat()

    def mp(self, path: str, feed: MpFeed) -> dict[str, Any]:
        mp = path.removeprefix("/api/v1/wx/mps/")
        return {"id": mp, "mp_name": feed.name, "mp_cover": "https://mmbiz.qpic.cn/cover.jpg", "mp_intro": feed.intro,
                "status": 1, "sync_time": int(feed.sync_time.timestamp()) if feed.sync_time else 0,
                "update_time": int((feed.update_time or self.now()).timestamp()),
                "created_at": self._local(self.now() - timedelta(days=90)), "updated_at": self._local(self.now()),
                "faker_id": "MzA5NzQ1NjY2MA=="}

    def rss(self, feed: MpFeed) -> str:
        def date(at: datetime) -> str:  # strftime('%a, %d %b %Y %H:%M:%S %z') of a naive local time: no zone
            return at.astimezone(self.local).strftime("%a, %d %b %Y %H:%M:%S ")

        ns = ' xmlns:content="http://purl.org/rss/1.0/modules/content/"' if self.full_context else ""
        items = "".join(
            f"<item><id>{p.id}</id><title>{escape(p.title, quote=False)}</title><description>"
            f"{escape(p.digest or p.title, quote=False)}</description><guid>https://mp.weixin.qq.com/s/{p.id}</guid>"
            f'<enclosure url="https://mmbiz.qpic.cn/{p.id}.jpeg" length="0" type="image/jpeg"></enclosure>'
            + (f"<content:encoded>{escape(p.html, quote=False)}</content:encoded>" if self.full_context else "")
            + f"<link>https://mp.weixin.qq.com/s/{p.id}</link><pubDate>{date(p.at or self.now())}</pubDate></item>"
            for p in sorted(feed.posts, key=lambda p: p.at or self.now(), reverse=True))
        return ('<?xml version="1.0" encoding="utf-8"?>\r\n'
                f'<rss version="2.0"{ns}><channel><title>{escape(feed.name)}</title><link>{self.base}/</link>'
                f"<description>{escape(feed.intro)}</description><language>zh-CN</language>"
                f"<generator>Mp-We-Rss</generator><lastBuildDate>{date(self.now())}</lastBuildDate><image><url>"
                f"https://mmbiz.qpic.cn/cover.jpg</url><title>{escape(feed.name)}</title><link>{self.base}/</link>"
                f"</image>{items}</channel></rss>")


Bridge = RssHub | WeweRss | WeMpRss


async def running(bridge: Bridge) -> AsyncIterator[Bridge]:
    """Serve a bridge on 127.0.0.1 for the duration of a fixture."""
    runner, bridge.base = await _serve(bridge.handle)
    try:
        yield bridge
    finally:
        await runner.cleanup()
