"""A monitored site that leads the fetcher into loopback, private or link-local space: refused at every redirect
hop and every DNS answer (``blocked_address``), the column unknown and nothing of that page read; addresses the
inventory names are trusted as written and ``fetch.allow_private`` opens a network. Real servers on 127.0.0.1
and 127.0.0.2, real fetcher, real daemon and board; made-up public names resolved by a resolver the test hands
the fetcher."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from aiohttp.abc import AbstractResolver, ResolveResult
from ruamel.yaml import YAML

from monitor import config
from monitor.addresses import Reach, named_literals, networks, space
from monitor.evaluate import Reason
from monitor.fetch import Fetcher, FetchSettings
from monitor.model import FetchError, State
from monitor.service import monitoring
from monitor.web.app import serve
from tests.conftest import NAMED, list_page

PAGE = list_page([("关于做好防汛工作的通知", "2026-11-20"), ("县政府常务会议召开", "2026-11-18")])


@dataclass
class Site:
    """One loopback server: ``/list`` is a list page, ``/to?url=`` redirects there; hits counted by path."""

    host: str
    port: int = 0
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"


async def _start(site: Site) -> web.AppRunner:
    async def handle(request: web.Request) -> web.StreamResponse:
        site.hits[request.path] = site.hits.get(request.path, 0) + 1
        if request.path == "/to":
            raise web.HTTPFound(request.query["url"])
        response = web.Response(text=PAGE, content_type="text/html")
        response.force_close()  # each fetch connects (and resolves) anew
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, site.host, site.port).start()
    site.port = runner.addresses[0][1]
    return runner


@pytest.fixture
async def sites() -> AsyncIterator[tuple[Site, Site]]:
    """A site on 127.0.0.1 and one on 127.0.0.2 (the same port when free: a redirect that changes the address
    alone)."""
    first = Site("127.0.0.1")
    runners = [await _start(first)]
    second = Site("127.0.0.2", first.port)
    try:
        runners.append(await _start(second))
    except OSError:
        second.port = 0
        runners.append(await _start(second))
    yield first, second
    for runner in runners:
        await runner.cleanup()


class Names(AbstractResolver):
    """Made-up names answered from a table; a name with several answers gives the next one at each lookup."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        self.lookups.append(host)
        answers = self.table.get(host)
        if not answers:
            raise OSError(socket.EAI_NONAME, f"{host} not found")
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        return [ResolveResult(hostname=host, host=address, port=port, family=socket.AF_INET, proto=0, flags=0)]

    async def close(self) -> None:
        pass


def test_which_addresses_are_special() -> None:
    assert space(ipaddress.ip_address("1.2.3.4")) is None
    cases = {"127.0.0.1": "loopback", "10.1.2.3": "private", "192.168.0.1": "private", "172.16.0.1": "private",
             "169.254.169.254": "link-local", "0.0.0.0": "unspecified", "::1": "loopback", "fe80::1": "link-local",
             "fd00::1": "private", "::ffff:127.0.0.1": "loopback", "100.64.0.1": "shared", "224.0.0.1": "multicast"}
    for address, kind in cases.items():
        assert Reach().refused(address, as_written=False) == kind, address
    reach = Reach(networks(config.FetchModel(allow_private=("10.0.0.0/8",)).allow_private), NAMED)
    assert reach.refused("10.9.9.9", as_written=False) is None  # an allowed network (政务外网)
    assert reach.refused("127.0.0.1", as_written=True) is None  # named by the inventory, written as such
    assert reach.refused("127.0.0.1", as_written=False) == "loopback"  # a name that resolves there is not
    assert named_literals(["http://127.0.0.1:8081/a", "https://[::1]/", "http://www.gov.cn/", "not a url"]) == {
        "127.0.0.1", "::1"}


async def test_a_redirect_into_loopback_is_refused_at_every_hop(sites: tuple[Site, Site]) -> None:
    first, second = sites
    names = Names({"intranet.example": ["127.0.0.1"]})
    async with Fetcher(FetchSettings(named=NAMED), resolver=names) as fetcher:
        own = await fetcher.fetch(first.url("/list"))  # the inventory names 127.0.0.1: trusted as written
        assert own.ok and "防汛" in (own.text or "")
        same = await fetcher.fetch(first.url("/to?url=" + first.url("/list")))  # a redirect on the named address
        assert same.ok and same.final_url == first.url("/list")

        to_name = await fetcher.fetch(first.url("/to?url=" + first.url("/named", "intranet.example")))
        assert to_name.error is FetchError.BLOCKED_ADDRESS and to_name.text is None
        assert to_name.final_url == first.url("/named", "intranet.example")
        assert "127.0.0.1" in (to_name.detail or "") and "loopback" in (to_name.detail or "")

        to_other = await fetcher.fetch(first.url("/to?url=" + second.url("/list")))
        assert to_other.error is FetchError.BLOCKED_ADDRESS and to_other.final_url == second.url("/list")

        peeked = await fetcher.peek(first.url("/to?url=" + second.url("/list")), method="GET", read_bytes=1000)
        assert peeked.error is FetchError.BLOCKED_ADDRESS  # link checks too
    assert first.hits.get("/named", 0) == 0 and second.hits == {}  # no request ever reached them


