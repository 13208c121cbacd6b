"""Fetcher tests against real aiohttp servers on 127.0.0.1 (ephemeral ports, no mocks)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import resource
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import pairwise

import brotli
import pytest
from aiohttp import web

from monitor.fetch import Fetcher, FetchSettings, Withdrawn
from monitor.model import FetchError
from tests.conftest import NAMED, PageServer

GBK_PAGE = "<html><body>中华人民共和国国务院 关于朱镕基的通知</body></html>"
BOMB_MB = 50


def _gzip_bomb() -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container, built without 50 MB in memory
    zeros = bytes(1024 * 1024)
    parts = [comp.compress(zeros) for _ in range(BOMB_MB)]
    parts.append(comp.flush())
    return b"".join(parts)


BOMB = _gzip_bomb()


class Stats:
    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.starts: list[float] = []
        self.headers: dict[str, str] = {}


STATS = web.AppKey("stats", Stats)


async def gbk(request: web.Request) -> web.Response:
    return web.Response(body=GBK_PAGE.encode("gbk"), headers={"Content-Type": "text/html; charset=utf-8"})


async def gz(request: web.Request) -> web.Response:
    return web.Response(
        body=gzip.compress(GBK_PAGE.encode("utf-8")),
        headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"},
    )


async def br(request: web.Request) -> web.Response:
    return web.Response(
        body=brotli.compress(GBK_PAGE.encode("gbk")),
        headers={"Content-Type": "text/html; charset=gbk", "Content-Encoding": "br"},
    )


async def bomb(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for i in range(0, len(BOMB), 16 * 1024):
        await resp.write(BOMB[i : i + 16 * 1024])
    await resp.write_eof()
    return resp


async def big_length(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/html"})
    resp.content_length = 10 * 1024 * 1024
    await resp.prepare(request)
    await resp.write(b"x" * 1024)
    await asyncio.sleep(5)  # a client that read the body would time out here
    return resp


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(3)
    return web.Response(text="late")


async def loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def redirect_once(request: web.Request) -> web.Response:
    raise web.HTTPFound("/gbk")


async def not_found(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


async def unavailable(request: web.Request) -> web.Response:
    raise web.HTTPServiceUnavailable()


async def conditional(request: web.Request) -> web.Response:
    headers = {"ETag": '"v1"', "Last-Modified": "Wed, 31 May 2023 07:00:00 GMT"}
    if request.headers.get("If-None-Match") == '"v1"':
        return web.Response(status=304, headers=headers)
    return web.Response(text="<p>新内容</p>", content_type="text/html", headers=headers)


async def echo(request: web.Request) -> web.Response:
    request.app[STATS].headers = dict(request.headers)
    return web.Response(text="ok")


async def tracked(request: web.Request) -> web.Response:
    st: Stats = request.app[STATS]
    st.starts.append(time.monotonic())
    st.in_flight += 1
    st.max_in_flight = max(st.max_in_flight, st.in_flight)
    try:
        await asyncio.sleep(0.05)
    finally:
        st.in_flight -= 1
    return web.Response(text="ok")


def make_app() -> web.Application:
    app = web.Application()
    app[STATS] = Stats()
    for path, handler in [
        ("/gbk", gbk),
        ("/gzip", gz),
        ("/br", br),
        ("/bomb", bomb),
        ("/big", big_length),
        ("/slow", slow),
        ("/loop", loop),
        ("/redirect", redirect_once),
        ("/404", not_found),
        ("/503", unavailable),
        ("/cond", conditional),
        ("/echo", echo),
        ("/tracked", tracked),
    ]:
        app.router.add_get(path, handler)
    return app


Serve = Callable[..., Awaitable[tuple[str, web.Application]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []

    async def start(ssl_context: ssl.SSLContext | None = None) -> tuple[str, web.Application]:
        app = make_app()
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}", app

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def server(serve: Serve) -> tuple[str, web.Application]:
    return await serve()


async def test_gbk_behind_utf8_header(server: tuple[str, web.Application]) -> None:
    base, _ = server
    async with Fetcher(FetchSettings(named=NAMED)) as f:
        r = await f.fetch(base + "/gbk")
    assert r.ok, r.detail
    assert r.status == 200
    assert r.text == GBK_PAGE
    assert r.charset == "gb18030"
    assert r.content_type == "text/html"
    assert r.body_bytes == len(GBK_PAGE.encode("gbk"))
    assert r.final_url == base + "/gbk"
    assert r.elapsed_ms > 0


async def test_redirect_followed_final_url(server: tuple[str, web.Application]) -> None:
    base, _ = server
    async with Fetcher(FetchSettings(named=NAMED)) as f:
        r = await f.fetch(base + "/redirect")
    assert r.ok and r.text == GBK_PAGE
    assert r.url == base + "/redirect"
    assert r.final_url == base + "/gbk"


@pytest.mark.parametrize("path", ["/gzip", "/br"])
async def test_compressed(server: tuple[str, web.Application], path: str) -> None:
    base, _ = server
    async with Fetcher(FetchSettings(named=NAMED)) as f:
        r = await f.fetch(base + path)
    assert r.ok, r.detail
    assert r.text == GBK_PAGE


async def test_gzip_bomb_is_too_large(server: tuple[str, web.Application]) -> None:
    base, _ = server
    assert len(BOMB) < 200_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    async with Fetcher(FetchSettings(named=NAMED)) as f:
        r = await f.fetch(base + "/bomb")
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert r.error == FetchError.TOO_LARGE
    assert r.detail == "body exceeds 5242880 bytes after decompression"
    assert r.text is None
    assert growth_mb < 60


async def test_content_length_over_cap(server: tuple[str, web.Application]) -> None:
    base, _ = server
    async with Fetcher(FetchSettings(named=NAMED, timeout_s=3)) as f:
        r = await f.fetch(base + "/big")
    assert r.error == FetchError.TOO_LARGE
    assert "Content-Length" in (r.detail or "")
    assert r.elapsed_ms < 1000  # did not wait for the body


async def test_timeout(server: tuple[str, web.Application]) -> None:
    base, _ = server
    async with Fetcher(FetchSettings(named=NAMED, timeout_s=0.5)) as f:
        r = await f.fetch(base + "/slow")
    assert r.error == FetchError.TIMEOUT
    assert r.detail == "timeout after 0.5 s"
    assert 400 < r.elapsed_ms < 2000


@pytest.mark.parametrize("method", ["HEAD", "GET"])
async def test_link_peek_keeps_the_fetchers_timeout(server: tuple[str, web.Application], method: str) -> None:
    base, _ = server
    async with Fetcher(FetchSettings(named=NAMED, timeout_s=0.5)) as f:
        r = await f.peek(base + "/slow", method=method, read_bytes=1024)
    assert r.error == FetchError.TIMEOUT and 400 < r.elapsed_ms < 2000


async def test_redirect_loop(server: tuple[str, web.Application]) -> None:
    base, _ = server
    async with Fetcher(FetchSettings(named=NAMED, max_redirects=3)) as f:
        r = await f.fetch(base + "/loop")
    assert r.error == FetchError.TOO_MANY_REDIRECTS
    assert r.detail == "more than 3 redirects"


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/404", 404, "HTTP 404 Not Found"),
        ("/503", 503, "HTTP 503 Service Unavailable"),
    ],
)
async def test_http_status(server: tuple[str, web.Application], path: str, status: int, detail: str) -> None:
    base, _ = server
    async with Fetcher(FetchSettings(named=NAMED)) as f:
        r = await f.fetch(base + path)
    assert r.error == FetchError.HTTP_STATUS
    assert r.status == status
    assert r.detail == detail
    assert r.text is None


async def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with Fetcher(FetchSettings(named=NAMED, timeout_s=5)) as f:
        r = await f.fetch(f"http://127.0.0.1:{port}/")
    assert r.error == FetchError.CONNECT
    assert r.detail == f"connect: connection refused 127.0.0.1:{port}"
    assert r.status is None


async def test_dns_failure_is_fast() -> None:
    async with Fetcher(FetchSettings(named=NAMED, timeout_s=5)) as f:
        r = await f.fetch("http://foo.invalid/")
    assert r.error == FetchError.DNS
    assert r.detail == "DNS: name not resolved: foo.invalid"
    assert r.elapsed_ms < 4000


@pytest.mark.parametrize("url", ["ftp://example.org/", "http:///nohost", "not a url", "mailto:a@b.cn"])
async def test_invalid_url(url: str) -> None:
    async with Fetcher(FetchSettings(named=NAMED)) as f:
        r = await f.fetch(url)
    assert r.error == FetchError.INVALID_URL
    assert r.detail


def _self_signed(tmp_path, expired: bool) -> ssl.SSLContext:  # type: ignore[no-untyped-def]
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    start, end = (
        (now - dt.timedelta(days=30), now - dt.timedelta(days=1))
        if expired
        else (now - dt.timedelta(days=1), now + dt.timedelta(days=30))
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


@pytest.mark.parametrize("expired", [False, True])
async def test_tls_untrusted(serve: Serve, tmp_path, expired: bool) -> None:  # type: ignore[no-untyped-def]
    base, _ = await serve(ssl_context=_self_signed(tmp_path, expired))
    async with Fetcher(FetchSettings(named=NAMED, timeout_s=5)) as f:
        r = await f.fetch(base + "/gbk")
    assert r.error == FetchError.TLS, r.detail
    assert (r.detail or "").startswith("TLS: ")
    assert "certificate" in (r.detail or "")


async def test_conditional_get(server: tuple[str, web.Application]) -> None:
    base, _ = server
    async with Fetcher(FetchSettings(named=NAMED)) as f:
        first = await f.fetch(base + "/cond")
        assert first.ok and first.text == "<p>新内容</p>"
        assert first.etag == '"v1"'
        assert first.last_modified == "Wed, 31 May 2023 07:00:00 GMT"
        again = await f.fetch(base + "/cond", etag=first.etag, last_modified=first.last_modified)
    assert again.ok
    assert again.not_modified
    assert again.status == 304
    assert again.text is None
    assert again.etag == '"v1"'


async def test_request_headers(server: tuple[str, web.Application]) -> None:
    base, app = server
    async with Fetcher(FetchSettings(named=NAMED, user_agent="govwatch-test/9")) as f:
        r = await f.fetch(base + "/echo", etag='"x"', last_modified="Wed, 31 May 2023 07:00:00 GMT")
    assert r.ok
    h = app[STATS].headers
    assert h["User-Agent"] == "govwatch-test/9"
    assert h["Accept-Language"] == "zh-CN,zh;q=0.9"
    assert h["Accept"].startswith("text/html")
    assert {"gzip", "deflate", "br"} <= {e.strip() for e in h["Accept-Encoding"].split(",")}
    assert h["If-None-Match"] == '"x"'
    assert h["If-Modified-Since"] == "Wed, 31 May 2023 07:00:00 GMT"


async def test_per_host_concurrency(server: tuple[str, web.Application]) -> None:
    base, app = server
    async with Fetcher(FetchSettings(named=NAMED, per_host_concurrency=2)) as f:
        results = await asyncio.gather(*(f.fetch(base + "/tracked") for _ in range(10)))
    assert all(r.ok for r in results)
    st: Stats = app[STATS]
    assert len(st.starts) == 10
    assert st.max_in_flight == 2


async def test_per_host_interval(serve: Serve) -> None:
    (base_a, app_a), (base_b, app_b) = await serve(), await serve()
    settings = FetchSettings(named=NAMED, per_host_concurrency=4, per_host_interval_s=0.2)
    async with Fetcher(settings) as f:
        t0 = time.monotonic()
        results = await asyncio.gather(
            *(f.fetch(base_a + "/tracked") for _ in range(4)),
            *(f.fetch(base_b + "/tracked") for _ in range(4)),
        )
    assert all(r.ok for r in results)
    a, b = sorted(app_a[STATS].starts), sorted(app_b[STATS].starts)
    gaps = [y - x for x, y in pairwise(a)]
    assert min(gaps) >= 0.2 - 0.02, gaps
    # the other host runs its own schedule: not queued behind host A
    assert b[0] - t0 < 0.15
    assert b[-1] - b[0] >= 0.6 - 0.05  # ... but is itself paced
    assert b[-1] < a[-1] + 0.1


async def test_zero_interval_does_not_delay(server: tuple[str, web.Application]) -> None:
    base, app = server
    async with Fetcher(FetchSettings(named=NAMED, per_host_concurrency=4)) as f:
        await asyncio.gather(*(f.fetch(base + "/tracked") for _ in range(4)))
    starts = sorted(app[STATS].starts)
    assert starts[-1] - starts[0] < 0.1


async def test_pool_queue_does_not_count_against_timeout(serve: Serve) -> None:
    (base_a, _), (base_b, _) = await serve(), await serve()
    # 12 requests of ~50 ms through one connection take ~0.6 s, far beyond the 0.3 s timeout,
    # but each request's own time is short: none may time out while queued.
    async with Fetcher(FetchSettings(named=NAMED, connections=1, per_host_concurrency=6, timeout_s=0.3)) as f:
        results = await asyncio.gather(*(f.fetch(b + "/tracked") for b in (base_a, base_b) * 6))
    assert [r.error for r in results] == [None] * 12


async def test_a_gate_asked_when_the_turn_comes_can_withdraw_the_request(page_server: PageServer) -> None:
    """The gate runs after the host's pause (a request paced one second behind another is gated a second later)
    and, when it withdraws, nothing reaches the site."""
    page_server.set("/a", "<html></html>")
    gated: list[float] = []

    async def allow() -> None:
        gated.append(time.monotonic())

    async def withdraw() -> None:
        gated.append(time.monotonic())
        raise Withdrawn("c1")

    async with Fetcher(FetchSettings(named=NAMED, per_host_interval_s=1.0)) as f:
        first = await f.fetch(page_server.url("/a"), gate=allow)
        with pytest.raises(Withdrawn):
            await f.fetch(page_server.url("/a"), gate=withdraw)
    assert first.ok and page_server.hits["/a"] == 1
    assert gated[1] - gated[0] >= 0.95
