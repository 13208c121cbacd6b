"""The inventory: units, sites, columns and settings, from YAML or an Excel sheet.

Loading never stops at the first problem: every error is collected with its file, line (or
Excel row), field, what is wrong and how to fix it, so ``govwatch check-config`` can list them
all and the daemon can refuse to start on them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from monitor.durations import Duration
from monitor.newmedia.content import DEFAULT_OFF_DUTY
from monitor.newmedia.jsonapi import FIELDS as MAPPING_FIELDS
from monitor.newmedia.sources import source_parser
from monitor.rules import DEFAULT_RULES, HOMEPAGE, NEW_MEDIA, Rule, canonical_category

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: str
    line: int | None  # 1-based line (YAML) or row (Excel)
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _duration(value: Any) -> Duration | None:
    if value is None or isinstance(value, Duration):
        return value
    return Duration.parse(str(value))


def _check_url(value: str) -> str:
    value = value.strip()
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"not an http(s) URL: {value!r} (write the full address, e.g. http://www.example.gov.cn/col/)")
    return value


def _check_urls(values: tuple[str, ...] | str | None) -> tuple[str, ...] | str | None:
    if values is None:
        return None
    return _check_url(values) if isinstance(values, str) else tuple(_check_url(v) for v in values)


def _known(what: str, names: tuple[str, ...]) -> Callable[[tuple[str, ...] | None], tuple[str, ...] | None]:
    """A validator accepting only ``names`` (e.g. event kinds, check names)."""
    def check(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        unknown = [v for v in value or () if v not in names]
        if unknown:
            raise ValueError(f"unknown {what} {unknown}; use {', '.join(names)}")
        return value

    return check


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Contact(_Strict):
    name: str = Field(min_length=1)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9-]{5,20}$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")


EVENT_KINDS = ("yellow", "red", "recovered", "repeat", "escalation", "ladder", "unregistered", "veto", "finding")
_CHAT_EVENTS = ("yellow", "red", "recovered", "repeat", "unregistered", "veto", "finding")
_DEFAULT_EVENTS = {"chat": _CHAT_EVENTS, "webhook": _CHAT_EVENTS, "email": _CHAT_EVENTS, "sms": ("red",)}
_QUIET = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"


class ReceiverModel(_Strict):
    """Where a unit's alerts go: an apprise URL (wecombot://, dingtalk://, feishu://, json://, form://, mailto://)."""

    id: str = Field(pattern=_ID)
    url: str = Field(min_length=3)
    kind: str = Field(default="chat", pattern=r"^(chat|sms|email|webhook)$")
    on: tuple[str, ...] | None = None  # event kinds; default by kind (sms: red only)
    quiet_hours: str | None = Field(default=None, pattern=_QUIET)  # e.g. "22:00-08:00": held, sent after

    @field_validator("url")
    @classmethod
    def _apprise_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme == "wecom":
            raise ValueError("wecom:// is apprise's alias for the third-party Pushplus service, not WeCom; "
                             "use wecombot://KEY for a 企业微信群机器人 or wechat://… for a WeCom app")
        if not scheme:
            raise ValueError(f"not an apprise URL: {value!r} (e.g. wecombot://KEY, dingtalk://TOKEN, json://host/path)")
        return value

    _events = field_validator("on")(_known("event kinds", EVENT_KINDS))

    @property
    def events(self) -> tuple[str, ...]:
        return self.on if self.on is not None else _DEFAULT_EVENTS[self.kind]


class UnitModel(_Strict):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)
    contacts: tuple[Contact, ...] = ()
    receivers: tuple[ReceiverModel, ...] = ()


class LadderStep(_Strict):
    """On the given age of a column's newest item, tell these receivers of the column's own unit."""

    after: Duration
    to: tuple[str, ...] = Field(min_length=1)

    _parse = field_validator("after", mode="before")(_duration)


class Overrides(_Strict):
    deadline: Duration | None = None
    lead: Duration | None = None
    interval: Duration | None = None

    _parse = field_validator("deadline", "lead", "interval", mode="before")(_duration)


class ColumnModel(Overrides):
    id: str | None = Field(default=None, pattern=_ID)
    name: str = Field(min_length=1)
    url: str
    category: str

    _url = field_validator("url")(_check_url)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        # Custom categories are checked against the inventory later; keep the name as written.
        return canonical_category(value) or value


