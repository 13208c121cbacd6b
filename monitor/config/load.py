"""Loading an inventory from .yaml/.yml, .json or an Excel sheet (.xlsx, .xls, .ods), with the lines of its fields.

Loading never stops at the first problem: every error is collected with its file, line (or Excel row),
field, what is wrong and how to fix it, so ``govwatch check-config`` can list them all and the daemon can
refuse to start on them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from monitor.config.build import build
from monitor.config.errors import ConfigError, ConfigProblem
from monitor.config.inventory import Inventory


def load(path: str | Path) -> Inventory:
    """Load and validate an inventory from .yaml/.yml, .json or .xlsx/.xls/.ods; raise ConfigError."""
    path = Path(path)
    try:
        return _load(path)
    except RecursionError:  # the parsers and the validation recurse per level of nesting
        raise ConfigError([ConfigProblem(str(path), None, "", "nested too deeply; an inventory needs a few levels "
                                         "(sites: → columns: → fields)")]) from None


def _load(path: Path) -> Inventory:
    if not path.exists():
        raise ConfigError([ConfigProblem(str(path), None, "", "file not found")])
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xls", ".ods"}:
        from monitor.config.excel import load_sheet  # lazy: the Excel reader is only needed here

        return load_sheet(path)[1]
    text = _read_text(path)
    if suffix == ".json":
        # JSON is YAML 1.2; the C json parser reads 30,000 columns in well under a second, where
        # the pure-Python YAML parser needs ~15 s and ~300 MB. Lines are looked up only on errors.
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError([ConfigProblem(str(path), exc.lineno, "", f"JSON syntax: {exc.msg}")]) from None
        try:
            return build(data, str(path), lambda loc: None)
        except ConfigError:
            pass  # validate again with line numbers
    data, locate = _read_yaml(path, text)
    return build(data, str(path), locate)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [ConfigProblem(str(path), None, "", f"not UTF-8 text ({exc}); save the file as UTF-8")]
        ) from None


# Values a YAML inventory may hold once its aliases (*name) are expanded: a province's 30,000 columns are under
# 300,000; an alias bomb (each list nine aliases of the one before) reaches billions from a few hundred bytes.
MAX_VALUES = 2_000_000


def _read_yaml(path: Path, text: str) -> tuple[Any, Any]:
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError([ConfigProblem(str(path), line, "", f"YAML syntax: {exc.problem}")]) from None
    if _expanded_size(data, MAX_VALUES) > MAX_VALUES:
        raise ConfigError([ConfigProblem(str(path), None, "", f"its aliases (&name … *name) expand to more than "
                                          f"{MAX_VALUES:,} values, refused (an alias bomb?); write the entries out "
                                          "or use fewer aliases")])
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(str(path), 1, "", "the file must be a mapping with units: and sites:")])
    return data, lambda loc: _yaml_line(data, loc)


def _yaml_line(root: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest node of ``loc`` that exists in the YAML tree."""
    node, line = root, None
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line = node.lc.key(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            line = node.lc.item(key)[0] + 1
            node = node[key]
        else:
            break
    return line


def _expanded_size(root: Any, limit: int) -> int:
    """How many values ``root`` holds with every alias expanded, counted without expanding (each shared mapping or
    list once, by identity), stopping above ``limit``; a structure that holds itself counts as above."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, done = stack.pop()
        children = list(node.values()) if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None or id(node) in sizes:
            continue
        if done:
            open_.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in children)
            if sizes[id(node)] > limit:
                return sizes[id(node)]
            continue
        if id(node) in open_:
            return limit + 1
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, dict | list) and id(c) not in sizes)
    return sizes.get(id(root), 1)
