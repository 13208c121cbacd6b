"""The inventory's schema (pydantic): units, sites, columns, accounts, categories, ladders and settings.

Validators say what is wrong and how to fix it; ``monitor.config.build`` turns their errors into problems
with lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from monitor.account_source import DEFAULT_OFF_DUTY, MAPPING_FIELDS
from monitor.addresses import networks
from monitor.config.errors import quote
from monitor.durations import Duration
from monitor.list_override import Override
from monitor.platforms import CANONICAL, PLATFORMS, canonical_platform
from monitor.rules import canonical_category

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _duration(value: Any) -> Duration | None:
    if value is None or isinstance(value, Duration):
        return value
    try:
        return Duration.parse(str(value))
    except ValueError as exc:  # its own error kind, so a sheet's user is told what to write (config.advice)
        raise PydanticCustomError("duration", "{message}", {"message": str(exc)}) from None


def _span(low: str, high: str) -> Any:
    """A duration setting that must lie within ``low``…``high``: an interval of 0s spins a loop, a timeout of 0s is
    none at all (aiohttp), so every interval, timeout and age the inventory sets has a range."""
    lo, hi = Duration.parse(low), Duration.parse(high)

    def within(value: Duration) -> Duration:
        if not lo.approx_seconds <= value.approx_seconds <= hi.approx_seconds:
            raise PydanticCustomError("duration_range", "{value} is outside {low}…{high}; write a duration from {low} "
                                      "to {high}", {"value": str(value), "low": low, "high": high})
        return value

    return Annotated[Duration, BeforeValidator(_duration), AfterValidator(within)]


Timeout = _span("1s", "5min")  # one request, one send, one page's parse or rendering
Interval = _span("1s", "30d")  # how often a probe or check runs
Pause = _span("0s", "1h")  # a wait that may be none (grouping, spacing, a retry's delay)
Age = _span("1s", "10y")  # how old something may get (deadlines, escalation, staleness)
Lead = _span("0s", "10y")  # how long before a deadline yellow starts (shorter than the deadline: config.build)
Backoff = _span("1s", "1d")
CacheLife = _span("0s", "30d")


def _check_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value) if re.match(r"^https?://[^\s/]+", value) else None
    try:
        port_ok = parts is not None and (parts.port is None or parts.port > 0)  # .port raises ValueError above 65535
    except ValueError:
        port_ok = False
    if not (parts and parts.hostname and port_ok) or any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise PydanticCustomError("url", "{message}", {"message": f"not an http(s) URL: {quote(value)} (write the "
                                                                 "full address without spaces, e.g. "
                                                                 "http://www.example.gov.cn/col/)"})
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
            raise ValueError(f"not an apprise URL: {quote(value)} (e.g. wecombot://KEY, dingtalk://TOKEN, json://host/path)")
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

    after: Lead
    to: tuple[str, ...] = Field(min_length=1)


class Overrides(_Strict):
    deadline: Age | None = None
    lead: Lead | None = None
    interval: Interval | None = None


LIST_MAPPING_FIELDS = ("items", "title", "url", "date")  # a column's JSON source (see monitor.extract.mapped)


def _check_mapping(mapping: dict[str, str] | None, fields: tuple[str, ...]) -> None:
    """A JSON source's field mapping: where the records are (``items``) and their ``date`` at least."""
    if not (mapping and "items" in mapping and "date" in mapping):
        raise ValueError("a json source needs mapping: {items: data.list, title: title, url: url, date: time}")
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ValueError(f"unknown mapping fields {unknown}; use {', '.join(fields)}")


class ListSourceModel(_Strict):
    """The JSON behind a column's script-built list (the API its page's script reads), read instead of the page."""

    kind: str
    url: str
    mapping: dict[str, str] | None = None

    _url = field_validator("url")(_check_url)

    @field_validator("kind")
    @classmethod
    def _json(cls, value: str) -> str:
        if value != "json":
            raise ValueError(f"a column's source is kind: json (got {quote(value)}); feeds (rss, atom) are for "
                             "accounts")
        return value

    @model_validator(mode="after")
    def _mapping(self) -> ListSourceModel:
        _check_mapping(self.mapping, LIST_MAPPING_FIELDS)
        return self


