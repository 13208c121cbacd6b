"""Plain data passed between govwatch's layers.

Every layer speaks in these types: the fetcher returns a ``FetchResult``, the list-page
extractor a ``ListResult``, a probe combines both into an ``Observation``, and the
evaluator turns observations into a ``Verdict``. All are immutable so the pure core can
be tested without a network or a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from monitor.rules import Rule


class State(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    UNKNOWN = "unknown"


class TargetKind(StrEnum):
    """What a target is. Stored, exported and published as these strings."""

    COLUMN = "column"  # a column's list page
    HOMEPAGE = "homepage"  # a site's homepage
    ACCOUNT = "account"  # a new-media account's feed


class FetchError(StrEnum):
    """Why a fetch produced no usable body. Stored and exported as these strings."""

    TIMEOUT = "timeout"
    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    HTTP_STATUS = "http_status"
    TOO_LARGE = "too_large"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    DECODE = "decode"
    INVALID_URL = "invalid_url"
    RENDER = "render"  # the headless browser failed (would not start, crashed, a script error), not the site
    # A redirect or DNS answer led into loopback, private or link-local space (monitor.addresses): never read
    BLOCKED_ADDRESS = "blocked_address"


class EmptyReason(StrEnum):
    """Why a fetched list page yields no newest date."""

    EMPTY = "empty"  # the column says 暂无信息 or its list is empty
    JS_RENDERED = "js_rendered"  # the list is built by JavaScript; never guess
    NO_LIST = "no_list"  # no repeated list of links found at all
    NO_DATES = "no_dates"  # a list was found but none of its items carries a date
    # A new-media source served no usable feed: a bridge error page, a captcha, HTML where a feed
    # was expected, broken XML, an empty feed. The account's freshness is unknown, never red.
    SOURCE_FAULT = "source_fault"
    # A column marked ``render: browser`` where no browser can render it (the optional govwatch[browser] or
    # Chromium is not installed): unknown with what is missing, never a guess from the unrendered page.
    NEEDS_BROWSER = "needs_browser"


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    final_url: str
    elapsed_ms: float
    status: int | None = None  # HTTP status, None when no response arrived
    text: str | None = None  # decoded body; None on failure or 304
    charset: str | None = None  # the charset actually used to decode
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False  # a 304 answer to a conditional GET
    error: FetchError | None = None
    detail: str | None = None  # human-readable detail of the error
    body_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Item:
    title: str
    url: str
    date: date | None
    pinned: bool = False
    repost: bool | None = None  # an account's post that reposts another's; None: its source does not say
    off_duty: bool | None = False  # an account's post off its duties (weather, …); None: it says too little to tell


@dataclass(frozen=True, slots=True)
class ListResult:
    """What the extractor read from one list page."""

    newest_date: date | None
    items: tuple[Item, ...] = ()
    reason: EmptyReason | None = None  # set when newest_date is None
    # A short stable fingerprint of where the main list sits in the page (tag path and
    # classes). When it changes between probes the template changed: its own finding.
    signature: str | None = None
    # When no list or no date could be read: the override (list, date, date_format) that reads the most
    # list-like candidate, as an inventory line (monitor.list_override.Override.as_yaml).
    suggestion: str | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """One probe of one target, as stored (``suggestion`` is kept in memory only, for the board)."""

    target_id: str
    at: datetime  # timezone-aware
    fetch_ms: float
    http_status: int | None = None
    error: FetchError | None = None
    detail: str | None = None
    not_modified: bool = False
    newest_date: date | None = None
    reason: EmptyReason | None = None
    signature: str | None = None
    content_hash: str | None = None
    items: tuple[Item, ...] = field(default=())
    suggestion: str | None = None
    final_url: str | None = None  # where the page was read (or refused) after redirects, when not at its own URL

    @property
    def fetched(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Secret:
    """A value read from the environment or a credentials file (a bridge's bearer token): compared by value,
    never shown — its repr and str are masked, so no log line, error, page, metric or event carries it."""

    value: str

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


Headers = tuple[tuple[str, Secret], ...]


@dataclass(frozen=True, slots=True)
class Target:
    """One thing probed on its own schedule: a column list page, a site's homepage or a new-media account.

    An account's ``site_id`` is ``nm-<unit id>`` and its ``site_name`` 政务新媒体: the board, alerts and
    metrics group a unit's accounts like a site's columns.
    """

    id: str
    kind: TargetKind
    name: str
    url: str
    site_id: str
    site_name: str
    unit_id: str
    unit_name: str
    rule: Rule
    # "list" | "select:<override>" | "mapped:<mapping>" | "feed" | "json:<mapping>" (extract_pool.parse_page)
    parser: str = "list"
    headers: Headers = ()  # sent with each fetch of ``url`` (an account source's credentials)
    bridge: str | None = None  # an account's bridge (RSSHub, wewe-rss, …): monitor.config.bridges
    render: bool = False  # a column whose list is built by script (``render: browser``): read through the browser
    json_url: str | None = None  # a column's JSON source (``source: {kind: json}``): read instead of ``url``

    @property
    def read_url(self) -> str:
        """Where a probe reads the list: the column's JSON source when it has one, else ``url``."""
        return self.json_url or self.url

    @property
    def host(self) -> str:
        return self.read_url.split("/", 3)[2].lower()