class MessageBoxModel(_Strict):
    """A citizens' message list page (领导信箱, 政民互动, 咨询投诉, 12345): answers within 5 working days."""

    id: str | None = Field(default=None, pattern=_ID)  # default: <site id>-msg-<hash of the URL>
    name: str = Field(min_length=1)
    url: str
    pages: int = Field(default=1, ge=1, le=20)  # list pages read, following 下一页
    interval: Duration | None = None  # default 6h

    _url = field_validator("url")(_check_url)
    _parse = field_validator("interval", mode="before")(_duration)


def _check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {value!r} ({exc})") from None
    return value


class InterpretationSelect(_Strict):
    """Which policy documents need an interpretation (regular expressions on the title; unset: the defaults of
    monitor.interpretations.Selection)."""

    include: str | None = None
    exclude: str | None = None
    issuer: str | None = None

    _regex = field_validator("include", "exclude", "issuer")(_check_regex)


class SiteModel(_Strict):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)
    unit: str
    homepage: str
    check_homepage: bool = True
    columns: tuple[ColumnModel, ...] = ()
    matrix_page: str | None = None  # the site's 新媒体矩阵 page: accounts listed there must be registered
    messages: tuple[MessageBoxModel, ...] = ()  # message boxes: list pages of 网民留言
    interpretation_column: str | None = None  # id of its 政策解读 column; 政策文件 columns then need interpretations
    interpretation_select: InterpretationSelect | None = None

    _url = field_validator("homepage")(_check_url)
    _matrix = field_validator("matrix_page")(_check_urls)


PLATFORMS = ("微信公众号", "微博", "抖音", "今日头条", "快手", "视频号", "其他")
PLATFORM_ALIASES = {"微信": "微信公众号", "公众号": "微信公众号", "新浪微博": "微博", "头条": "今日头条",
                    "头条号": "今日头条", "微信视频号": "视频号"}
ACCOUNT_STATUS = ("已备案", "未备案", "已关停")


def canonical_platform(name: str) -> str:
    """The platform an office's 类型 cell names; anything unknown is 其他."""
    name = name.strip()
    return name if name in PLATFORMS else PLATFORM_ALIASES.get(name, "其他")


class SourceModel(_Strict):
    """Where an account's posts are read: a feed (RSSHub, wewe-rss, …) or a JSON API with a field mapping."""

    kind: str = Field(pattern=r"^(rss|atom|jsonfeed|json)$")
    url: str
    mapping: dict[str, str] | None = None  # json only: items (dotted path), title, url, date

    _url = field_validator("url")(_check_url)

    @model_validator(mode="after")
    def _mapping(self) -> SourceModel:
        if self.kind == "json" and not (self.mapping and "items" in self.mapping and "date" in self.mapping):
            raise ValueError("a json source needs mapping: {items: data.list, title: title, url: url, date: time}")
        if self.kind != "json" and self.mapping:
            raise ValueError("mapping is only for kind: json")
        unknown = sorted(set(self.mapping or ()) - set(MAPPING_FIELDS))
        if unknown:
            raise ValueError(f"unknown mapping fields {unknown}; use {', '.join(MAPPING_FIELDS)}")
        return self

    @property
    def parser(self) -> str:
        return source_parser(self.kind, self.mapping, None)


class InteractionModel(_Strict):
    """A person's attestation that an account has (or lacks) a working interaction function (互动功能)."""

    present: bool
    attested_at: date
    attested_by: str = Field(min_length=1)


class AccountModel(Overrides):
    """A government new-media account (政务新媒体账号), probed like a column under the 政务新媒体 rule."""

    id: str = Field(pattern=_ID)
    unit: str
    platform: str
    name: str = Field(min_length=1)
    account_id: str | None = None
    status: str = "已备案"
    source: SourceModel | None = None  # without one the account is listed (备案) but not probed
    interaction: InteractionModel | None = None  # attested by hand; expires after settings.accounts
    service_menu: tuple[str, ...] = ()  # the links of its service menu (公众号菜单), checked as settings.links
    off_duty_keywords: tuple[str, ...] | None = None  # replaces settings.accounts.off_duty_keywords for it

    _menu = field_validator("service_menu")(_check_urls)

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        if value.strip() not in PLATFORMS and value.strip() not in PLATFORM_ALIASES:
            raise ValueError(f"unknown platform {value!r}; use one of {', '.join(PLATFORMS)}")
        return canonical_platform(value)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        if value not in ACCOUNT_STATUS:
            raise ValueError(f"unknown status {value!r}; use one of {', '.join(ACCOUNT_STATUS)}")
        return value


