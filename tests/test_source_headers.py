"""Sources that need credentials: a bearer token from an environment variable or a credentials file
(systemd's LoadCredential=), sent by the fetcher to a loopback we-mp-rss, validated with file:line errors, and
never shown — not in logs, pages, the API, metrics, the store (what MQTT publishes) or errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from ruamel.yaml import YAML

from monitor import config
from monitor.config.credentials import header_value
from monitor.config.schema import HeaderValue
from monitor.evaluate import TZ
from monitor.metrics import Metrics
from monitor.model import Secret, State
from monitor.service import monitoring
from monitor.web.app import serve
from tests.bridges import MpFeed, Post, WeMpRss, running, wechat_page

TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2VuLTdmM2E.Zm9vYmFy"
NOW = datetime.now(TZ).replace(microsecond=0)
MP = "MP_WXS_3941633310"
MAPPING = {"items": "data.list", "title": "title", "url": "url", "date": "publish_time", "text": "content"}


@pytest.fixture
async def wemp() -> AsyncIterator[WeMpRss]:
    bridge = WeMpRss(now=lambda: datetime.now(TZ), token=TOKEN)
    bridge.feeds[MP] = MpFeed("青溪县人民政府", [
        Post("a1", "青溪县2026年冬季征兵公告", wechat_page("青溪县2026年冬季征兵公告", "<p>报名……</p>", original=True),
             NOW - timedelta(hours=2)),
        Post("a2", "全国冬季安全生产电视电话会议召开", wechat_page("会议召开", "<p>来源：新华社</p>", source="新华社"),
             NOW - timedelta(days=1)),
    ], sync_time=NOW - timedelta(hours=1))
    async for served in running(bridge):
        yield served  # type: ignore[misc]


def write(tmp: Path, headers: Any, extra_accounts: list[dict[str, Any]] | None = None, url: str = "") -> Path:
    path = tmp / "inv.yaml"
    YAML().dump({
        "settings": {"store": str(tmp / "s.sqlite3"), "extract_workers": 0,
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"}},
        "units": [{"id": "u1", "name": "青溪县人民政府办公室"}],
        "accounts": [{"id": "mp", "unit": "u1", "platform": "微信公众号", "name": "青溪县人民政府",
                      "source": {"kind": "json", "url": url or "http://127.0.0.1:9/api/v1/wx/articles",
                                 "mapping": MAPPING, "headers": headers}}, *(extra_accounts or [])],
    }, path)
    return path


def api_url(bridge: WeMpRss) -> str:
    return f"{bridge.base}/api/v1/wx/articles?mp_id={MP}&limit=10"


async def seen_everywhere(monitor: Any, metrics: Metrics) -> str:
    """Every page, API answer and metric the board serves about the account, and the store's bytes."""
    runner = await serve(monitor, "127.0.0.1", 0, metrics)
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    texts = []
    try:
        async with ClientSession() as http:
            for path in ("/", "/accounts", "/target/mp", "/api/columns", "/api/summary", "/metrics", "/unit/u1"):
                texts.append(await (await http.get(base + path)).text())
    finally:
        await runner.cleanup()
    store = Path(monitor.inventory.settings.store)
    blobs = [p.read_bytes().decode("utf-8", "replace") for p in store.parent.glob(store.name + "*")]
    return "\n".join([*texts, *blobs, repr(monitor.inventory.targets), str(monitor.inventory.targets)])