class ColumnModel(Overrides):
    id: str | None = Field(default=None, pattern=_ID)
    name: str = Field(min_length=1)
    url: str
    category: str
    # An override for a page detection reads wrong (monitor.list_override): the rows' CSS selector, the
    # date's CSS selector or /regex/ inside a row, how the date is written. Checked by config.build.
    rows: str | None = Field(default=None, alias="list", min_length=1)
    date: str | None = Field(default=None, min_length=1)
    date_format: str | None = Field(default=None, min_length=1)
    render: str | None = None  # "browser": the list is built by script; the page is read through a headless browser
    source: ListSourceModel | None = None  # or: the JSON behind the list, read instead of the page

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True, populate_by_name=True)

    _url = field_validator("url")(_check_url)

    @property
    def override(self) -> Override | None:
        return Override(self.rows, self.date, self.date_format) if self.rows else None

    @field_validator("render")
    @classmethod
    def _render(cls, value: str | None) -> str | None:
        if value not in (None, "browser"):
            raise ValueError(f"unknown render {quote(value)}; write render: browser for a list built by script, or "
                             "leave it out")
        return value

    @model_validator(mode="after")
    def _one_reading(self) -> ColumnModel:
        if self.render and self.source:
            raise ValueError("render: browser and source: read the same list two ways; keep one (source: reads the "
                             "JSON without a browser)")
        if self.source and (self.rows or self.date or self.date_format):
            raise ValueError("list:, date: and date_format read a page; a column with source: reads its JSON by the "
                             "mapping (remove one or the other)")
        return self

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
    interval: Interval | None = None  # default 6h

    _url = field_validator("url")(_check_url)


def _check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {quote(value)} ({exc})") from None
    return value


class InterpretationSelect(_Strict):
    """Which policy documents need an interpretation (regular expressions on the title; unset: the defaults of
    monitor.checks.interpretation.Selection)."""

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


ACCOUNT_STATUS = ("已备案", "未备案", "已关停")


_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# Headers the fetcher sets itself (conditional GET, compression, the connection).
_OWN_HEADERS = {"host", "content-length", "connection", "accept-encoding", "if-none-match", "if-modified-since",
                "transfer-encoding"}


class HeaderValue(_Strict):
    """A header's value: ``value`` written in the inventory (for what is no secret), or read when the inventory is
    loaded (and again on each reload) and never written in it: from an environment variable (``env``) or a file
    (``file``: a relative path is read in $CREDENTIALS_DIRECTORY, where systemd's ``LoadCredential=`` puts
    credentials); after an optional ``prefix`` ("Bearer ")."""

    model_config = ConfigDict(str_strip_whitespace=False)  # "Bearer " keeps its space

    value: str | None = None
    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: str | None = Field(default=None, min_length=1)
    prefix: str = ""

    @model_validator(mode="after")
    def _one_place(self) -> HeaderValue:
        if sum(x is not None for x in (self.value, self.env, self.file)) != 1:
            raise ValueError("give the value's place, one of env: VARIABLE, file: PATH or value: TEXT (with prefix: "
                             "\"Bearer \" for a bearer token)")
        return self


def _check_headers(value: dict[str, HeaderValue]) -> dict[str, HeaderValue]:
    for name in value:
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{quote(name)} is not a header name; use letters, digits and '-' (Authorization, "
                             "X-Token)")
        if name.lower() in _OWN_HEADERS:
            raise ValueError(f"{name!r} is set by govwatch itself; remove it")
    return value


