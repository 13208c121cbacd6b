"""The Prometheus side: rules checked and unit-tested by promtool, a real Prometheus scraping the board,
and the Grafana dashboards' queries checked against what the daemon really exports."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientError, ClientSession
from ruamel.yaml import YAML

from monitor.metrics import Metrics
from monitor.service import monitoring
from monitor.web.app import serve
from tests.conftest import PageServer, list_page
from tests.test_metrics import board, dated, write_inventory  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "dashboards" / "prometheus" / "rules.yml"
GRAFANA = ROOT / "dashboards" / "grafana"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
needs_prometheus = pytest.mark.skipif(
    not Path(PROMETHEUS).exists() or not Path(PROMTOOL).exists(),
    reason="prometheus/promtool not installed (apt-get install prometheus; .ci/run does it)",
)


@needs_prometheus
def test_rules_pass_promtool_check_and_unit_tests() -> None:
    check = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run([PROMTOOL, "test", "rules", "rules_test.yml"], cwd=RULES.parent, capture_output=True,
                          text=True, timeout=60)
    assert test.returncode == 0, test.stdout + test.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def query(http: ClientSession, base: str, promql: str) -> list[dict[str, Any]]:
    try:
        async with http.get(f"{base}/api/v1/query", params={"query": promql}) as resp:
            if resp.status != 200:
                return []
            return (await resp.json())["data"]["result"]
    except ClientError:
        return []


@pytest.fixture
async def wall_board(tmp_path: Path, page_server: PageServer) -> AsyncIterator[str]:
    """The metrics board plus a blank column (red without a deadline) and one close to its deadline (yellow)."""
    page_server.set("/blank/", list_page([]).replace('<ul class="list"></ul>', '<ul class="list">暂无信息</ul>'))
    page_server.set("/near/", list_page(dated(12)))
    inv = write_inventory(tmp_path / "inv.yaml", page_server, (
        {"id": "blank", "name": "招考录用", "url": page_server.url("/blank/"), "category": "人事信息"},
        {"id": "near", "name": "部门动态", "url": page_server.url("/near/"), "category": "动态要闻"}))
    metrics = Metrics()
    async with monitoring(inv, metrics=metrics) as monitor:
        await monitor.sweep_once()
        runner = await serve(monitor, "127.0.0.1", 0, metrics)
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()


def panel_expr(dashboard: str, title: str) -> str:
    panels = json.loads((GRAFANA / dashboard).read_text(encoding="utf-8"))["panels"]
    [expr] = [t["expr"] for p in panels if p["title"] == title for t in p["targets"]]
    return expr


@needs_prometheus
async def test_real_prometheus_scrapes_the_board(tmp_path: Path, wall_board: str) -> None:
    base = wall_board
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "govwatch", "static_configs": [{"targets": [base.removeprefix("http://")]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))
    port = free_port()
    prom = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("w"),
    )
    api = f"http://127.0.0.1:{port}"
    try:
        async with ClientSession() as http:
            state: list[dict[str, Any]] = []
            unit_red: list[dict[str, Any]] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            days: list[dict[str, Any]] = []
            while loop.time() < deadline and not (state and unit_red and days):
                assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()
                state = await query(http, api, 'govwatch_target_state{target="stale"}')
                unit_red = await query(http, api, 'unit:govwatch_targets:count{unit="u1",state="red"}')
                days = await query(http, api, "govwatch:target_days_overdue or govwatch:target_days_left")
                await asyncio.sleep(0.5)
            up = await query(http, api, 'up{job="govwatch"}')
            columns = await (await http.get(base + "/api/columns")).json()
            red_list = await query(http, api, panel_expr("wall.json", "超期栏目（按超期天数，含空白栏目）"))
            unit_expr = panel_expr("unit.json", "本单位栏目（红、黄、灰）").replace("$unit", "u1")
            unit_list = await query(http, api, unit_expr)
            invalid = [(path.name, expr, answer) for path, expr in all_dashboard_exprs()
                       if (answer := await promql_error(http, api, expr.replace("$unit", "u1")))]
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
    assert state, "Prometheus never returned govwatch_target_state for the stale column"
    assert [(r["metric"]["state"], r["value"][1]) for r in state] == [("red", "1")]
    assert state[0]["metric"]["column"] == '乡镇"动态"\\' and state[0]["metric"]["site"] == "s1"
    assert unit_red and unit_red[0]["value"][1] == "2", "recording rule unit:govwatch_targets:count not evaluated"
    assert up and up[0]["value"][1] == "1"
    assert not invalid, invalid  # every dashboard query parses and evaluates in a real Prometheus

    # Grafana counts days as the board does; the wall's red list has the blank column; the unit's table has
    # its red, yellow and unknown columns, each with its state.
    on_board = {c["id"]: c for c in columns}
    assert {r["metric"]["target"]: int(r["value"][1]) for r in days} == {
        c["id"]: c["days_overdue"] or c["days_left"] for c in columns if c["deadline"]}
    assert on_board["stale"]["days_overdue"] == 26 and on_board["near"]["days_left"] == 3
    assert {r["metric"]["target"]: r["value"][1] for r in red_list} == {"stale": "26", "blank": "NaN"}
    assert red_list[0]["metric"]["site_name"] == "测试县人民政府网站" and red_list[0]["metric"]["unit_name"]
    labels = {"red": "超期", "yellow": "预警", "unknown": "未知"}
    assert {r["metric"]["target"]: r["metric"]["state_label"] for r in unit_list} == {
        c["id"]: "空白栏目" if c["id"] == "blank" else labels[c["state"]] for c in columns if c["state"] != "green"}


async def promql_error(http: ClientSession, base: str, promql: str) -> str | None:
    async with http.get(f"{base}/api/v1/query", params={"query": promql}) as resp:
        answer = await resp.json()
    return None if answer.get("status") == "success" else answer.get("error", "?")


def all_dashboard_exprs() -> list[tuple[Path, str]]:
    return [(path, expr) for path in sorted(GRAFANA.glob("*.json"))
            for expr in dashboard_exprs(json.loads(path.read_text(encoding="utf-8")))
            if not expr.startswith("label_values(")]


# ------------------------------------------------------------------ dashboards

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def exported_names(text: str) -> set[str]:
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names.update(f"{name}_{s}" for s in ("bucket", "sum", "count"))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def expr_metric_names(expr: str) -> set[str]:
    """The metric and recording-rule names a PromQL expression reads (every govwatch identifier)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values, e.g. job="govwatch"
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables
    return {tok for tok in NAME.findall(expr) if "govwatch" in tok}


