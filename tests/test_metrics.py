"""/metrics on the board: a real monitor swept against a loopback server, scraped over HTTP and parsed."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from monitor import __version__, config
from monitor.evaluate import TZ
from monitor.metrics import Metrics
from monitor.service import monitoring
from monitor.web.app import serve
from tests.conftest import PageServer, list_page

TODAY = datetime.now(TZ).date()


def dated(days_ago: int, count: int = 12) -> list[tuple[str, str]]:
    newest = TODAY - timedelta(days=days_ago)
    return [(f"关于做好第{i}项重点工作的通知", (newest - timedelta(days=2 * i)).isoformat()) for i in range(count)]


def write_inventory(path: Path, server: PageServer, extra: tuple[dict, ...] = ()) -> config.Inventory:
    """Two sites of unit u1: s1 (homepage up; fresh, stale and failing columns, and ``extra``), s2 (homepage
    down)."""
    server.set("/", list_page(dated(0), "首页"))
    server.set("/fresh/", list_page(dated(1)))
    server.set("/stale/", list_page(dated(40)))
    server.set("/gone/", "oops", status=503)
    data = {
        "settings": {"store": str(path.parent / "govwatch.sqlite3"),
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"}},
        "units": [{"id": "u1", "name": "测试县人民政府办公室"}],
        "sites": [
            {"id": "s1", "name": "测试县人民政府网站", "unit": "u1", "homepage": server.url("/"), "columns": [
                {"id": "fresh", "name": "工作动态", "url": server.url("/fresh/"), "category": "动态要闻"},
                {"id": "stale", "name": '乡镇"动态"\\', "url": server.url("/stale/"), "category": "动态要闻"},
                {"id": "gone", "name": "通知公告", "url": server.url("/gone/"), "category": "通知公告"},
                *extra,
            ]},
            {"id": "s2", "name": "测试县教育局网站", "unit": "u1", "homepage": server.url("/down/"), "columns": []},
        ],
    }
    YAML().dump(data, path)
    return config.load(path)


@pytest.fixture
async def board(tmp_path: Path, page_server: PageServer) -> AsyncIterator[tuple[str, Metrics]]:
    """A swept monitor with metrics attached, its board on 127.0.0.1; yields (base URL, metrics)."""
    inv = write_inventory(tmp_path / "inv.yaml", page_server)
    metrics = Metrics()
    async with monitoring(inv, metrics=metrics) as monitor:
        await monitor.sweep_once()
        runner = await serve(monitor, "127.0.0.1", 0, metrics)
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}", metrics
        finally:
            await runner.cleanup()


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def value(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    matches = [v for ls, v in found.get(name, []) if all(ls.get(k) == x for k, x in labels.items())]
    assert len(matches) == 1, (name, labels, found.get(name))
    return matches[0]


async def test_metrics_scrape_reflects_the_monitor(board: tuple[str, Metrics]) -> None:
    base, metrics = board
    metrics.notified("wecom", True)
    metrics.notified("wecom", False)
    metrics.outbox_pending.set_function(lambda: 3)
    async with ClientSession(auto_decompress=False) as http:
        resp = await http.get(f"{base}/metrics", headers={"Accept-Encoding": "gzip"})
        assert resp.status == 200 and resp.headers["Content-Encoding"] == "gzip"
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = gzip.decompress(await resp.read()).decode()
    found = samples(text)

    state = {ls["target"]: ls for ls, _ in found["govwatch_target_state"]}
    assert set(state) == {"fresh", "stale", "gone", "s1-home", "s2-home"}  # one series per target
    assert state["stale"] == {"target": "stale", "column": '乡镇"动态"\\', "site": "s1", "unit": "u1",
                              "category": "动态要闻", "kind": "column", "state": "red"}
    assert state["fresh"]["state"] == "green" and state["gone"]["state"] == "unknown"
    assert state["s1-home"]["kind"] == "homepage"
    assert all(v == 1 for _, v in found["govwatch_target_state"])
    assert value(found, "govwatch_target_newest_item_age_seconds", target="fresh") >= 86400
    assert value(found, "govwatch_target_newest_item_age_seconds", target="stale") >= 40 * 86400
    assert value(found, "govwatch_target_deadline_seconds", target="stale") < -20 * 86400
    assert 0 < value(found, "govwatch_target_deadline_seconds", target="fresh") <= 14 * 86400
    assert "gone" not in {ls["target"] for ls, _ in found["govwatch_target_deadline_seconds"]}
    assert {ls["state"]: v for ls, v in found["govwatch_targets"]} == {"green": 2, "yellow": 0, "red": 1,
                                                                       "unknown": 2}
    assert value(found, "govwatch_site_up", site="s1", unit="u1") == 1
    assert value(found, "govwatch_site_up", site="s2", unit="u1") == 0
    assert value(found, "govwatch_site_info", site="s2") == 1
    assert value(found, "govwatch_unit_info", unit="u1", unit_name="测试县人民政府办公室") == 1

    assert value(found, "govwatch_probe_duration_seconds_count", result="ok") == 3
    assert value(found, "govwatch_probe_duration_seconds_count", result="error") == 2
    assert value(found, "govwatch_probe_duration_seconds_count", result="not_modified") == 0
    assert value(found, "govwatch_fetch_failures_total", error="http_status") == 2
    assert value(found, "govwatch_fetch_failures_total", error="timeout") == 0
    assert sum(v for _, v in found["govwatch_verdict_changes_total"]) >= 5
    assert value(found, "govwatch_build_info", version=__version__) == 1
    assert value(found, "govwatch_notifications_total", receiver="wecom", result="sent") == 1
    assert value(found, "govwatch_notifications_total", receiver="wecom", result="failed") == 1
    assert value(found, "govwatch_outbox_pending") == 3
    assert "govwatch_mqtt_connected" not in found  # not exported until MQTT reports
    metrics.set_mqtt_connected(True)
    assert value(samples(metrics.scrape().decode()), "govwatch_mqtt_connected") == 1
    for labels, _ in found["govwatch_target_state"]:
        assert not any("://" in v for v in labels.values())  # never URLs in labels


def test_metrics_without_a_monitor_has_only_instrumentation() -> None:
    found = samples(Metrics().scrape().decode())
    assert "govwatch_target_state" not in found
    assert value(found, "govwatch_probe_duration_seconds_count", result="ok") == 0


async def test_every_receiver_counts_from_zero_before_anything_is_sent(tmp_path: Path, page_server: PageServer) -> None:
    """Panels and rate() read govwatch_notifications_total from the start, not only once something was sent."""
    path = tmp_path / "inv.yaml"
    write_inventory(path, page_server)
    data = YAML().load(path)
    data["units"][0]["receivers"] = [{"id": "group", "url": "json://127.0.0.1:9/hook"}]
    YAML().dump(data, path)
    metrics = Metrics()
    async with monitoring(config.load(path), metrics=metrics) as monitor:
        found = samples(metrics.scrape().decode())
        assert {(ls["receiver"], ls["result"]): v for ls, v in found["govwatch_notifications_total"]} == {
            ("u1/group", "sent"): 0, ("u1/group", "failed"): 0}
        data["units"][0]["receivers"].append({"id": "sms", "url": "json://127.0.0.1:9/sms", "kind": "sms"})
        YAML().dump(data, path)
        await monitor.reload(config.load(path))  # a receiver added later counts from zero too
        found = samples(metrics.scrape().decode())
    assert value(found, "govwatch_notifications_total", receiver="u1/sms", result="failed") == 0
    assert value(found, "govwatch_notifications_total", receiver="u1/group", result="sent") == 0