class SourceModel(_Strict):
    """Where an account's posts are read: a feed (RSSHub, wewe-rss, …) or a JSON API with a field mapping; with
    the headers the bridge needs (a bearer token: ``{Authorization: {env: TOKEN, prefix: "Bearer "}}``)."""

    kind: str = Field(pattern=r"^(rss|atom|jsonfeed|json)$")
    url: str
    mapping: dict[str, str] | None = None  # json only: items (dotted path), title, url, date
    headers: dict[str, HeaderValue] = {}

    _url = field_validator("url")(_check_url)
    _headers = field_validator("headers")(_check_headers)

    @model_validator(mode="after")
    def _mapping(self) -> SourceModel:
        if self.kind == "json":
            _check_mapping(self.mapping, MAPPING_FIELDS)
        elif self.mapping:
            raise ValueError("mapping is only for kind: json")
        return self


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
        if value.strip() not in CANONICAL:
            raise ValueError(f"unknown platform {quote(value)}; use one of {', '.join(PLATFORMS)}")
        return canonical_platform(value)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        if value not in ACCOUNT_STATUS:
            raise ValueError(f"unknown status {quote(value)}; use one of {', '.join(ACCOUNT_STATUS)}")
        return value


class CategoryModel(Overrides):
    text: str | None = None


class FetchModel(_Strict):
    timeout: Timeout = Duration(seconds=15)
    max_bytes: int = Field(default=5 * 1024 * 1024, gt=0, le=100 * 1024 * 1024)  # a larger page is not read
    max_redirects: int = Field(default=5, ge=0, le=20)
    user_agent: str = "govwatch/0.1 (+government website monitoring)"
    per_host_concurrency: int = Field(default=2, ge=1, le=32)
    per_host_interval: Pause = Duration(seconds=1)
    connections: int = Field(default=200, ge=1, le=5000)
    ca_file: str | None = None  # PEM file of CAs to trust besides the system's (e.g. a 政务外网 private CA)
    # Private networks pages may be read from (政务外网: e.g. 10.0.0.0/8); outside them a redirect or a DNS answer
    # into loopback, private or link-local space is refused (monitor.addresses). Addresses the inventory writes
    # as IP literals are trusted as written.
    allow_private: tuple[str, ...] = ()

    @field_validator("allow_private")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(net) for net in networks(value))


class AvailabilitySettings(_Strict):
    """Homepage availability (站点无法访问): over ``window``, probe every ``interval`` with ``timeout``; the share of
    failed probes is yellow from ``yellow_ratio`` and red from ``red_ratio`` (the rule: ≥ 20 probes a day over a
    week, 15 s, 5 %). A site is down after ``down_after`` failures in a row and up again after ``up_after``
    successes. govwatch itself is cut off when every canary fails (or, with no canaries, when ``cutoff_share``
    of at least ``cutoff_min_sites`` sites fail within one interval): then nothing changes for the sites.
    """

    interval: _span("1s", "72min") = Duration(seconds=600)  # the rule probes at least 20 times a day
    timeout: Timeout = Duration(seconds=15)
    window: _span("1h", "1y") = Duration(seconds=7 * 86400)
    yellow_ratio: float = Field(default=0.03, gt=0, le=1)
    red_ratio: float = Field(default=0.05, gt=0, le=1)
    down_after: int = Field(default=3, ge=1, le=100)
    up_after: int = Field(default=2, ge=1, le=100)
    canaries: tuple[str, ...] = ()  # URLs govwatch should always reach (e.g. www.gov.cn, the province's portal)
    cutoff_share: float = Field(default=0.5, gt=0, le=1)
    cutoff_min_sites: int = Field(default=5, ge=1)
    cert_warn: _span("1d", "1y") = Duration(seconds=30 * 86400)  # a certificate expiring this soon is yellow
    defaced_ratio: float = Field(default=0.1, gt=0, lt=1)  # a homepage this share of its usual size is suspect

    _canaries = field_validator("canaries")(_check_urls)

    @model_validator(mode="after")
    def _consistent(self) -> AvailabilitySettings:
        if self.yellow_ratio > self.red_ratio:
            raise ValueError(f"yellow_ratio {self.yellow_ratio} is above red_ratio {self.red_ratio}; "
                             "yellow comes first")
        if self.window.months or self.window.seconds < self.interval.seconds:
            raise ValueError(f"window {self.window} must be a number of days or hours, at least one interval")
        return self