async def test_a_bearer_token_from_the_environment_reads_we_mp_rss_and_is_never_shown(
        tmp_path: Path, wemp: WeMpRss, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WEMPRSS_TOKEN", TOKEN)
    path = write(tmp_path, {"Authorization": {"env": "WEMPRSS_TOKEN", "prefix": "Bearer "}}, url=api_url(wemp))
    metrics = Metrics()
    async with monitoring(config.load(path), metrics=metrics) as monitor:
        await monitor.sweep_once()
        tracked = monitor.tracked["mp"]
        assert (tracked.verdict.state, tracked.verdict.newest_date) == (State.GREEN, NOW.date())
        shown = await seen_everywhere(monitor, metrics)
    assert wemp.auth_seen == [f"Bearer {TOKEN}"]
    assert "Secret('***')" in repr(monitor.inventory.targets)
    logs = capfd.readouterr()
    for text in (shown, logs.out, logs.err):
        assert TOKEN not in text and "c2VjcmV0LXRva2VuLTdmM2E" not in text


async def test_a_token_from_a_systemd_credential_and_a_wrong_one(
        tmp_path: Path, wemp: WeMpRss, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "wemprss-token").write_text(TOKEN + "\n", encoding="utf-8")  # as LoadCredential= copies it
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    path = write(tmp_path, {"Authorization": {"file": "wemprss-token", "prefix": "Bearer "}}, url=api_url(wemp))
    async with monitoring(config.load(path)) as monitor:
        await monitor.sweep_once()
        assert monitor.tracked["mp"].verdict.state is State.GREEN
    (credentials / "wemprss-token").write_text("expired-token", encoding="utf-8")
    async with monitoring(config.load(path)) as monitor:  # read again at each load
        await monitor.sweep_once()
        verdict = monitor.tracked["mp"].verdict
    assert wemp.auth_seen == [f"Bearer {TOKEN}", "Bearer expired-token"]
    assert verdict.state is State.UNKNOWN and "401" in verdict.detail and "expired-token" not in verdict.detail


def test_unreadable_credentials_are_refused_at_load_with_their_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEMPRSS_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("EMPTY_TOKEN", " ")
    other = [{"id": f"mp{n}", "unit": "u1", "platform": "微信公众号", "name": f"号{n}",
              "source": {"kind": "rss", "url": "http://127.0.0.1:9/rss/x", "headers": h}}
             for n, h in enumerate([{"X-Token": {"file": "token"}}, {"X-Token": {"file": str(tmp_path / "none")}},
                                    {"X-Token": {"env": "EMPTY_TOKEN"}}, {"X-Token": TOKEN},
                                    {"If-None-Match": {"value": "x"}}, {"X-Token": {"env": "A", "file": "/x"}}])]
    path = write(tmp_path, {"Authorization": {"env": "WEMPRSS_TOKEN", "prefix": "Bearer "}}, other)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    text = str(err.value)
    problems = {p.field: p for p in err.value.problems}
    missing = problems["accounts[0].source.headers.Authorization"]
    assert missing.line and missing.line > 1 and f"{path}:{missing.line}" in text
    assert "environment variable WEMPRSS_TOKEN is not set" in missing.message
    assert "$CREDENTIALS_DIRECTORY is not set" in problems["accounts[1].source.headers.X-Token"].message
    assert "does not exist" in problems["accounts[2].source.headers.X-Token"].message
    assert "EMPTY_TOKEN is empty" in problems["accounts[3].source.headers.X-Token"].message
    assert "{env: VARIABLE" in problems["accounts[4].source.headers.X-Token"].message
    assert "set by govwatch itself" in problems["accounts[5].source.headers"].message
    assert "one of env: VARIABLE, file: PATH or value: TEXT" in problems["accounts[6].source.headers.X-Token"].message
    assert TOKEN not in text  # a value written where a place belongs is not echoed back


def test_header_values() -> None:
    env = {"T": "abc"}
    assert header_value(HeaderValue(env="T", prefix="Bearer "), env) == "Bearer abc"
    assert header_value(HeaderValue(value="application/json"), env) == "application/json"
    with pytest.raises(ValueError, match="line break"):
        header_value(HeaderValue(value="a\r\nX-Evil: 1"), env)
    assert Secret("abc") == Secret("abc") and "abc" not in f"{Secret('abc')!r} {Secret('abc')}"
