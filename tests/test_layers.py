"""The layers of govwatch hold (issue 14): import-linter keeps every contract of pyproject.toml, counting imports
inside functions and under TYPE_CHECKING, so no module imports a layer above its own and no import cycle exists."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout, result.stdout


def test_every_module_of_monitor_has_a_layer() -> None:
    """A new module or package under monitor/ must be placed in a layer, or the contract would not see it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    named = {name for layer in layers for name in re.split(r"\s*[|:]\s*", layer.strip())}
    modules = {f"monitor.{p.stem}" for p in (ROOT / "monitor").glob("*.py") if p.stem != "__init__"}
    modules |= {f"monitor.{p.parent.name}" for p in (ROOT / "monitor").glob("*/__init__.py")}
    assert modules - named == set(), "place these in a layer of [tool.importlinter] in pyproject.toml"

