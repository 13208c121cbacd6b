"""From plain inventory data to an ``Inventory``: each unit, site, column and account validated on its own, so
that one run reports every problem with its line."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from monitor.account_source import DEFAULT_OFF_DUTY, source_parser
from monitor.config.advice import pydantic_advice
from monitor.config.bridges import bridge_of, make_bridges
from monitor.config.credentials import resolve_headers
from monitor.config.errors import ConfigError, ConfigProblem, quote
from monitor.config.inventory import Inventory, account_site
from monitor.config.schema import (
    AccountModel,
    AccountSettings,
    BridgeModel,
    ColumnModel,
    HeaderValue,
    InventoryModel,
    MessageBoxModel,
    Overrides,
    SiteModel,
    UnitModel,
)
from monitor.list_override import problems as override_problems
from monitor.model import Headers, Target, TargetKind
from monitor.rules import DEFAULT_RULES, HOMEPAGE, NEW_MEDIA, Rule, canonical_category


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _field_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pydantic_message(err: dict[str, Any]) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown field; check its spelling (see deploy/inventory.example.yaml for the fields)"
    if kind == "missing":
        return "required field is missing; add it"
    if kind == "string_pattern_mismatch" and err["loc"][-1] == "id":
        return "ids are 1-64 ASCII letters, digits, '_', '.', '-'; rename it"
    if msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    if kind in ("dict_type", "model_type") and "headers" in err["loc"][-2:]:
        return "write the value's place: {env: VARIABLE, prefix: \"Bearer \"}, {file: PATH} or {value: TEXT}"
    # never echo a header's value; the schema's own kinds (url, duration) quote the value themselves
    shown = "input" in err and kind not in ("value_error", "url", "duration", "duration_range") \
        and "headers" not in err["loc"]
    return f"{msg} (got {quote(err.get('input'))})" if shown else msg


def build(data: Any, source: str, locate: Any, environ: Mapping[str, str] | None = None) -> Inventory:
    """Validate plain inventory data; ``locate(loc)`` maps a field path to its line or row. Header values are
    read from ``environ`` (default: the process's environment) and credentials files.

    Each unit, site and column is validated on its own so that one run reports every problem.
    """
    return _Builder(source, locate, os.environ if environ is None else environ).build(_plain(data))


class _Builder:
    def __init__(self, source: str, locate: Any, environ: Mapping[str, str]) -> None:
        self.source = source
        self.locate = locate
        self.environ = environ
        self.problems: list[ConfigProblem] = []
        self.box_ids: set[str] = set()

    def problem(self, loc: tuple[Any, ...], message: str, zh: str = "") -> None:
        self.problems.append(ConfigProblem(self.source, self.locate(loc), _field_name(loc), message, zh))

    def problems_outside(self, section: str) -> bool:
        inside = (f"{section}.", f"{section}[")
        return any(not (p.field == section or p.field.startswith(inside)) for p in self.problems)

    def check(self, model: type[BaseModel], value: Any, loc: tuple[Any, ...]) -> Any:
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            for e in exc.errors():
                self.problem((*loc, *e["loc"]), _pydantic_message(e), pydantic_advice(e))
            return None

    def entries(self, data: dict[str, Any], key: str) -> list[tuple[int, Any]]:
        items = data.get(key) or []
        if not isinstance(items, list):
            self.problem((key,), "must be a list of entries (- id: …)")
            return []
        return list(enumerate(items))

    def build(self, data: dict[str, Any]) -> Inventory:
        for key in sorted(set(data) - set(InventoryModel.model_fields)):
            self.problem((key,), "unknown section; the sections are settings, categories, ladders, units, sites, "
                         "accounts, bridges")
        head = self.check(InventoryModel, {k: data[k] for k in ("settings", "categories", "ladders") if k in data}, ())
        if head is None and "settings" in data and not self.problems_outside("settings"):
            # only the settings are wrong (said above): the rest is checked under the default settings, so that
            # one round reports every problem of the file
            head = self.check(InventoryModel, {k: data[k] for k in ("categories", "ladders") if k in data}, ())
        if head is None:
            raise ConfigError(self.problems)
        rules = self.rules(head)
        units: dict[str, UnitModel] = {}
        for i, raw in self.entries(data, "units"):
            unit = self.check(UnitModel, raw, ("units", i))
            if unit is not None and unit.id in units:
                self.problem(("units", i, "id"), f"duplicate unit id {unit.id!r}; ids must be unique")
            elif unit is not None:
                units[unit.id] = unit
        sites: list[SiteModel] = []
        targets: dict[str, Target] = {}
        for i, raw in self.entries(data, "sites"):
            site = self.site(raw, ("sites", i), rules, units, targets)
            if site is not None:
                sites.append(site)
        declared = self.bridges(data, units)
        accounts = self.accounts(data, rules, units, targets, head.settings.accounts, declared)
        self.alert_references(head, units, rules)
        if self.problems:
            raise ConfigError(sorted(self.problems, key=lambda p: p.line or 0))
        behind: dict[str, list[tuple[str, str]]] = {}
        for target in targets.values():
            if target.bridge is not None:
                behind.setdefault(target.bridge, []).append((target.id, target.url))
        bridges = make_bridges(declared, behind, head.settings.bridges, head.settings.alerts.supervisor)
        model = head.model_copy(update={"units": tuple(units.values()), "sites": tuple(sites),
                                        "accounts": tuple(accounts),
                                        "bridges": tuple(m for m, _ in declared.values())})
        return Inventory(self.source, model, rules, tuple(targets.values()), bridges)

    def bridges(self, data: dict[str, Any], units: dict[str, UnitModel]) -> dict[str, tuple[BridgeModel, Headers]]:
        """The declared bridges, each with its sync endpoint's headers read now."""
        found: dict[str, tuple[BridgeModel, Headers]] = {}
        for i, raw in self.entries(data, "bridges"):
            bridge = self.check(BridgeModel, raw, ("bridges", i))
            if bridge is None:
                continue
            if bridge.id in found:
                self.problem(("bridges", i, "id"), f"duplicate bridge id {bridge.id!r}; ids must be unique")
                continue
            if bridge.unit is not None and bridge.unit not in units:
                self.problem(("bridges", i, "unit"),
                             f"unknown unit {quote(bridge.unit)}; name the unit that runs it from units: "
                             f"{sorted(units)}")
            found[bridge.id] = (bridge, self.headers(bridge.headers, ("bridges", i, "headers")))
        return found

    def accounts(
        self, data: dict[str, Any], rules: dict[str, Rule], units: dict[str, UnitModel], targets: dict[str, Target],
        settings: AccountSettings, bridges: dict[str, tuple[BridgeModel, Headers]],
    ) -> list[AccountModel]:
        """Validate each account; those with a source that are not 已关停 become targets of kind "account"."""
        found: list[AccountModel] = []
        ids: set[str] = set()
        for i, raw in self.entries(data, "accounts"):
            account = self.check(AccountModel, raw, ("accounts", i))
            if account is None:
                continue
            unit = units.get(account.unit)
            if unit is None:
                self.problem(("accounts", i, "unit"),
                             f"unknown unit {quote(account.unit)}; add it under units: or use one of {sorted(units)}")
                continue
            if account.id in ids or account.id in targets:
                self.problem(("accounts", i, "id"), f"duplicate id {account.id!r}; give the account a unique id:")
                continue
            ids.add(account.id)
            found.append(account)
            if account.source is None or account.status == "已关停":
                continue
            rule = self.ordered(rules[NEW_MEDIA].with_overrides(account.deadline, account.lead, account.interval),
                                account, ("accounts", i))
            keywords = account.off_duty_keywords or settings.off_duty_keywords
            parser = source_parser(account.source.kind, account.source.mapping,
                                   None if keywords == DEFAULT_OFF_DUTY else keywords, account.platform)
            headers = self.headers(account.source.headers, ("accounts", i, "source", "headers"))
            targets[account.id] = Target(
                account.id, TargetKind.ACCOUNT, f"{account.name}（{account.platform}）", account.source.url,
                account_site(unit.id), NEW_MEDIA, unit.id, unit.name, rule, parser, headers,
                bridge_of(account.source.url, (m for m, _ in bridges.values())))
        return found

    def headers(self, specs: dict[str, HeaderValue], loc: tuple[Any, ...]) -> Headers:
        """The headers' values, read now; each one that cannot be read is a problem at its line."""
        headers, problems = resolve_headers(specs, self.environ)
        for name, message in problems.items():
            self.problem((*loc, name), message)
        return headers

    def alert_references(self, head: InventoryModel, units: dict[str, UnitModel], rules: dict[str, Rule]) -> None:
        """Receivers named by ladders and the supervisor must exist; receiver ids are unique per unit."""
        for unit in units.values():
            ids = [r.id for r in unit.receivers]
            for dup in sorted({i for i in ids if ids.count(i) > 1}):
                self.problem(("units",), f"unit {unit.id!r} has two receivers with id {dup!r}; rename one")
        supervisor = head.settings.alerts.supervisor
        if supervisor is not None and supervisor not in units:
            self.problem(("settings", "alerts", "supervisor"),
                         f"unknown unit {quote(supervisor)}; name the supervising office's unit id from units:")
        known = {r.id for u in units.values() for r in u.receivers}
        for category, steps in head.ladders.items():
            if (canonical_category(category) or category) not in rules:
                self.problem(("ladders", category),
                             f"unknown category {quote(category)}; use one of {', '.join(rules)}")
            for n, step in enumerate(steps):
                for receiver in step.to:
                    if receiver not in known:
                        self.problem(("ladders", category, n, "to"),
                                     f"no unit has a receiver with id {quote(receiver)}; add it under a unit's "
                                     "receivers:")

    def rules(self, head: InventoryModel) -> dict[str, Rule]:
        rules = dict(DEFAULT_RULES)
        for name, cat in head.categories.items():
            canonical = canonical_category(name) or name
            base = rules.get(canonical)
            if base is None:
                if cat.deadline is None or cat.lead is None or cat.interval is None:
                    self.problem(("categories", name), "a new category needs deadline, lead and interval "
                                 "(known categories: " + ", ".join(DEFAULT_RULES) + ")")
                    continue
                base = Rule(name, cat.deadline, cat.lead, cat.interval, f"{name}栏目 {cat.deadline} 内须更新")
            rule = self.ordered(base.with_overrides(cat.deadline, cat.lead, cat.interval), cat, ("categories", name))
            rules[canonical] = Rule(rule.category, rule.deadline, rule.lead, rule.interval, cat.text or rule.text)
        return rules

    def ordered(self, rule: Rule, written: Overrides, loc: tuple[Any, ...]) -> Rule:
        """Yellow comes before red: a problem at the lead or deadline ``written`` when the rule's lead is not
        shorter than its deadline (one inherited from the category is named as such)."""
        if rule.lead.approx_seconds < rule.deadline.approx_seconds or (written.lead is None
                                                                        and written.deadline is None):
            return rule
        field = "lead" if written.lead is not None else "deadline"
        inherited = "" if written.lead is not None and written.deadline is not None else \
            f" (the {'deadline' if field == 'lead' else 'lead'} is {rule.category}'s)"
        self.problem((*loc, field), f"lead {rule.lead} is not shorter than deadline {rule.deadline}{inherited}: yellow "
                     "must come before red; write a lead shorter than the deadline")
        return rule

    def site(
        self, raw: Any, loc: tuple[Any, ...], rules: dict[str, Rule], units: dict[str, UnitModel],
        targets: dict[str, Target],
    ) -> SiteModel | None:
        """Validate a site and each of its columns on their own; add the valid ones' targets."""
        columns = raw.get("columns") if isinstance(raw, dict) else None
        if not isinstance(columns, list):
            columns = []
            raw = raw if not isinstance(raw, dict) or "columns" not in raw else {**raw, "columns": "?"}
        site = self.check(SiteModel, {**raw, "columns": []} if isinstance(raw, dict) else raw, loc)
        valid: list[tuple[int, ColumnModel, Rule]] = []
        for j, col_raw in enumerate(columns):
            col = self.check(ColumnModel, col_raw, (*loc, "columns", j))
            usable = col is not None and self.column_override(col, (*loc, "columns", j))
            raw_category = col_raw.get("category") if isinstance(col_raw, dict) else None
            # the category is checked for a column with other problems too: all of a row's problems at once
            rule = self.column_rule(col.category if col else raw_category, rules, (*loc, "columns", j, "category"))
            if col is not None and usable and rule is not None:
                valid.append((j, col, self.ordered(rule.with_overrides(col.deadline, col.lead, col.interval), col,
                                                   (*loc, "columns", j))))
        if site is None:
            return None
        unit = units.get(site.unit)
        if unit is None:
            self.problem((*loc, "unit"),
                         f"unknown unit {quote(site.unit)}; add it under units: or use one of {sorted(units)}")
            return None
        if any(t.site_id == site.id for t in targets.values()):
            self.problem((*loc, "id"), f"duplicate site id {site.id!r}; ids must be unique")
            return None
        found: list[tuple[Target, tuple[Any, ...]]] = []
        if site.check_homepage:
            found.append((Target(f"{site.id}-home", TargetKind.HOMEPAGE, HOMEPAGE, site.homepage, site.id, site.name,
                                 unit.id, unit.name, rules[HOMEPAGE]), (*loc, "homepage")))
        for j, col, rule in valid:
            cid = col.id or f"{site.id}-{_short_hash(col.url)}"
            target = Target(cid, TargetKind.COLUMN, col.name, col.url, site.id, site.name, unit.id, unit.name, rule,
                            **_reading(col))
            found.append((target, (*loc, "columns", j)))
        for target, where in found:
            if target.id in targets:
                self.problem(where, f"duplicate target id {target.id!r}; give the column a unique id:",
                             "与另一行的栏目相同（同一网站、同一地址）：一个栏目只写一行，请删除重复的行")
            targets[target.id] = target
        boxes = self.message_boxes(site, loc, targets)
        self.interpretation_column(site, loc, [t for t, _ in found])
        return site.model_copy(update={"columns": tuple(col for _, col, _ in valid), "messages": boxes})

    def column_override(self, col: ColumnModel, loc: tuple[Any, ...]) -> bool:
        """A column's override (list, date, date_format) is usable: selectors parse, the format has a month
        and a day, and date or date_format come with list."""
        if col.override is None:
            for name in ("date", "date_format"):
                if getattr(col, name):
                    self.problem((*loc, name),
                                 f"{name} 需要与 list（列表每一行的 CSS 选择器，例如 ul.list > li）一起填写")
            return not (col.date or col.date_format)
        found = override_problems(col.override)
        for name, message in found:
            self.problem((*loc, name), message)
        return not found

    def column_rule(self, category: Any, rules: dict[str, Rule], loc: tuple[Any, ...]) -> Rule | None:
        """The rule of a column's category; a problem at ``loc`` when the category is not known."""
        if not isinstance(category, str):
            return None  # missing or not text: the column's own check said so
        name = canonical_category(category) or category
        rule = rules.get(name) if name != NEW_MEDIA else None
        if rule is None:
            known = [r for r in rules if r != NEW_MEDIA]
            listed = "、".join(r for r in known if r != HOMEPAGE)  # a homepage is the site's, never written
            zh = (f"类别“{quote(category)[1:-1]}”不认识，请填写以下之一：{listed}" if category.strip()
                  else f"此格为空，请填写类别：{listed} 之一")
            self.problem(loc, f"unknown category {quote(category)}; use one of {', '.join(known)} or define it under "
                         "categories:", zh)
        return rule

    def message_boxes(
        self, site: SiteModel, loc: tuple[Any, ...], targets: dict[str, Target],
    ) -> tuple[MessageBoxModel, ...]:
        """The site's message boxes, each with its id (given, or derived from its URL); ids are unique."""
        boxes = []
        for j, box in enumerate(site.messages):
            box_id = box.id or f"{site.id}-msg-{_short_hash(box.url)}"
            if box_id in targets or box_id in self.box_ids:
                self.problem((*loc, "messages", j, "id"), f"duplicate id {box_id!r}; give the message box a unique id:")
                continue
            self.box_ids.add(box_id)
            boxes.append(box.model_copy(update={"id": box_id}))
        return tuple(boxes)

    def interpretation_column(self, site: SiteModel, loc: tuple[Any, ...], site_targets: list[Target]) -> None:
        """``interpretation_column`` names a column of this site, and the site has 政策文件 columns to check."""
        wanted = site.interpretation_column
        if wanted is None:
            return
        columns = [t for t in site_targets if t.kind == TargetKind.COLUMN]
        if not any(t.id == wanted for t in columns):
            self.problem((*loc, "interpretation_column"),
                         f"no column with id {quote(wanted)} on site {site.id!r}; give its 政策解读 column an id: "
                         f"and name it here (column ids: {', '.join(t.id for t in columns) or 'none'})")
        elif not any(t.rule.category == "政策文件" and t.id != wanted for t in columns):
            self.problem((*loc, "interpretation_column"),
                         "the site has no column of category 政策文件 whose documents would need an interpretation; "
                         "add one or remove interpretation_column")


def _short_hash(text: str) -> str:
    return hashlib.blake2s(text.encode(), digest_size=5).hexdigest()


def _reading(col: ColumnModel) -> dict[str, Any]:
    """How a column's list is read: from its JSON source with the field mapping (``parser`` "mapped:<mapping>",
    see monitor.extract_pool), or its page — as fetched or through the browser (``render: browser``) — by
    detection or the operator's override."""
    if col.source is not None:
        mapping = json.dumps(col.source.mapping, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return {"json_url": col.source.url, "parser": "mapped:" + mapping}
    return {"render": col.render == "browser", "parser": col.override.as_parser() if col.override else "list"}
