"""The Grafana dashboards against Grafana's published schema (@grafana/schema, through dashboards/schema/validate.mjs).
The Prometheus side of the same dashboards is in test_prometheus.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "dashboards" / "schema"
DASHBOARDS = sorted((ROOT / "dashboards" / "grafana").glob("*.json"))
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(
    NODE is None or not (SCHEMA / "node_modules" / "@grafana" / "schema").is_dir(),
    reason="needs node and `npm ci --prefix dashboards/schema` (.ci/run does both)",
)


def validate(*files: Path) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run([NODE, str(SCHEMA / "validate.mjs"), *map(str, files)], capture_output=True, text=True,
                          timeout=300)


def test_dashboards_follow_grafanas_published_schema() -> None:
    result = validate(*DASHBOARDS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(DASHBOARDS)} dashboard(s) valid" in result.stdout


def test_the_schema_check_finds_what_grafana_would_not_read(tmp_path: Path) -> None:
    wall = json.loads((ROOT / "dashboards" / "grafana" / "wall.json").read_text(encoding="utf-8"))
    wall["refresh"] = 30  # a string such as "30s"
    stat = next(p for p in wall["panels"] if p["type"] == "stat")
    stat["options"]["colorMode"] = "rainbow"  # not one of the stat panel's colour modes
    table = next(p for p in wall["panels"] if p["type"] == "table")
    table["options"]["footer"] = {"show": False}  # the table panel has no footer option any more
    broken = tmp_path / "wall.json"
    broken.write_text(json.dumps(wall, ensure_ascii=False), encoding="utf-8")
    result = validate(broken)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any("dashboard/refresh: must be string" in line for line in lines), lines
    assert any(f"«{stat['title']}» Options/colorMode: must be equal to one of the allowed values" in line
               for line in lines), lines
    assert any(f"«{table['title']}» Options/" in line and '"additionalProperty":"footer"' in line
               for line in lines), lines