class CategoryModel(Overrides):
    text: str | None = None


class FetchModel(_Strict):
    timeout: Duration = Duration(seconds=15)
    max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)
    user_agent: str = "govwatch/0.1 (+government website monitoring)"
    per_host_concurrency: int = Field(default=2, ge=1, le=32)
    per_host_interval: Duration = Duration(seconds=1)
    connections: int = Field(default=200, ge=1, le=5000)
    ca_file: str | None = None  # PEM file of CAs to trust besides the system's (e.g. a 政务外网 private CA)

    _parse = field_validator("timeout", "per_host_interval", mode="before")(_duration)


class AvailabilitySettings(_Strict):
    """Homepage availability (站点无法访问): over ``window``, probe every ``interval`` with ``timeout``; the share of
    failed probes is yellow from ``yellow_ratio`` and red from ``red_ratio`` (the rule: ≥ 20 probes a day over a
    week, 15 s, 5 %). A site is down after ``down_after`` failures in a row and up again after ``up_after``
    successes. govwatch itself is cut off when every canary fails (or, with no canaries, when ``cutoff_share``
    of at least ``cutoff_min_sites`` sites fail within one interval): then nothing changes for the sites.
    """

    interval: Duration = Duration(seconds=600)
    timeout: Duration = Duration(seconds=15)
    window: Duration = Duration(seconds=7 * 86400)
    yellow_ratio: float = Field(default=0.03, gt=0, le=1)
    red_ratio: float = Field(default=0.05, gt=0, le=1)
    down_after: int = Field(default=3, ge=1, le=100)
    up_after: int = Field(default=2, ge=1, le=100)
    canaries: tuple[str, ...] = ()  # URLs govwatch should always reach (e.g. www.gov.cn, the province's portal)
    cutoff_share: float = Field(default=0.5, gt=0, le=1)
    cutoff_min_sites: int = Field(default=5, ge=1)
    cert_warn: Duration = Duration(seconds=30 * 86400)  # a certificate expiring this soon is yellow
    defaced_ratio: float = Field(default=0.1, gt=0, lt=1)  # a homepage this share of its usual size is suspect

    _parse = field_validator("interval", "timeout", "window", "cert_warn", mode="before")(_duration)
    _canaries = field_validator("canaries")(_check_urls)

    @model_validator(mode="after")
    def _consistent(self) -> AvailabilitySettings:
        if self.yellow_ratio > self.red_ratio:
            raise ValueError(f"yellow_ratio {self.yellow_ratio} is above red_ratio {self.red_ratio}; "
                             "yellow comes first")
        if self.interval.months or not 0 < self.interval.seconds <= 72 * 60:
            raise ValueError(f"interval {self.interval} is longer than 72min: the rule probes at least 20 times a day")
        if self.window.months or self.window.seconds < self.interval.seconds:
            raise ValueError(f"window {self.window} must be a number of days or hours, at least one interval")
        return self


class AlertSettings(_Strict):
    group_window: Duration = Duration(seconds=30)  # crossings of one receiver within it go out as one message
    escalate_after: Duration | None = Duration(seconds=3 * 86400)  # red this long → the supervising office
    supervisor: str | None = None  # unit id of the supervising office (政务公开办)
    repeat_at: str | None = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # working-day reminder
    send_timeout: Duration = Duration(seconds=20)
    max_backoff: Duration = Duration(seconds=600)

    _parse = field_validator("group_window", "escalate_after", "send_timeout", "max_backoff", mode="before")(
        _duration)


