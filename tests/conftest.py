"""Shared fixtures: a real aiohttp server on 127.0.0.1 serving pages the test sets up."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.evaluate import TZ

# The address the tests' servers listen on, as their inventories name it: a Fetcher built by a test trusts it as
# written (monitor.addresses), as the daemon trusts the IP literals of its inventory.
NAMED = frozenset({"127.0.0.1"})


@dataclass
class PageServer:
    """Routes path → (status, body bytes, content type); ``url(path)`` gives the loopback address."""

    base: str = ""
    pages: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)  # paths that answer conditional GETs
    not_modified: int = 0

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, body: str | bytes, status: int = 200, content_type: str = "text/html; charset=utf-8"):
        self.pages[path] = (status, body.encode() if isinstance(body, str) else body, content_type)


@pytest.fixture
async def page_server() -> AsyncIterator[PageServer]:
    server = PageServer()

    async def handle(request: web.Request) -> web.Response:
        server.hits[request.path] = server.hits.get(request.path, 0) + 1
        if request.path not in server.pages:
            return web.Response(status=404, text="not found")
        status, body, ctype = server.pages[request.path]
        etag = server.etags.get(request.path)
        if etag and request.headers.get("If-None-Match") == etag:
            server.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        headers = {"Content-Type": ctype, **({"ETag": etag} if etag else {})}
        return web.Response(status=status, body=body, headers=headers)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base = f"http://127.0.0.1:{port}"
    yield server
    await runner.cleanup()


def list_page(items: list[tuple[str, str]], title: str = "工作动态") -> str:
    """A small but realistic TRS-style list page: header with today's date, sidebar, footer."""
    lis = "\n".join(
        f'<li><a href="./{d[:7].replace("-", "")}/t{d.replace("-", "")}_{i}.html">{t}</a><span>{d}</span></li>'
        for i, (t, d) in enumerate(items)
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head><body>
<div class="top">今天是2026年11月25日 星期三</div>
<div class="nav"><a href="/">首页</a><a href="/zwgk/">政务公开</a><a href="/hdjl/">互动交流</a></div>
<div class="main"><div class="location">当前位置：首页 &gt; {title}</div>
<ul class="list">{lis}</ul></div>
<div class="footer">主办单位：某某县人民政府办公室 电话：0571-88888888 ICP备05012345号 © 2003-2026</div>
</body></html>"""


ListPage = Callable[..., str]


@pytest.fixture
def make_list_page() -> ListPage:
    return list_page


@dataclass
class Endpoint:
    """A chat/SMS webhook: records what apprise posts; ``plan[path]`` lists failures to serve first."""

    base: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    plan: dict[str, list[str]] = field(default_factory=dict)
    hang: bool = False

    def url(self, scheme: str, path: str) -> str:
        return f"{scheme}://{self.base}/{path}"

    def messages(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["path"] == f"/{path}"]


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    ep = Endpoint()

    async def handle(request: web.Request) -> web.Response:
        steps = ep.plan.get(request.path, [])
        step = steps.pop(0) if steps else "ok"
        if ep.hang or step == "hang":
            await asyncio.sleep(30)
        if step == "500":
            return web.Response(status=500, text="upstream error")
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
        ep.received.append({"path": request.path, "at": datetime.now(TZ), "body": body})
        return web.json_response({"errcode": 0})

    app = web.Application()
    app.router.add_post("/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    ep.base = f"127.0.0.1:{runner.addresses[0][1]}"
    yield ep
    await runner.cleanup()


# PostgreSQL for the tests that run on both stores: a fresh schema per test in the database named here (.ci/run
# creates one and drops it after; locally any database the user may create schemas in).
POSTGRES = os.environ.get("GOVWATCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URI of an empty schema of its own in the test database (its search_path), dropped afterwards."""
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(POSTGRES)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        yield in_schema(POSTGRES, schema)
    finally:
        # connections a test left (a daemon killed with -9): named after the schema
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                            schema)
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


def in_schema(url: str, schema: str) -> str:
    """``url`` with every connection's search_path set to ``schema`` (libpq's and asyncpg's ``options``), its
    connections named after it."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}&application_name={schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store lives, once per backend: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "govwatch.sqlite3")
    return request.getfixturevalue("postgres_url")