def dashboard_exprs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        if isinstance(node.get("query"), str) and "govwatch" in node["query"]:
            found.append(node["query"])
        if isinstance(node.get("query"), dict) and isinstance(node["query"].get("query"), str):
            found.append(node["query"]["query"])
        return found + [e for k, v in node.items() if k not in ("expr",) for e in dashboard_exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in dashboard_exprs(v)]
    return []


async def test_dashboards_query_only_exported_metrics(board: tuple[str, Metrics]) -> None:  # noqa: F811
    base, metrics = board
    metrics.set_mqtt_connected(True)  # as the MQTT client does once configured
    async with ClientSession() as http:
        text = await (await http.get(f"{base}/metrics")).text()
    known = exported_names(text)
    rules = YAML(typ="safe").load(RULES.read_text(encoding="utf-8"))
    known |= {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    files = sorted(GRAFANA.glob("*.json"))
    assert {f.name for f in files} >= {"wall.json", "unit.json", "operations.json"}
    for path in files:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        assert dashboard["title"] and not dashboard["title"].isascii(), f"{path.name}: Chinese title expected"
        exprs = dashboard_exprs(dashboard)
        assert exprs, path.name
        for expr in exprs:
            names = expr_metric_names(expr)
            assert names, f"{path.name}: no govwatch metric in {expr!r}"
            assert names <= known, f"{path.name}: {sorted(names - known)} not exported (in {expr!r})"
    for name in ("datasources.yml", "dashboards.yml"):
        assert YAML(typ="safe").load((GRAFANA / "provisioning" / name).read_text(encoding="utf-8"))