class AlertSettings(_Strict):
    group_window: Pause = Duration(seconds=30)  # crossings of one receiver within it go out as one message
    escalate_after: Age | None = Duration(seconds=3 * 86400)  # red this long → the supervising office
    supervisor: str | None = None  # unit id of the supervising office (政务公开办)
    repeat_at: str | None = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # working-day reminder
    send_timeout: Timeout = Duration(seconds=20)
    max_backoff: Backoff = Duration(seconds=600)


class MqttModel(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    client_id: str = "govwatch"  # in a cluster each daemon connects as <client_id>-<node> (one session per id)
    prefix: str = Field(default="govwatch", pattern=r"^[A-Za-z0-9_/-]+$")
    keepalive: int = Field(default=30, ge=5, le=3600)


class LinkSettings(_Strict):
    """The link crawler (``monitor.checks.links``): per site the homepage, every column page and the newest
    articles, every link on them checked once, hidden links, external links and wrong words on every page.

    Broken links are deducted separately for the homepage and other pages (国办秘函〔2019〕19号; the points are
    unconfirmed, rules-sources §3.1), so the red thresholds are per page kind: any confirmed broken link makes
    a page yellow, ``home_red`` of them on the homepage or ``page_red`` on another page make it red.
    """

    interval: Interval = Duration(seconds=86400)  # one crawl per site a day, as the inspectors' daily scans
    articles: int = Field(default=5, ge=0, le=100)  # newest article pages per site, from the column probes' items
    max_links: int = Field(default=500, ge=1, le=5000)  # links checked per page (the first in page order)
    timeout: Timeout = Duration(seconds=15)  # per link request; the 19号 rule's 15 s
    retry_after: Pause = Duration(seconds=30)  # a failed link is tried once more this much later in the run
    ok_ttl: CacheLife = Duration(seconds=86400)  # a working link is not asked again for this long (any site)
    fail_ttl: CacheLife = Duration(seconds=3600)  # nor a broken one for this long
    cache_size: int = Field(default=50_000, ge=100)  # working (and apart, broken) link results kept, ~0.3 KB each
    concurrency: int = Field(default=16, ge=1, le=256)  # links of one site in flight (per-host limits still hold)
    home_red: int = Field(default=3, ge=1)  # confirmed broken links on the homepage that make it red
    page_red: int = Field(default=10, ge=1)  # on any other page
    allow_domains: tuple[str, ...] = ()  # external domains needing no exit notice, besides central state media
    ignore: tuple[str, ...] = ()  # link URL prefixes never requested (counters, login pages, …)


class AccountSettings(_Strict):
    """Account checks beyond freshness: reposts and off-duty posts, interaction attestations, service menus,
    新媒体矩阵 pages."""

    posts_window: int = Field(default=20, ge=1, le=50)  # the last N posts the shares are counted over
    min_posts: int = Field(default=5, ge=1)  # fewer posts read: no share is judged
    repost_share: float = Field(default=0.5, gt=0, le=1)  # yellow above this share of reposts
    off_duty_share: float = Field(default=0.5, gt=0, le=1)  # yellow above this share of off-duty posts
    off_duty_keywords: tuple[str, ...] = DEFAULT_OFF_DUTY
    attestation_valid: _span("1d", "10y") = Duration(seconds=180 * 86400)  # an attestation is stale after
    interaction_interval: Interval = Duration(seconds=86400)
    service_menu_interval: Interval = Duration(seconds=86400)
    matrix_interval: Interval = Duration(seconds=86400)


BRIDGE_KINDS = ("rsshub", "wewe-rss", "we-mp-rss", "other")
# Where each kind of bridge says when it last synced (the path under its url, the field; see README "Bridges").
SYNC_DEFAULTS: dict[str, tuple[str | None, str | None]] = {
    "wewe-rss": ("feeds/", "syncTime"),  # GET /feeds/: each feed's syncTime (Unix seconds)
    "we-mp-rss": (None, "data.sync_time"),  # GET /api/v1/wx/mps/<mp id>: one 公众号's sync_time
}


class BridgeSettings(_Strict):
    """How bridges (RSSHub, wewe-rss, we-mp-rss: what accounts are read through) are watched apart from the
    accounts behind them."""

    interval: Interval = Duration(seconds=3600)  # each bridge is checked this often (and once at start)
    stale_sync: Age = Duration(seconds=2 * 86400)  # a last sync older than this: the bridge is stalled
    quiet: Age = Duration(seconds=3 * 86400)  # inferred stall: no account behind it advanced for this long…
    quiet_factor: float = Field(default=8, ge=2)  # …and for this many times the spacing of their last advances
    min_accounts: int = Field(default=3, ge=2)  # fewer accounts behind a bridge: no stall is inferred
    failing_share: float = Field(default=0.8, gt=0, le=1)  # this share of its accounts failing: the bridge fails


class SyncModel(_Strict):
    """Where a bridge says when it last synced: a JSON endpoint (a path under the bridge's url, or a URL) and the
    field that holds the time (a dotted path; over a list, the newest; Unix seconds, milliseconds or ISO)."""

    url: str | None = None
    field: str | None = None


class BridgeModel(_Strict):
    """A bridge offices run to read accounts (RSSHub, wewe-rss, we-mp-rss): the accounts whose source URL starts
    with its ``url`` are behind it. Without an entry, accounts are grouped by their source's address."""

    id: str = Field(pattern=_ID)
    kind: str = "other"
    url: str
    name: str | None = None  # as findings name it; default: its kind and address
    unit: str | None = None  # the unit that runs it (its receivers hear); default: settings.alerts.supervisor
    sync: SyncModel | None = None  # default: wewe-rss's GET /feeds/ syncTime
    headers: dict[str, HeaderValue] = {}  # for its sync endpoint (we-mp-rss's API takes a bearer token)
    stale_sync: Age | None = None  # default: settings.bridges.stale_sync
    quiet: Age | None = None  # default: settings.bridges.quiet

    _url = field_validator("url")(_check_url)
    _headers = field_validator("headers")(_check_headers)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in BRIDGE_KINDS:
            raise ValueError(f"unknown kind {quote(value)}; use one of {', '.join(BRIDGE_KINDS)}")
        return value

    @model_validator(mode="after")
    def _sync(self) -> BridgeModel:
        url, field = SYNC_DEFAULTS.get(self.kind, (None, None))
        if self.sync is not None and not (self.sync.url or url):
            raise ValueError(f"sync needs url: (a {self.kind} bridge has no default; e.g. /api/v1/wx/mps/MP_WXS_…)")
        if self.sync is not None and not (self.sync.field or field):
            raise ValueError("sync needs field: the dotted path of the last sync's time in its JSON (e.g. syncTime)")
        return self


CHECK_NAMES = ("availability", "links", "honest", "calendar", "messages", "interpretation", "interaction",
               "service_menu", "matrix", "bridges", "repost_share")


class RenderModel(_Strict):
    """The headless browser that reads columns marked ``render: browser`` (the optional govwatch[browser] extra and
    the system's Chromium). A field left out keeps the renderer's default (``monitor.render.RenderSettings``)."""

    chromium: str | None = None  # the browser's executable (default /usr/bin/chromium)
    pages: int | None = Field(default=None, ge=1, le=4)  # pages rendered at once (default 2)
    timeout: Timeout | None = None  # per page (default 30s)
    max_pages: int | None = Field(default=None, ge=1)  # a new browser after this many pages (default 200)
    max_memory_mb: int | None = Field(default=None, ge=200)  # ... or over this PSS, in MB (default 1024)
    max_age: _span("1min", "1d") | None = None  # ... or after this long (default 1h)
    idle: _span("1s", "1d") | None = None  # the renderer stops after this long without a page (default 2min)


class RetentionSettings(_Strict):
    """How long probes are kept whole (``monitor.store.retention``): column probes older than ``probes`` are
    reduced to the first and last probe of each run of identical results, availability probes once they leave
    the availability window. Verdict changes, items, findings and the notifications' trail are kept forever."""

    probes: Duration = Duration(seconds=90 * 86400)

    _parse = field_validator("probes", mode="before")(_duration)

    @model_validator(mode="after")
    def _range(self) -> RetentionSettings:
        if not 7 * 86400 <= self.probes.approx_seconds <= 3660 * 86400:
            raise ValueError(f"probes {self.probes} is outside 7d…10y: probes are kept whole at least a week "
                             "(what operators read on a column's page) and at most ten years")
        return self


class ClusterSettings(_Strict):
    """Several daemons on one PostgreSQL store (``monitor.daemon.cluster``): the hosts are split into ``buckets``
    leased to the daemons; each renews its leases every ``heartbeat`` and a lease not renewed for three heartbeats
    passes to the others. ``node`` names this daemon (``govwatch run --node`` overrides it; default: the
    machine's name and the board's port)."""

    node: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:@-]{1,64}$")
    heartbeat: Duration = Duration(seconds=10)
    buckets: int = Field(default=256, ge=1, le=4096)

    _parse = field_validator("heartbeat", mode="before")(_duration)

    @model_validator(mode="after")
    def _range(self) -> ClusterSettings:
        if not 1 <= self.heartbeat.approx_seconds <= 60:
            raise ValueError(f"heartbeat {self.heartbeat} is outside 1s…60s: a daemon's hosts pass to the others "
                             "three heartbeats after it stops")
        return self


