"""The Prometheus side: rules checked and unit-tested by promtool, a real Prometheus scraping the board,
and the Grafana dashboards' queries checked against what the daemon really exports."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientError, ClientSession
from ruamel.yaml import YAML

from monitor.metrics import Metrics
from tests.test_metrics import board  # noqa: F401  (fixture)

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


@needs_prometheus
async def test_real_prometheus_scrapes_the_board(tmp_path: Path, board: tuple[str, Metrics]) -> None:  # noqa: F811
    base, _ = board
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
            while loop.time() < deadline and not (state and unit_red):
                assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()
                state = await query(http, api, 'govwatch_target_state{target="stale"}')
                unit_red = await query(http, api, 'unit:govwatch_targets:count{unit="u1",state="red"}')
                await asyncio.sleep(0.5)
            up = await query(http, api, 'up{job="govwatch"}')
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
    assert unit_red and unit_red[0]["value"][1] == "1", "recording rule unit:govwatch_targets:count not evaluated"
    assert up and up[0]["value"][1] == "1"
    assert not invalid, invalid  # every dashboard query parses and evaluates in a real Prometheus


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
