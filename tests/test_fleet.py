"""Tests for monitor.demo.fleet: the loopback fleet of government sites used by the demo and benchmarks."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import aiohttp
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitor.demo.fleet import ColumnSpec, Fleet, SiteSpec, bench_fleet, demo_fleet  # noqa: E402

TODAY = datetime.date(2026, 11, 25)

# the main list of each template, and how its dates are written
MAIN_LIST = {
    "trs": (r'<ul class="list">(.*?)</ul>', r"<span>(\d{4})-(\d{2})-(\d{2})</span>"),
    "hanweb": (r"<recordset>(.*?)</recordset>", r"<span>(\d{4})-(\d{2})-(\d{2})</span>"),
    "table": (r'<table class="list-table"[^>]*>(.*?)</table>', r">(\d{4})年(\d{2})月(\d{2})日</td>"),
    "gbk_asp": (r'<table id="ArticleList"[^>]*>(.*?)</table>', r"\[(\d{4})-(\d{2})-(\d{2})\]"),
    "dl": (r'<div class="news-list">(.*?)</div>', r"发布时间：(\d{4})-(\d{2})-(\d{2})"),
}


def _fmt(template: str, d: datetime.date) -> str:
    return {
        "trs": f"<span>{d.isoformat()}</span>",
        "hanweb": f"<span>{d.isoformat()}</span>",
        "table": f"{d.year}年{d.month:02d}月{d.day:02d}日",
        "gbk_asp": f"[{d.isoformat()}]",
        "dl": f"发布时间：{d.isoformat()}",
        "json": f'"publishTime":"{d.isoformat()} ',
    }[template]


def _main_list_dates(template: str, text: str) -> list[datetime.date]:
    block_re, date_re = MAIN_LIST[template]
    m = re.search(block_re, text, re.S)
    assert m, f"{template}: main list not found"
    return [datetime.date(int(y), int(mo), int(d)) for y, mo, d in re.findall(date_re, m.group(1))]


@pytest.fixture
async def fleet():
    f = Fleet(demo_fleet(TODAY), TODAY)
    await f.start()
    try:
        yield f
    finally:
        await f.stop()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        yield s


def _col(fleet: Fleet, si: int, ci: int) -> str:
    return fleet.inventory()["sites"][si]["columns"][ci]["url"]


def test_demo_fleet_covers_templates_and_modes():
    specs = demo_fleet(TODAY)
    assert {s.template for s in specs} == {"trs", "hanweb", "table", "gbk_asp", "dl", "json"}
    modes = {c.mode for s in specs for c in s.columns}
    assert modes == {"ok", "empty", "js", "error", "day_first"}
    assert sum(s.down for s in specs) == 1
    ages = {(c.category, (TODAY - c.newest).days) for s in specs for c in s.columns if c.newest}
    assert any(cat == "动态要闻" and 11 <= age <= 13 for cat, age in ages)  # yellow lead
    assert any(cat == "动态要闻" and age == 40 for cat, age in ages)  # stale
    assert any(cat == "人事信息" and 420 <= age <= 430 for cat, age in ages)  # 14 months


async def test_each_template_shows_exactly_the_configured_newest(fleet: Fleet, session):
    inv = fleet.inventory()
    checked = set()
    for si, site in enumerate(fleet.sites):
        if site.down:
            continue
        for ci, col in enumerate(site.columns):
            if col.mode != "ok":
                continue
            async with session.get(inv["sites"][si]["columns"][ci]["url"]) as r:
                assert r.status == 200
                body = await r.read()
            text = body.decode("gb18030" if site.template == "gbk_asp" else "utf-8")
            assert _fmt(site.template, col.newest) in text, (site.template, col)
            if site.template == "json":
                assert r.content_type == "application/json"
                items = json.loads(text)["data"]["list"]
                dates = [datetime.date.fromisoformat(x["publishTime"][:10]) for x in items]
            else:
                dates = _main_list_dates(site.template, text)
                # the traps: today's date in the header, fresher dates in the sidebar
                assert f"今天是{TODAY.year}年{TODAY.month}月{TODAY.day}日" in text
                assert "热点信息" in text and "ICP备" in text and "网站标识码" in text
                if col.newest < TODAY - datetime.timedelta(days=1):
                    side = text.split("热点信息", 1)[1].split("专题专栏", 1)[0]
                    # the sidebar is fresher than the main list
                    assert TODAY.isoformat() in side or f"{TODAY:%Y年%m月%d日}" in side
                assert 15_000 <= len(body) <= 45_000
            assert len(dates) >= 15
            assert max(dates) == col.newest, (site.template, col)
            assert dates[0] == col.newest
            checked.add(site.template)
    assert checked == {"trs", "hanweb", "table", "gbk_asp", "dl", "json"}


async def test_gbk_page_is_gbk_bytes(fleet: Fleet, session):
    si = next(i for i, s in enumerate(fleet.sites) if s.template == "gbk_asp")
    async with session.get(_col(fleet, si, 0)) as r:
        assert r.headers["Content-Type"].lower() == "text/html; charset=gb2312"
        body = await r.read()
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("gb18030")
    assert "charset=gb2312" in text and fleet.sites[si].columns[0].name in text


async def test_down_site_refuses_connections(fleet: Fleet, session):
    inv = fleet.inventory()
    si = next(i for i, s in enumerate(fleet.sites) if s.down)
    for url in [inv["sites"][si]["homepage"]] + [c["url"] for c in inv["sites"][si]["columns"]]:
        with pytest.raises(aiohttp.ClientConnectorError):
            async with session.get(url):
                pass


async def test_special_modes(fleet: Fleet, session):
    inv = fleet.inventory()
    seen = set()
    for si, site in enumerate(fleet.sites):
        if site.down:
            continue
        for ci, col in enumerate(site.columns):
            url = inv["sites"][si]["columns"][ci]["url"]
            async with session.get(url) as r:
                body = await r.read()
                status = r.status
            text = body.decode("gb18030" if site.template == "gbk_asp" else "utf-8")
            main = text.split('<div class="location">', 1)[-1].split('class="main-right"', 1)[0]
            if col.mode == "error":
                assert status == 500
            elif col.mode == "empty":
                assert status == 200 and "暂无信息" in text
                assert not re.search(r"\d{4}-\d{2}-\d{2}</span>", main)
            elif col.mode == "js":
                assert status == 200
                assert '<div id="list-container"' in text and "fetch('/api/" in text
                assert not re.search(r"\d{4}[-年]\d{2}[-月]\d{2}", main)  # nothing dated until JS runs
                api = re.search(r"fetch\('([^']+)'\)", text).group(1)
                async with session.get(url.split("/", 3)[0] + "//" + urlsplit(url).netloc + api) as r2:
                    data = await r2.json()
                assert data["data"]["list"][0]["publishTime"].startswith(col.newest.isoformat())
            elif col.mode == "day_first":  # dates day first, none in the article addresses: detection reads none
                assert status == 200 and f"<td class=\"rq\">{col.newest:%d/%m/%Y}</td>" in text
                assert not re.search(r"\d{4}-\d{2}-\d{2}", main) and not re.search(r"href=\"[^\"]*20\d{6}", main)
                assert inv["sites"][si]["columns"][ci]["date_format"] == "%d/%m/%Y"  # its override
            seen.add(col.mode)
    assert seen == {"ok", "empty", "js", "error", "day_first"}


async def test_etag_304(fleet: Fleet, session):
    for si, site in enumerate(fleet.sites):
        for ci, col in enumerate(site.columns):
            if not col.etag or site.down:
                continue
            url = _col(fleet, si, ci)
            async with session.get(url) as r:
                tag = r.headers["ETag"]
                assert r.status == 200
            async with session.get(url, headers={"If-None-Match": tag}) as r:
                assert r.status == 304
                assert await r.read() == b""
            async with session.get(url, headers={"If-None-Match": '"stale"'}) as r:
                assert r.status == 200
            # a new item changes the tag
            fleet.update_column(si, ci, newest=TODAY)
            async with session.get(url, headers={"If-None-Match": tag}) as r:
                assert r.status == 200
                assert r.headers["ETag"] != tag
            return
    pytest.fail("demo fleet has no ETag column")


async def test_homepage_and_requests_counter(fleet: Fleet, session):
    inv = fleet.inventory()
    before = fleet.requests_served
    async with session.get(inv["sites"][0]["homepage"]) as r:
        text = await r.text()
    assert r.status == 200 and fleet.sites[0].name in text and "要闻" in text
    assert fleet.sites[0].homepage_newest.isoformat() in text
    async with session.get(inv["sites"][0]["homepage"] + "zwfw/3/") as r:  # a navigation link: an ordinary page
        assert r.status == 200 and fleet.sites[0].name in await r.text()
    broken = next(i for i, s in enumerate(fleet.sites) if s.broken)  # a site's broken links answer 404
    async with session.get(fleet.url(broken, fleet.sites[broken].broken[0])) as r:
        assert r.status == 404
    assert fleet.requests_served == before + 3


async def test_inventory_loopback_unique_ids(fleet: Fleet, tmp_path):
    inv = fleet.inventory()
    ids, urls = [], []
    unit_ids = {u["id"] for u in inv["units"]}
    for u in inv["units"]:
        ids.append(u["id"])
        assert u["contacts"] and isinstance(u["contacts"][0]["phone"], str)
    for s in inv["sites"]:
        ids.append(s["id"])
        assert s["unit"] in unit_ids
        urls.append(s["homepage"])
        for c in s["columns"]:
            ids.append(c["id"])
            urls.append(c["url"])
            assert c["category"] in {"动态要闻", "通知公告", "政策文件", "人事信息", "规划计划"}
    assert len(ids) == len(set(ids))
    assert len({urlsplit(u).port for u in urls}) == len(fleet.sites)
    for u in urls:
        parts = urlsplit(u)
        assert parts.scheme == "http" and ipaddress.ip_address(parts.hostname).is_loopback and parts.port

    from ruamel.yaml import YAML

    path = tmp_path / "inv.yaml"
    fleet.write_inventory(path, interval_seconds=60)
    text = path.read_text(encoding="utf-8")
    assert "工作动态" in text  # allow_unicode
    doc = YAML(typ="safe").load(text)
    assert doc["settings"] == {"interval_seconds": 60}
    assert doc["units"] == inv["units"] and doc["sites"] == inv["sites"]


def test_bench_fleet_deterministic_and_shaped():
    a = bench_fleet(30, 20, TODAY, seed=7)
    assert a == bench_fleet(30, 20, TODAY, seed=7)
    assert a != bench_fleet(30, 20, TODAY, seed=8)
    assert len(a) == 30 and all(len(s.columns) == 20 for s in a)
    assert len({s.unit for s in a}) == 10
    assert len({s.name for s in a}) == 30
    assert {s.template for s in a} == {"trs", "hanweb", "table", "gbk_asp", "dl", "json"}
    cols = [c for s in a for c in s.columns]
    assert sum(c.mode == "ok" for c in cols) / len(cols) > 0.9
    for s in a:
        assert len({c.name for c in s.columns}) == len(s.columns)


async def test_small_custom_fleet_mixed(session):
    sites = [
        SiteSpec("测试县人民政府网站", "测试县人民政府办公室", t, (ColumnSpec("工作动态", "动态要闻", TODAY),))
        for t in ("trs", "dl")
    ]
    async with Fleet(sites, TODAY) as f:
        for s in f.inventory()["sites"]:
            async with session.get(s["columns"][0]["url"]) as r:
                assert r.status == 200
                assert TODAY.isoformat() in await r.text()


def test_cli_ready_and_sigterm(tmp_path):
    inv = tmp_path / "inv.yaml"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor.demo.fleet",
            "--sites",
            "4",
            "--columns",
            "3",
            "--inventory",
            str(inv),
            "--today",
            TODAY.isoformat(),
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no READY line within 30 s"
        line = proc.stdout.readline().strip()
        assert line == "READY 4 12"
        from ruamel.yaml import YAML

        doc = YAML(typ="safe").load(inv.read_text(encoding="utf-8"))
        assert len(doc["sites"]) == 4 and sum(len(s["columns"]) for s in doc["sites"]) == 12
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - t0 < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_big_inventory_fast_yaml_roundtrips(tmp_path):
    today = TODAY
    specs = bench_fleet(60, 100, today, seed=2)  # 6000 columns: the direct-emission path
    async with Fleet(specs, today) as f:
        from ruamel.yaml import YAML

        path = tmp_path / "big.yaml"
        f.write_inventory(path, concurrency=32)
        doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        inv = f.inventory()
        assert doc == {"settings": {"concurrency": 32}, **inv}
        assert sum(len(s["columns"]) for s in doc["sites"]) == 6000