class SettingsModel(_Strict):
    store: str = "govwatch.sqlite3"
    listen: str = Field(default="127.0.0.1:8470", pattern=r"^[^:\s]+:\d{1,5}$")
    board_url: str | None = None  # public address of the board, quoted in alerts
    token: str | None = Field(default=None, min_length=16)  # enables API writes (silences, outbox drops)
    # Live board streams (/events) held open at once; each holds a file descriptor, so above it a browser is
    # answered 503 (its board still shows, without live updates) and the board stays reachable.
    event_streams: int = Field(default=200, ge=1, le=5000)
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    extract_workers: int = Field(default=2, ge=0, le=64)  # processes parsing pages; 0 parses inline
    extract_time_limit: Timeout = Duration(seconds=10)  # a page taking longer is unreadable
    # How often the journal gets a summary line (probes, failures, targets per state, outbox; monitor.journal): at
    # least once a day, so the journal shows the daemon alive, and not so often that it floods.
    log_summary: _span("5s", "1d") = Duration(seconds=600)
    alerts: AlertSettings = AlertSettings()
    mqtt: MqttModel | None = None  # no broker configured: the daemon runs the same without MQTT
    accounts: AccountSettings = AccountSettings()
    bridges: BridgeSettings = BridgeSettings()
    fetch: FetchModel = FetchModel()
    availability: AvailabilitySettings = AvailabilitySettings()
    links: LinkSettings = LinkSettings()
    render: RenderModel = RenderModel()
    retention: RetentionSettings = RetentionSettings()
    # The checks beyond column freshness to run (of CHECK_NAMES); None runs them all.
    checks: tuple[str, ...] | None = None
    cluster: ClusterSettings | None = None  # several daemons sharing one PostgreSQL store; None: this one alone

    _checks = field_validator("checks")(_known("checks", CHECK_NAMES))

    @field_validator("listen")
    @classmethod
    def _port(cls, value: str) -> str:
        port = int(value.rsplit(":", 1)[1])
        if port > 65535:
            raise ValueError(f"port {port} is outside 0…65535; write host:port, e.g. 127.0.0.1:8470 (0: any free port)")
        return value

    @model_validator(mode="after")
    def _cluster_store(self) -> SettingsModel:
        if self.cluster is not None and not self.store.startswith(("postgresql://", "postgres://")):
            raise ValueError("cluster needs a PostgreSQL store (settings.store: postgresql://…): the daemons share "
                             "their work and state through it")
        return self


class InventoryModel(_Strict):
    settings: SettingsModel = SettingsModel()
    categories: dict[str, CategoryModel] = {}
    ladders: dict[str, tuple[LadderStep, ...]] = {}  # per category: who is told on which day
    units: tuple[UnitModel, ...] = ()
    sites: tuple[SiteModel, ...] = ()
    accounts: tuple[AccountModel, ...] = ()
    bridges: tuple[BridgeModel, ...] = ()
