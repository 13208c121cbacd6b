"""The README's account and bridge examples run as written: its YAML blocks, taken from README.md, against
loopback servers that answer as RSSHub, wewe-rss and we-mp-rss do (tests/bridges.py) — only the bridges'
addresses are replaced by the loopback servers' ports."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from monitor import config
from monitor.evaluate import TZ
from monitor.model import State
from monitor.service import monitoring
from tests.bridges import (
    MpFeed,
    Post,
    Route,
    RssHub,
    WeMpRss,
    WeweRss,
    bilibili_forward,
    running,
    wechat_page,
    weibo_repost,
    weibo_text,
)
from tests.conftest import Endpoint

README = Path(__file__).resolve().parent.parent / "README.md"
NOW = datetime.now(TZ).replace(microsecond=0)
TODAY = NOW.date()
TOKEN = "readme-example-token"


def readme_block(marker: str) -> dict[str, Any]:
    """The README's YAML block holding ``marker``, as the inventory reads it."""
    blocks = re.findall(r"^( *)```yaml\n(.*?)^\1```", README.read_text(encoding="utf-8"), re.S | re.M)
    [(indent, text)] = [(i, b) for i, b in blocks if marker in b]
    return YAML(typ="safe").load(StringIO("\n".join(line[len(indent):] for line in text.splitlines())))


def at(days: int, hour: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days), datetime.min.time(), TZ).replace(hour=hour)


def mp_posts(name: str) -> list[Post]:
    return [Post(f"{name}-1", f"{name}开展冬季安全生产检查", wechat_page("检查", "<p>……</p>", original=True), at(0, 1),
                 "冬季安全生产"),
            Post(f"{name}-2", "全国冬季安全生产电视电话会议召开",
                 wechat_page("会议", "<p>来源：新华社</p>", source="新华社"), at(2, 20))]


async def test_the_readme_account_and_bridge_examples_run_as_written(
        tmp_path: Path, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = readme_block("/bilibili/user/dynamic/")["accounts"]
    declared = readme_block("bridges:")
    hub = RssHub(now=lambda: datetime.now(TZ))
    title, desc = weibo_repost("转发微博", "青溪气象", "1234", "今日天气预报：晴")
    hub.routes["/weibo/user/5678901234"] = Route("青溪发布的微博", "https://weibo.com/5678901234", "青溪发布的微博", [
        Post("https://weibo.com/5678901234/A", "青溪县召开冬季森林防火工作会议",
             weibo_text("青溪县召开冬季森林防火工作会议"), at(1, 7)),
        Post("https://weibo.com/5678901234/B", title, desc, at(2, 9))])
    hub.routes["/bilibili/user/dynamic/3461577"] = Route("青溪发布 的 bilibili 动态", "https://space.bilibili.com/3461577",
                                                         "青溪发布 的 bilibili 动态", [
        Post("https://t.bilibili.com/1", "", bilibili_forward("转发", "应急管理部", "防汛小常识", "记牢", "BV1xx"),
             at(0, 1))])
    wewe = WeweRss(now=lambda: datetime.now(TZ))
    wewe.feeds["MP_WXS_3941633310"] = MpFeed("青溪县人民政府", mp_posts("青溪县"), sync_time=NOW - timedelta(hours=2))
    wemp = WeMpRss(now=lambda: datetime.now(TZ), token=TOKEN)
    wemp.feeds["MP_WXS_3092970861"] = MpFeed("青溪教育", mp_posts("县教育局"), sync_time=NOW - timedelta(hours=1))
    wemp.feeds["MP_WXS_3556447811"] = MpFeed("青溪卫健", mp_posts("县卫健局"), sync_time=NOW - timedelta(hours=1))
    monkeypatch.setenv("WEMPRSS_TOKEN", TOKEN)
    async for h in running(hub):
        async for w in running(wewe):
            async for m in running(wemp):
                ports = {"127.0.0.1:1200": h.base, "127.0.0.1:4000": w.base, "127.0.0.1:8001": m.base}
                data = {"settings": {"store": str(tmp_path / "s.sqlite3"), "extract_workers": 1,
                                     "fetch": {"timeout": "5s", "per_host_interval": "0s"},
                                     "bridges": declared["settings"]["bridges"]},
                        "units": [{"id": "fgj", "name": "青溪县发展和改革局"},
                                  {"id": "xxzx", "name": "县政务服务和大数据中心",
                                   "receivers": [{"id": "ops", "url": endpoint.url("json", "ops")}]}],
                        "accounts": accounts, "bridges": declared["bridges"]}
                raw = _dump(data)
                for old, new in ports.items():
                    raw = raw.replace("http://" + old, new)
                path = tmp_path / "inv.yaml"
                path.write_text(raw, encoding="utf-8")
                inv = config.load(path)
                async with monitoring(inv) as monitor:
                    await monitor.sweep_once()
                    await monitor.check_once()
                    verdicts = {aid: t.verdict for aid, t in monitor.tracked.items()}
                    shares = {c.name: c for c in monitor.observation_checks}["repost_share"].latest
                    bridges = [k for (check, _), by in monitor.findings.items() if check == "bridge"
                               for k in by.values()]
    assert {a["id"] for a in accounts} == set(verdicts) == {"qx-weibo", "qx-bili", "qx-mp", "qx-jy", "qx-wj"}
    assert {aid: (v.state, v.newest_date) for aid, v in verdicts.items()} == {
        "qx-weibo": (State.GREEN, TODAY - timedelta(days=1)), "qx-bili": (State.GREEN, TODAY),
        "qx-mp": (State.GREEN, TODAY), "qx-jy": (State.GREEN, TODAY), "qx-wj": (State.GREEN, TODAY)}
    assert (shares["qx-weibo"].reposts, shares["qx-weibo"].flagged) == (1, 2)
    assert (shares["qx-bili"].reposts, shares["qx-bili"].flagged) == (1, 1)  # the forward counts
    assert (shares["qx-mp"].reposts, shares["qx-mp"].flagged) == (1, 2)  # full text: 原创 and 以下文章来源于
    assert shares["qx-jy"].flagged == 0 and shares["qx-wj"].flagged == 2  # RSS digests only; the API's content
    assert wemp.auth_seen and set(wemp.auth_seen) == {f"Bearer {TOKEN}"}
    assert "/api/v1/wx/mps/MP_WXS_3092970861" in wemp.hits and "/feeds/" in wewe.hits  # both bridges' sync times
    assert bridges == []  # every bridge synced lately and its accounts read well


def _dump(data: dict[str, Any]) -> str:
    out = StringIO()
    YAML().dump(data, out)
    return out.getvalue()
