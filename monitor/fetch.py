"""HTTP fetching with per-host politeness; never raises for network or site problems.

``Fetcher.fetch`` always returns a ``FetchResult``: on failure ``error`` classifies the problem
and ``detail`` says it in words. Bodies are read as bytes (streamed, capped on *decompressed*
size so a gzip bomb is never inflated in memory) and decoded by ``decode_html``, because
``resp.text()`` raises on GBK bodies behind a utf-8 header.

Every connection is checked against ``monitor.addresses.Reach`` before a byte is sent: each redirect hop whose
URL writes an address (a client middleware, run by aiohttp for every hop) and each DNS answer (a resolver that
filters what it returns, so DNS rebinding is caught at the next lookup). A refused one is the failure
``blocked_address``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_exceptions import ClientConnectorDNSError
from yarl import URL

from monitor.addresses import Reach, literal, named_literals, networks
from monitor.decode import DecodeError, decode_html
from monitor.model import FetchError, FetchResult, Headers
from monitor.tls import tls_context

__all__ = ["BlockedAddress", "FetchSettings", "Fetcher", "Withdrawn", "for_url"]

# Asked when a request's turn comes (its host's pause and a connection slot granted), right before it is sent: it
# may withdraw the request by raising ``Withdrawn``.
Gate = Callable[[], Awaitable[None]]


class Withdrawn(Exception):
    """A request its caller withdrew when its turn came (``gate``): nothing was sent."""

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
    ca_file: str | None = None  # PEM bundle of CAs trusted besides the system's (a private or test CA)
    # Where pages may be read besides public addresses (monitor.addresses): networks allowed (fetch.allow_private)
    # and the IP literals the inventory names, trusted as written.
    allow_private: tuple[str, ...] = ()
    named: frozenset[str] = field(default_factory=frozenset)
    dns_ttl_s: float = 300.0  # how long a (checked) DNS answer is reused


def for_url(url: str, allow_private: tuple[str, ...] = (), **settings: Any) -> FetchSettings:
    """Settings for reading one URL an operator names (``govwatch probe``, ``check-page``): its address, when
    written as one, is trusted as written, as the inventory's are."""
    return FetchSettings(allow_private=allow_private, named=named_literals([url]), **settings)


class BlockedAddress(aiohttp.ClientError):
    """A hop of a request would connect to an address outside the fetcher's reach."""

    def __init__(self, url: URL, address: str, space: str) -> None:
        super().__init__(f"{url} → {address} ({space})")
        self.url, self.address, self.space = url, address, space


class _Refused(OSError):
    """Raised by the resolver (aiohttp expects an OSError there); the middleware tells which URL it was for."""

    def __init__(self, host: str, address: str, space: str) -> None:
        super().__init__(f"{host} resolves to {address} ({space})")
        self.address, self.space = address, space