class MqttModel(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    client_id: str = "govwatch"
    prefix: str = Field(default="govwatch", pattern=r"^[A-Za-z0-9_/-]+$")
    keepalive: int = Field(default=30, ge=5, le=3600)


class LinkSettings(_Strict):
    """The link crawler (``monitor.health.crawl``): per site the homepage, every column page and the newest
    articles, every link on them checked once, hidden links, external links and wrong words on every page.

    Broken links are deducted separately for the homepage and other pages (国办秘函〔2019〕19号; the points are
    unconfirmed, rules-sources §3.1), so the red thresholds are per page kind: any confirmed broken link makes
    a page yellow, ``home_red`` of them on the homepage or ``page_red`` on another page make it red.
    """

    interval: Duration = Duration(seconds=86400)  # one crawl per site a day, as the inspectors' daily scans
    articles: int = Field(default=5, ge=0, le=100)  # newest article pages per site, from the column probes' items
    max_links: int = Field(default=500, ge=1, le=5000)  # links checked per page (the first in page order)
    timeout: Duration = Duration(seconds=15)  # per link request; the 19号 rule's 15 s
    retry_after: Duration = Duration(seconds=30)  # a failed link is tried once more this much later in the run
    ok_ttl: Duration = Duration(seconds=86400)  # a working link is not asked again for this long (any site)
    fail_ttl: Duration = Duration(seconds=3600)  # nor a broken one for this long
    cache_size: int = Field(default=50_000, ge=100)  # working (and apart, broken) link results kept, ~0.3 KB each
    concurrency: int = Field(default=16, ge=1, le=256)  # links of one site in flight (per-host limits still hold)
    home_red: int = Field(default=3, ge=1)  # confirmed broken links on the homepage that make it red
    page_red: int = Field(default=10, ge=1)  # on any other page
    allow_domains: tuple[str, ...] = ()  # external domains needing no exit notice, besides central state media
    ignore: tuple[str, ...] = ()  # link URL prefixes never requested (counters, login pages, …)

    _parse = field_validator("interval", "timeout", "retry_after", "ok_ttl", "fail_ttl", mode="before")(_duration)


class AccountSettings(_Strict):
    """Account checks beyond freshness: reposts and off-duty posts, interaction attestations, service menus,
    新媒体矩阵 pages."""

    posts_window: int = Field(default=20, ge=1, le=50)  # the last N posts the shares are counted over
    min_posts: int = Field(default=5, ge=1)  # fewer posts read: no share is judged
    repost_share: float = Field(default=0.5, gt=0, le=1)  # yellow above this share of reposts
    off_duty_share: float = Field(default=0.5, gt=0, le=1)  # yellow above this share of off-duty posts
    off_duty_keywords: tuple[str, ...] = DEFAULT_OFF_DUTY
    attestation_valid: Duration = Duration(seconds=180 * 86400)  # an interaction attestation is stale after
    interaction_interval: Duration = Duration(seconds=86400)
    service_menu_interval: Duration = Duration(seconds=86400)
    matrix_interval: Duration = Duration(seconds=86400)

    _parse = field_validator("attestation_valid", "interaction_interval", "service_menu_interval",
                             "matrix_interval", mode="before")(_duration)


CHECK_NAMES = ("availability", "links", "honest", "calendar", "messages", "interpretation", "interaction",
               "service_menu", "matrix", "repost_share")


class SettingsModel(_Strict):
    store: str = "govwatch.sqlite3"
    listen: str = Field(default="127.0.0.1:8470", pattern=r"^[^:\s]+:\d{1,5}$")
    board_url: str | None = None  # public address of the board, quoted in alerts
    token: str | None = Field(default=None, min_length=16)  # enables API writes (silences, outbox drops)
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    extract_workers: int = Field(default=2, ge=0, le=64)  # processes parsing pages; 0 parses inline
    extract_time_limit: Duration = Duration(seconds=10)  # a page taking longer is unreadable
    alerts: AlertSettings = AlertSettings()
    mqtt: MqttModel | None = None  # no broker configured: the daemon runs the same without MQTT
    accounts: AccountSettings = AccountSettings()

    _parse = field_validator("extract_time_limit", mode="before")(_duration)
    fetch: FetchModel = FetchModel()
    availability: AvailabilitySettings = AvailabilitySettings()
    links: LinkSettings = LinkSettings()
    # The checks beyond column freshness to run (of CHECK_NAMES); None runs them all.
    checks: tuple[str, ...] | None = None

    _checks = field_validator("checks")(_known("checks", CHECK_NAMES))


class InventoryModel(_Strict):
    settings: SettingsModel = SettingsModel()
    categories: dict[str, CategoryModel] = {}
    ladders: dict[str, tuple[LadderStep, ...]] = {}  # per category: who is told on which day
    units: tuple[UnitModel, ...] = ()
    sites: tuple[SiteModel, ...] = ()
    accounts: tuple[AccountModel, ...] = ()


def account_site(unit_id: str) -> str:
    """The site id under which a unit's new-media accounts are grouped (their targets' and findings' site)."""
    return f"nm-{unit_id}"


@dataclass(frozen=True, slots=True)
class Target:
    """One thing probed on its own schedule: a column list page, a site's homepage or a new-media account.

    An account's ``site_id`` is ``nm-<unit id>`` and its ``site_name`` 政务新媒体: the board, alerts and
    metrics group a unit's accounts like a site's columns.
    """

    id: str
    kind: str  # "column" | "homepage" | "account"
    name: str
    url: str
    site_id: str
    site_name: str
    unit_id: str
    unit_name: str
    rule: Rule
    parser: str = "list"  # "list" | "feed" | "json:<mapping>" (see monitor.extract_pool.parse_page)

    @property
    def host(self) -> str:
        return self.url.split("/", 3)[2].lower()


@dataclass(frozen=True, slots=True)
class Inventory:
    source: str
    model: InventoryModel
    rules: dict[str, Rule]
    targets: tuple[Target, ...]

    @property
    def settings(self) -> SettingsModel:
        return self.model.settings

    @property
    def site_names(self) -> dict[str, str]:
        """Names by site id, a unit's accounts grouped as 政务新媒体 (for findings, alerts and the board)."""
        return {**{account_site(a.unit): NEW_MEDIA for a in self.model.accounts},
                **{site.id: site.name for site in self.model.sites}}


# ---------------------------------------------------------------- loading


def load(path: str | Path) -> Inventory:
    """Load and validate an inventory from .yaml/.yml, .json or .xlsx/.xls/.ods; raise ConfigError."""
    path = Path(path)
    if not path.exists():
        raise ConfigError([ConfigProblem(str(path), None, "", "file not found")])
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xls", ".ods"}:
        from monitor.excel import read_inventory  # lazy: the Excel reader is only needed here

        data, locate = read_inventory(path)
        return build(data, str(path), locate)
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


def _read_yaml(path: Path, text: str) -> tuple[Any, Any]:
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError([ConfigProblem(str(path), line, "", f"YAML syntax: {exc.problem}")]) from None
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
    return f"{msg} (got {err.get('input')!r})" if "input" in err and kind != "value_error" else msg


def build(data: Any, source: str, locate: Any) -> Inventory:
    """Validate plain inventory data; ``locate(loc)`` maps a field path to its line or row.

    Each unit, site and column is validated on its own so that one run reports every problem.
    """
    return _Builder(source, locate).build(_plain(data))


class _Builder:
    def __init__(self, source: str, locate: Any) -> None:
        self.source = source
        self.locate = locate
        self.problems: list[ConfigProblem] = []
        self.box_ids: set[str] = set()

    def problem(self, loc: tuple[Any, ...], message: str) -> None:
        self.problems.append(ConfigProblem(self.source, self.locate(loc), _field_name(loc), message))

    def check(self, model: type[BaseModel], value: Any, loc: tuple[Any, ...]) -> Any:
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            for e in exc.errors():
                self.problem((*loc, *e["loc"]), _pydantic_message(e))
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
                         "accounts")
        head = self.check(InventoryModel, {k: data[k] for k in ("settings", "categories", "ladders") if k in data}, ())
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
        accounts = self.accounts(data, rules, units, targets, head.settings.accounts)
        self.alert_references(head, units, rules)
        if self.problems:
            raise ConfigError(self.problems)
        model = head.model_copy(update={"units": tuple(units.values()), "sites": tuple(sites),
                                        "accounts": tuple(accounts)})
        return Inventory(self.source, model, rules, tuple(targets.values()))

    def accounts(
        self, data: dict[str, Any], rules: dict[str, Rule], units: dict[str, UnitModel], targets: dict[str, Target],
        settings: AccountSettings,
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
                             f"unknown unit {account.unit!r}; add it under units: or use one of {sorted(units)}")
                continue
            if account.id in ids or account.id in targets:
                self.problem(("accounts", i, "id"), f"duplicate id {account.id!r}; give the account a unique id:")
                continue
            ids.add(account.id)
            found.append(account)
            if account.source is None or account.status == "已关停":
                continue
            rule = rules[NEW_MEDIA].with_overrides(account.deadline, account.lead, account.interval)
            keywords = account.off_duty_keywords or settings.off_duty_keywords
            parser = source_parser(account.source.kind, account.source.mapping,
                                   None if keywords == DEFAULT_OFF_DUTY else keywords)
            targets[account.id] = Target(
                account.id, "account", f"{account.name}（{account.platform}）", account.source.url,
                account_site(unit.id), NEW_MEDIA, unit.id, unit.name, rule, parser)
        return found

    def alert_references(self, head: InventoryModel, units: dict[str, UnitModel], rules: dict[str, Rule]) -> None:
        """Receivers named by ladders and the supervisor must exist; receiver ids are unique per unit."""
        for unit in units.values():
            ids = [r.id for r in unit.receivers]
            for dup in sorted({i for i in ids if ids.count(i) > 1}):
                self.problem(("units",), f"unit {unit.id!r} has two receivers with id {dup!r}; rename one")
        supervisor = head.settings.alerts.supervisor
        if supervisor is not None and supervisor not in units:
            self.problem(("settings", "alerts", "supervisor"),
                         f"unknown unit {supervisor!r}; name the supervising office's unit id from units:")
        known = {r.id for u in units.values() for r in u.receivers}
        for category, steps in head.ladders.items():
            if (canonical_category(category) or category) not in rules:
                self.problem(("ladders", category), f"unknown category {category!r}; use one of {', '.join(rules)}")
            for n, step in enumerate(steps):
                for receiver in step.to:
                    if receiver not in known:
                        self.problem(("ladders", category, n, "to"),
                                     f"no unit has a receiver with id {receiver!r}; add it under a unit's receivers:")

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
            rule = base.with_overrides(cat.deadline, cat.lead, cat.interval)
            rules[canonical] = Rule(rule.category, rule.deadline, rule.lead, rule.interval, cat.text or rule.text)
        return rules

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
            if col is None:
                continue
            rule = rules.get(col.category) if col.category != NEW_MEDIA else None
            if rule is None:
                self.problem((*loc, "columns", j, "category"), f"unknown category {col.category!r}; use one of "
                             f"{', '.join(r for r in rules if r != NEW_MEDIA)} or define it under categories:")
                continue
            valid.append((j, col, rule.with_overrides(col.deadline, col.lead, col.interval)))
        if site is None:
            return None
        unit = units.get(site.unit)
        if unit is None:
            self.problem((*loc, "unit"),
                         f"unknown unit {site.unit!r}; add it under units: or use one of {sorted(units)}")
            return None
        if any(t.site_id == site.id for t in targets.values()):
            self.problem((*loc, "id"), f"duplicate site id {site.id!r}; ids must be unique")
            return None
        found: list[tuple[Target, tuple[Any, ...]]] = []
        if site.check_homepage:
            found.append((Target(f"{site.id}-home", "homepage", HOMEPAGE, site.homepage, site.id, site.name,
                                 unit.id, unit.name, rules[HOMEPAGE]), (*loc, "homepage")))
        for j, col, rule in valid:
            cid = col.id or f"{site.id}-{_short_hash(col.url)}"
            found.append((Target(cid, "column", col.name, col.url, site.id, site.name, unit.id, unit.name, rule),
                          (*loc, "columns", j)))
        for target, where in found:
            if target.id in targets:
                self.problem(where, f"duplicate target id {target.id!r}; give the column a unique id:")
            targets[target.id] = target
        boxes = self.message_boxes(site, loc, targets)
        self.interpretation_column(site, loc, [t for t, _ in found])
        return site.model_copy(update={"columns": tuple(col for _, col, _ in valid), "messages": boxes})

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
        columns = [t for t in site_targets if t.kind == "column"]
        if not any(t.id == wanted for t in columns):
            self.problem((*loc, "interpretation_column"),
                         f"no column with id {wanted!r} on site {site.id!r}; give its 政策解读 column an id: "
                         f"and name it here (column ids: {', '.join(t.id for t in columns) or 'none'})")
        elif not any(t.rule.category == "政策文件" and t.id != wanted for t in columns):
            self.problem((*loc, "interpretation_column"),
                         "the site has no column of category 政策文件 whose documents would need an interpretation; "
                         "add one or remove interpretation_column")


def _short_hash(text: str) -> str:
    return hashlib.blake2s(text.encode(), digest_size=5).hexdigest()