async def test_a_public_name_that_resolves_into_loopback_is_refused_unless_its_network_is_allowed(
    sites: tuple[Site, Site],
) -> None:
    first, _ = sites
    url = first.url("/list", "www.county.example")
    async with Fetcher(FetchSettings(), resolver=Names({"www.county.example": ["127.0.0.1"]})) as fetcher:
        refused = await fetcher.fetch(url)
    assert refused.error is FetchError.BLOCKED_ADDRESS and first.hits == {}
    allowed = FetchSettings(allow_private=("127.0.0.0/8",))  # as fetch.allow_private for a 政务外网 range
    async with Fetcher(allowed, resolver=Names({"www.county.example": ["127.0.0.1"]})) as fetcher:
        read = await fetcher.fetch(url)
    assert read.ok and "防汛" in (read.text or "")


async def test_dns_rebinding_is_caught_at_the_next_lookup(sites: tuple[Site, Site]) -> None:
    first, second = sites
    # 127.0.0.1 plays an allowed address; the same name then answers with one outside the reach.
    names = Names({"www.county.example": ["127.0.0.1", "127.0.0.2"]})
    settings = FetchSettings(allow_private=("127.0.0.1/32",), dns_ttl_s=0)
    async with Fetcher(settings, resolver=names) as fetcher:
        before = await fetcher.fetch(first.url("/list", "www.county.example"))
        assert before.ok
        after = await fetcher.fetch(first.url("/list", "www.county.example"))
    assert names.lookups == ["www.county.example"] * 2
    assert after.error is FetchError.BLOCKED_ADDRESS and "127.0.0.2" in (after.detail or "")
    assert second.hits == {}


def _inventory(path: Path, columns: list[dict]) -> config.Inventory:
    YAML().dump({
        "settings": {"store": str(path.parent / "govwatch.sqlite3"), "checks": [],
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"}},
        "units": [{"id": "u1", "name": "测试县人民政府办公室"}],
        "sites": [{"id": "s1", "name": "测试县人民政府网站", "unit": "u1", "homepage": columns[0]["url"],
                   "check_homepage": False, "columns": columns}],
    }, path)
    return config.load(path)


async def test_the_daemon_never_reads_a_column_redirected_into_loopback_and_shows_where_it_went(
    tmp_path: Path, sites: tuple[Site, Site],
) -> None:
    first, _ = sites
    hijacked = first.url("/list", "localhost")  # a name: the system's resolver answers 127.0.0.1
    moved = first.url("/moved-list")
    inv = _inventory(tmp_path / "inv.yaml", [
        {"id": "hijacked", "name": "工作动态", "url": first.url("/to?url=" + hijacked), "category": "动态要闻"},
        {"id": "moved", "name": "通知公告", "url": first.url("/to?url=" + moved), "category": "通知公告"},
    ])
    assert inv.named_addresses == {"127.0.0.1"}
    async with monitoring(inv) as monitor:
        await monitor.sweep_once()
        verdict = monitor.tracked["hijacked"].verdict
        assert verdict.state is State.UNKNOWN and verdict.reasons == (Reason.FETCH_FAILED,)
        assert verdict.newest_date is None  # nothing of the page judged
        assert monitor.tracked["moved"].verdict.newest_date is not None  # read where it moved, on the same address
        observations = await monitor.store.observations("hijacked", limit=5)
        assert observations[0]["error"] == "blocked_address" and observations[0]["final_url"] == hijacked
        assert observations[0]["item_count"] == 0
        assert (await monitor.store.observations("moved", limit=5))[0]["final_url"] == moved
        runner = await serve(monitor, "127.0.0.1", 0)
        try:
            async with ClientSession() as http:
                base = f"http://127.0.0.1:{runner.addresses[0][1]}"
                hijacked_page = await (await http.get(f"{base}/target/hijacked")).text()
                moved_page = await (await http.get(f"{base}/target/moved")).text()
        finally:
            await runner.cleanup()
    assert first.hits.get("/list", 0) == 0  # the page behind the redirect was never requested
    assert "实际读取地址" in hijacked_page and hijacked in hijacked_page and "跳转至内网地址" in hijacked_page
    assert "实际读取地址" in moved_page and moved in moved_page