class _GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` and keeps the answers the reach allows; none left: ``_Refused``."""

    def __init__(self, inner: AbstractResolver, reach: Callable[[], Reach]) -> None:
        self.inner, self.reach = inner, reach

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        answers = await self.inner.resolve(host, port, family)
        reach = self.reach()
        kept = [a for a in answers if reach.refused(a["host"], as_written=False) is None]
        if not kept and answers:
            first = answers[0]["host"]
            raise _Refused(host, first, reach.refused(first, as_written=False) or "")
        return kept

    async def close(self) -> None:
        await self.inner.close()


class _TooLarge(Exception):
    pass


class _Host:
    """Politeness state of one netloc: a concurrency gate and the earliest next start time."""

    __slots__ = ("next_start", "sem")

    def __init__(self, concurrency: int) -> None:
        self.sem = asyncio.Semaphore(concurrency)
        self.next_start = 0.0


class Fetcher:
    def __init__(self, settings: FetchSettings, resolver: AbstractResolver | None = None) -> None:
        """``resolver``: where names are looked up (default: aiohttp's); its answers are checked all the same."""
        self.settings = settings
        self.reach = Reach(networks(settings.allow_private), settings.named)
        self._resolver = resolver
        self._hosts: dict[str, _Host] = {}
        # Mirrors the connector limit so requests queue here, before the ClientTimeout starts,
        # and never time out while waiting in aiohttp's pool during a big sweep.
        self._slots = asyncio.Semaphore(settings.connections)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        resolver = _GuardedResolver(self._resolver or aiohttp.resolver.DefaultResolver(), lambda: self.reach)
        connector = aiohttp.TCPConnector(
            limit=s.connections, limit_per_host=s.per_host_concurrency, ttl_dns_cache=s.dns_ttl_s,
            ssl=tls_context(s.ca_file) if s.ca_file else True, resolver=resolver,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=s.timeout_s),
            headers={**_HEADERS, "User-Agent": s.user_agent},
            middlewares=(self._guard,),
        )
        return self

    def trust(self, named: frozenset[str]) -> None:
        """The IP literals the inventory names now (after a reload): trusted as written."""
        self.reach = Reach(self.reach.allow, named)

    async def _guard(self, req: aiohttp.ClientRequest, handler: Any) -> aiohttp.ClientResponse:
        """Run for every hop of a request: an address written in its URL is checked here, a name's DNS answers
        by the resolver; either refusal becomes ``BlockedAddress`` naming the hop's URL."""
        address = literal(req.url.raw_host)
        if address is not None:
            refused = self.reach.refused(str(address), as_written=True)
            if refused is not None:
                raise BlockedAddress(req.url, str(address), refused)
        try:
            return await handler(req)
        except ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, _Refused):
                raise BlockedAddress(req.url, exc.os_error.address, exc.os_error.space) from None
            raise

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None,
        timeout_s: float | None = None, error_body: int = 0, extra: Headers = (), gate: Gate | None = None,
    ) -> FetchResult:
        """GET a page. ``timeout_s`` replaces the total timeout for this request; with ``error_body`` > 0 an
        error answer's first bytes are kept as ``text`` (a WAF's challenge page says who answered); ``extra``
        headers go with the request (a source's credentials; aiohttp drops Authorization and Cookie on a redirect
        to another origin); ``gate`` is awaited when the request's turn comes, right before it is sent."""
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        u = _http_url(url)
        if isinstance(u, FetchResult):
            return u
        headers: dict[str, str] | None = {name: secret.value for name, secret in extra} or None
        if etag or last_modified:
            headers = headers or {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
        async with self._turn(u):
            if gate is not None:
                await gate()
            t0 = time.perf_counter()
            try:
                return await self._request(url, u, headers, t0, timeout_s, error_body)
            except (TimeoutError, aiohttp.ClientError, OSError, DecodeError) as exc:
                err, detail = _classify(exc, u, self.settings, timeout_s)
                return FetchResult(url, _final_url(exc, url), _ms(t0), error=err, detail=detail)

    async def peek(self, url: str, *, method: str = "HEAD", read_bytes: int = 0,
                   timeout_s: float | None = None) -> FetchResult:
        """A link check under the same per-host limits: status and final URL after redirects.

        A GET reads at most ``read_bytes`` of the body (``text`` is set for an HTML answer, e.g. to
        spot a soft 404) and drops the connection rather than read the rest.
        """
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        u = _http_url(url)
        if isinstance(u, FetchResult):
            return u
        s = self.settings
        # Never None: aiohttp reads an explicit None as "no timeout at all".
        timeout = aiohttp.ClientTimeout(total=timeout_s or s.timeout_s)
        async with self._turn(u):
            t0 = time.perf_counter()
            try:
                async with self._session.request(method, u, allow_redirects=True, max_redirects=s.max_redirects,
                                                 timeout=timeout) as resp:
                    common = {"url": url, "final_url": str(resp.url), "status": resp.status,
                              "content_type": resp.content_type if "Content-Type" in resp.headers else None}
                    # A body left unread closes the connection on release instead of being drained.
                    if resp.status >= 400:
                        detail = f"HTTP {resp.status} {resp.reason or ''}".rstrip()
                        return FetchResult(elapsed_ms=_ms(t0), error=FetchError.HTTP_STATUS, detail=detail, **common)
                    if method != "GET" or read_bytes <= 0 or "html" not in resp.content_type:
                        return FetchResult(elapsed_ms=_ms(t0), **common)
                    body = await _read_head(resp, read_bytes)
                    text, charset = decode_html(body, resp.charset)
                    return FetchResult(elapsed_ms=_ms(t0), text=text, charset=charset, body_bytes=len(body), **common)
            except (TimeoutError, aiohttp.ClientError, OSError, DecodeError) as exc:
                err, detail = _classify(exc, u, s, timeout_s)
                return FetchResult(url, _final_url(exc, url), _ms(t0), error=err, detail=detail)

    @asynccontextmanager
    async def _turn(self, u: URL) -> AsyncIterator[None]:
        """Per-host politeness, then a connection slot: every request waits here."""
        host = self._hosts.get(u.raw_authority)
        if host is None:
            host = self._hosts[u.raw_authority] = _Host(self.settings.per_host_concurrency)
        async with host.sem:
            await self._wait_turn(host)
            async with self._slots:
                yield

    async def _wait_turn(self, host: _Host) -> None:
        interval = self.settings.per_host_interval_s
        if interval <= 0:
            return
        now = asyncio.get_running_loop().time()
        start = max(now, host.next_start)
        host.next_start = start + interval  # reserve the slot before sleeping
        if start > now:
            await asyncio.sleep(start - now)

    async def _request(self, url: str, u: URL, headers: dict[str, str] | None, t0: float,
                       timeout_s: float | None = None, error_body: int = 0) -> FetchResult:
        assert self._session is not None
        s = self.settings
        timeout = aiohttp.ClientTimeout(total=timeout_s or s.timeout_s)
        async with self._session.get(u, headers=headers, max_redirects=s.max_redirects, timeout=timeout) as resp:
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
                text = decode_html(await _read_head(resp, error_body), resp.charset)[0] if error_body > 0 else None
                return FetchResult(elapsed_ms=_ms(t0), error=FetchError.HTTP_STATUS, detail=detail, text=text,
                                   **common)
            try:
                body = await _read_capped(resp, s.max_bytes)
            except _TooLarge as exc:
                resp.close()  # drop the connection rather than drain the rest
                return FetchResult(elapsed_ms=_ms(t0), error=FetchError.TOO_LARGE, detail=str(exc), **common)
        text, charset = decode_html(body, resp.charset)
        return FetchResult(elapsed_ms=_ms(t0), text=text, charset=charset, body_bytes=len(body), **common)


def _http_url(url: str) -> URL | FetchResult:
    """The parsed URL, or the failed result for a URL that is not http(s)."""
    try:
        u = URL(url)
    except (ValueError, TypeError) as exc:
        return FetchResult(url, url, 0.0, error=FetchError.INVALID_URL, detail=f"invalid URL: {exc}")
    if u.scheme not in ("http", "https") or not u.host:
        return FetchResult(url, url, 0.0, error=FetchError.INVALID_URL, detail=f"not an http(s) URL: {url}")
    return u


async def _read_head(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """At most ``limit`` bytes of the body, cut after the last complete tag (never inside a character)."""
    body = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) >= limit:
            return bytes(body[:body.rfind(b">", 0, limit) + 1])
    return bytes(body)


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


def _final_url(exc: BaseException, url: str) -> str:
    """Where a failed request ended: the hop that was refused, else the URL asked for."""
    return str(exc.url) if isinstance(exc, BlockedAddress) else url


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def _classify(exc: BaseException, u: URL, s: FetchSettings, timeout_s: float | None = None) -> tuple[FetchError, str]:
    """Map an exception to (FetchError, detail). Order matters: the classes overlap."""
    if isinstance(exc, BlockedAddress):
        return FetchError.BLOCKED_ADDRESS, (f"blocked: {exc.url} is at {exc.address}, a {exc.space} address; "
                                            "for an intranet site allow its network under fetch.allow_private")
    if isinstance(exc, DecodeError):
        return FetchError.DECODE, f"decode: {exc}"
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError, ServerTimeoutError
        return FetchError.TIMEOUT, f"timeout after {timeout_s or s.timeout_s:g} s"
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
