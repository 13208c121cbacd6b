"""HTTP fetching with per-host politeness; never raises for network or site problems.

``Fetcher.fetch`` always returns a ``FetchResult``: on failure ``error`` classifies the problem
and ``detail`` says it in words. Bodies are read as bytes (streamed, capped on *decompressed*
size so a gzip bomb is never inflated in memory) and decoded by ``decode_html``, because
``resp.text()`` raises on GBK bodies behind a utf-8 header.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from yarl import URL

from monitor.decode import DecodeError, decode_html
from monitor.model import FetchError, FetchResult

__all__ = ["FetchSettings", "Fetcher"]

_CHUNK = 64 * 1024
_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9",
    "Accept-Encoding": "gzip, deflate, br",
}


@dataclass(frozen=True)
class FetchSettings:
    timeout_s: float = 15.0  # total per request
    max_bytes: int = 5 * 1024 * 1024  # cap on DECOMPRESSED body bytes
    max_redirects: int = 5
    user_agent: str = "govwatch/0.1 (+government website monitoring)"
    per_host_concurrency: int = 2
    per_host_interval_s: float = 0.0  # minimum time between request starts to one host (netloc)
    connections: int = 200  # total connection pool limit


class _TooLarge(Exception):
    pass


class _Host:
    """Politeness state of one netloc: a concurrency gate and the earliest next start time."""

    __slots__ = ("next_start", "sem")

    def __init__(self, concurrency: int) -> None:
        self.sem = asyncio.Semaphore(concurrency)
        self.next_start = 0.0


class Fetcher:
    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self._hosts: dict[str, _Host] = {}
        # Mirrors the connector limit so requests queue here, before the ClientTimeout starts,
        # and never time out while waiting in aiohttp's pool during a big sweep.
        self._slots = asyncio.Semaphore(settings.connections)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        connector = aiohttp.TCPConnector(
            limit=s.connections, limit_per_host=s.per_host_concurrency, ttl_dns_cache=300
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=s.timeout_s),
            headers={**_HEADERS, "User-Agent": s.user_agent},
        )
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        try:
            u = URL(url)
        except (ValueError, TypeError) as exc:
            return FetchResult(url, url, 0.0, error=FetchError.INVALID_URL, detail=f"invalid URL: {exc}")
        if u.scheme not in ("http", "https") or not u.host:
            return FetchResult(
                url, url, 0.0, error=FetchError.INVALID_URL, detail=f"not an http(s) URL: {url}"
            )
        headers: dict[str, str] | None = None
        if etag or last_modified:
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
        host = self._hosts.get(u.raw_authority)
        if host is None:
            host = self._hosts[u.raw_authority] = _Host(self.settings.per_host_concurrency)
        async with host.sem:
            await self._wait_turn(host)
            async with self._slots:
                t0 = time.perf_counter()
                try:
                    return await self._request(url, u, headers, t0)
                except (TimeoutError, aiohttp.ClientError, OSError, DecodeError) as exc:
                    err, detail = _classify(exc, u, self.settings)
                    return FetchResult(url, url, _ms(t0), error=err, detail=detail)

    async def _wait_turn(self, host: _Host) -> None:
        interval = self.settings.per_host_interval_s
        if interval <= 0:
            return
        now = asyncio.get_running_loop().time()
        start = max(now, host.next_start)
        host.next_start = start + interval  # reserve the slot before sleeping
        if start > now:
            await asyncio.sleep(start - now)

    async def _request(self, url: str, u: URL, headers: dict[str, str] | None, t0: float) -> FetchResult:
        assert self._session is not None
        s = self.settings
        async with self._session.get(u, headers=headers, max_redirects=s.max_redirects) as resp:
            common = {
                "url": url,
                "final_url": str(resp.url),
                "status": resp.status,
                "content_type": resp.content_type if "Content-Type" in resp.headers else None,
                "etag": resp.headers.get("ETag"),
                "last_modified": resp.headers.get("Last-Modified"),
            }
            if resp.status == 304:
                return FetchResult(elapsed_ms=_ms(t0), not_modified=True, **common)
            if resp.status >= 400:
                detail = f"HTTP {resp.status} {resp.reason or ''}".rstrip()
                return FetchResult(elapsed_ms=_ms(t0), error=FetchError.HTTP_STATUS, detail=detail, **common)
            try:
                body = await _read_capped(resp, s.max_bytes)
            except _TooLarge as exc:
                resp.close()  # drop the connection rather than drain the rest
                return FetchResult(elapsed_ms=_ms(t0), error=FetchError.TOO_LARGE, detail=str(exc), **common)
        text, charset = decode_html(body, resp.charset)
        return FetchResult(elapsed_ms=_ms(t0), text=text, charset=charset, body_bytes=len(body), **common)


async def _read_capped(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    length = resp.content_length
    if length is not None and length > max_bytes:
        raise _TooLarge(f"Content-Length {length} exceeds {max_bytes} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise _TooLarge(f"body exceeds {max_bytes} bytes after decompression")
        chunks.append(chunk)
    return b"".join(chunks)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def _classify(exc: BaseException, u: URL, s: FetchSettings) -> tuple[FetchError, str]:
    """Map an exception to (FetchError, detail). Order matters: the classes overlap."""
    if isinstance(exc, DecodeError):
        return FetchError.DECODE, f"decode: {exc}"
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError, ServerTimeoutError
        return FetchError.TIMEOUT, f"timeout after {s.timeout_s:g} s"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return FetchError.TOO_MANY_REDIRECTS, f"more than {s.max_redirects} redirects"
    if isinstance(exc, aiohttp.InvalidURL):
        return FetchError.INVALID_URL, f"invalid URL: {exc.url}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError | socket.gaierror):
        return FetchError.DNS, f"DNS: name not resolved: {u.host}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return FetchError.TLS, f"TLS: {_ssl_reason(exc.certificate_error)}"
    if isinstance(exc, aiohttp.ClientSSLError):
        return FetchError.TLS, f"TLS: {_ssl_reason(exc.os_error)}"
    if isinstance(exc, ssl.SSLError):
        return FetchError.TLS, f"TLS: {_ssl_reason(exc)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FetchError.CONNECT, f"connect: {_os_reason(exc.os_error)} {exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return FetchError.CONNECT, "connect: server disconnected"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return FetchError.CONNECT, f"connect: broken response body: {exc}"
    if isinstance(exc, OSError) and exc.errno is not None:
        return FetchError.CONNECT, f"connect: {_os_reason(exc)}"
    return FetchError.CONNECT, f"connect: {type(exc).__name__}: {exc}"


def _ssl_reason(err: BaseException) -> str:
    msg = getattr(err, "verify_message", None) or getattr(err, "reason", None) or str(err)
    return str(msg)


def _os_reason(err: OSError) -> str:
    if isinstance(err, ssl.SSLError):
        return _ssl_reason(err)
    return os.strerror(err.errno).lower() if err.errno else str(err)
