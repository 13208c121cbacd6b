"""Homepage availability (站点无法访问): the pure rules at the top — one probe's class, the rolling window,
debounce, certificate problems and defacement, and the findings they make, everything taking ``now`` —
and the check (``AvailabilityCheck``) at the bottom.

The national rule (国办秘函〔2019〕19号) probes the homepage at least 20 times a day over a week and counts
the share still not open after 15 s; 5 % fails the site. Only real failures count: a WAF challenging
govwatch (安全狗, 创宇盾/加速乐, 360网站卫士, Cloudflare, 瑞数 412 …) is *blocked*, and a certificate problem
on a server that answers is *tls*: each is its own finding, never "down".

Each run of the check GETs the homepage through the fetcher (its own timeout, the rule's 15 s), reads an
https site's certificate, classifies the probe, stores it (``health_probes``: the rolling window survives a
restart) and reports what it sees: the window's failure share and the debounced down state
(``availability``, ``dns``), a WAF challenging govwatch (``blocked``), certificate problems (``tls``) and a
replaced homepage (``defaced``). Before a failure counts against a site, govwatch checks its own network
(the canaries, or the share of sites failing in the same round): cut off, it reports that once as subject
``govwatch`` and leaves every site as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import ssl
import statistics
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import structlog
from selectolax.lexbor import LexborHTMLParser
from yarl import URL

from monitor.checks.base import Context, Subject
from monitor.checks.page import page_text
from monitor.findings import GOVWATCH, Finding
from monitor.model import FetchError, FetchResult, State
from monitor.records import HealthProbeRecord
from monitor.tls import tls_context

if TYPE_CHECKING:
    from monitor.config import Inventory

__all__ = [
    "AvailabilityCheck",
    "Baseline",
    "CertFacts",
    "CertProblem",
    "Kind",
    "Outcome",
    "SiteRef",
    "Window",
    "availability_findings",
    "blocked_findings",
    "cert_facts",
    "cert_problems",
    "classify",
    "debounce",
    "defaced_finding",
    "detect_waf",
    "examine_page",
    "host_matches",
    "read_certificate",
    "record",
    "share_cut_off",
    "tls_findings",
]


class Kind(StrEnum):
    OK = "ok"
    DOWN = "down"  # timeout, connection refused or reset, HTTP 4xx/5xx, redirect loop, failed TLS handshake
    DNS = "dns"  # the name does not resolve: the site is down for everyone, with its own finding
    BLOCKED = "blocked"  # a WAF answered instead of the site: govwatch is challenged, the site is not down
    TLS = "tls"  # the server answers but its certificate does not verify: the certificate's finding says why


FAILED = (Kind.DOWN, Kind.DNS)
ERROR_LABELS = {
    "timeout": "超时", "connect": "连接失败", "http_5xx": "服务器错误", "http_4xx": "页面错误", "dns": "域名解析失败",
    "tls_handshake": "加密连接失败", "redirect_loop": "重定向循环", "invalid_url": "地址无效", "blocked": "被拦截",
    "tls": "证书错误", "blocked_address": "跳转至内网地址",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Kind
    error: str | None = None  # the class stored with the probe (a key of ERROR_LABELS)
    detail: str = ""  # Chinese, for findings
    waf: str | None = None  # the product whose challenge or block page answered

    @property
    def failed(self) -> bool:
        return self.kind in FAILED


# ---------------------------------------------------------------- WAF challenge and block pages

# Products seen in front of Chinese government sites, by what their challenge or block pages carry.
_WAFS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("瑞数", re.compile(r"\$_ts\s*=\s*window\[|\$_ts\.(?:nsd|cd)\s*=")),
    ("知道创宇（加速乐/创宇盾）", re.compile(r"__jsl_clearance|__jsluid|创宇盾|jiasule|yunaq\.com", re.I)),
    ("360网站卫士", re.compile(r"wzws(?:question|challenge|confusion|_cid|cid)|/WZWSRE|网站卫士", re.I)),
    ("安全狗", re.compile(r"safedog|安全狗", re.I)),
    ("Cloudflare", re.compile(r"<title>\s*Just a moment\.\.\.|cf-browser-verification|/cdn-cgi/challenge-platform|"
                              r"cf_chl_opt|Attention Required! \| Cloudflare", re.I)),
    ("阿里云WAF", re.compile(r"acw_sc__v2|aliyun_waf|errors\.aliyun\.com|阿里云\s*Web\s*应用防火墙", re.I)),
    ("腾讯云WAF", re.compile(r"waf\.tencent-cloud\.com|腾讯云\s*Web\s*应用防火墙|T-Sec\s*Web", re.I)),
    ("云锁", re.compile(r"yunsuo_session_verify|security_verify_data|云锁")),
    ("长亭雷池", re.compile(r"SafeLine|雷池")),
    ("D盾", re.compile(r"D盾|D_Shield")),
    ("护卫神", re.compile(r"护卫神")),
)
_BLOCK_TEXT = re.compile(r"访问(?:已)?被(?:拦截|阻断|禁止)|已被(?:网站管理员设置)?拦截|请求(?:已)?被(?:拦截|阻断)|"
                         r"疑似(?:黑客)?攻击|网站防火墙|人机验证|滑动验证|安全验证")
_SETS_COOKIE = re.compile(r"document\.cookie\s*=")
_RELOADS = re.compile(r"location(?:\.href)?\s*=|location\.(?:reload|replace|assign)\s*\(")
CHALLENGE_TEXT_MAX = 300  # a challenge page shows a line or two; a homepage shows far more


def _visible(html: str) -> tuple[str, str]:
    """(title, readable text) of a page."""
    tree = LexborHTMLParser(html)
    title = tree.css_first("title")
    return (" ".join(title.text().split()) if title else ""), " ".join(page_text(tree).split())


def detect_waf(html: str | None, status: int | None) -> tuple[bool, str | None]:
    """Whether a page is a WAF's challenge or block page, and the product when it says.

    Error answers (4xx/5xx, including 加速乐's 521) are judged on their body alone; a 2xx answer only when its
    readable text is as short as a challenge page's, so a real homepage mentioning 安全验证 is never blocked.
    """
    if not html:
        return False, None
    product = next((name for name, pattern in _WAFS if pattern.search(html)), None)
    challenge = bool(_SETS_COOKIE.search(html) and _RELOADS.search(html))
    blocked_text = bool(_BLOCK_TEXT.search(html))
    if not (product or challenge or blocked_text):
        return False, None
    if status is not None and status >= 400:
        return True, product
    return len(_visible(html)[1]) <= CHALLENGE_TEXT_MAX, product


def classify(result: FetchResult, cert_read: bool = False) -> Outcome:
    """One homepage probe: ok, down, dns, blocked (a WAF answered) or tls (a certificate that does not verify on a
    server that answers; ``cert_read`` says the certificate could be read without verification)."""
    if result.error is None or result.error in (FetchError.TOO_LARGE, FetchError.DECODE):
        blocked, waf = detect_waf(result.text, result.status)
        if blocked:
            return Outcome(Kind.BLOCKED, "blocked", f"HTTP {result.status} 验证页面（{waf or '未知防火墙'}）", waf)
        return Outcome(Kind.OK)
    if result.error is FetchError.HTTP_STATUS:
        status = result.status or 0
        blocked, waf = detect_waf(result.text, status)
        if blocked or status in (412, 429):
            what = waf or ("瑞数等动态防护" if status == 412 else "访问频率限制" if status == 429 else "未知防火墙")
            return Outcome(Kind.BLOCKED, "blocked", f"HTTP {status} 拦截或验证页面（{what}）", waf)
        error = "http_5xx" if status >= 500 else "http_4xx"
        return Outcome(Kind.DOWN, error, f"{ERROR_LABELS[error]}（HTTP {status}）")
    if result.error is FetchError.DNS:
        return Outcome(Kind.DNS, "dns", f"{ERROR_LABELS['dns']}（{result.detail}）")
    if result.error is FetchError.TLS:
        if cert_read:
            return Outcome(Kind.TLS, "tls", f"{ERROR_LABELS['tls']}（{result.detail}）")
        return Outcome(Kind.DOWN, "tls_handshake", f"{ERROR_LABELS['tls_handshake']}（{result.detail}）")
    error = {FetchError.TIMEOUT: "timeout", FetchError.TOO_MANY_REDIRECTS: "redirect_loop",
             FetchError.INVALID_URL: "invalid_url", FetchError.BLOCKED_ADDRESS: "blocked_address"}.get(
        result.error, "connect")
    return Outcome(Kind.DOWN, error, f"{ERROR_LABELS[error]}（{result.detail}）")


def record(subject: str, outcome: Outcome, result: FetchResult, now: datetime) -> HealthProbeRecord:
    """The stored probe: ``ok`` is False only for a failure that counts against the site."""
    return HealthProbeRecord(subject, now, not outcome.failed, outcome.error, result.status,
                             round(result.elapsed_ms, 1))


# ---------------------------------------------------------------- the rolling window and debounce


@dataclass(slots=True)
class Window:
    """A site's probes over the last ``span``, oldest first."""

    span: timedelta
    probes: deque[HealthProbeRecord] = field(default_factory=deque)

    def add(self, probe: HealthProbeRecord, now: datetime) -> None:
        self.probes.append(probe)
        self.prune(now)

    def prune(self, now: datetime) -> None:
        start = now - self.span
        while self.probes and self.probes[0].at < start:
            self.probes.popleft()

    def failures(self) -> list[HealthProbeRecord]:
        return [p for p in self.probes if not p.ok]

    def ratio(self, expected: int) -> float:
        """The failed share, counted against at least ``expected`` probes (the window's full count at the
        configured interval): a young window never turns red on a handful of failures, and failures already
        past the line stay past it whatever the rest of the week brings."""
        return len(self.failures()) / max(len(self.probes), expected, 1)


def debounce(failed: Iterable[bool], down_after: int, up_after: int) -> tuple[bool, int]:
    """Fold a probe sequence from "up": down after ``down_after`` failures in a row, up again after ``up_after``
    successes in a row. Returns (down, how many probes the current streak of the same result has)."""
    down, streak, last = False, 0, None
    for bad in failed:
        streak = streak + 1 if bad == last else 1
        last = bad
        if not down and bad and streak >= down_after:
            down = True
        elif down and not bad and streak >= up_after:
            down = False
    return down, streak


def share_cut_off(latest: Mapping[str, tuple[datetime, bool]], now: datetime, round_s: float, share: float,
                  min_sites: int) -> tuple[bool, int, int]:
    """Whether so many sites failed within the last round that the fault is govwatch's own network.
    ``latest`` maps each site to (when, failed) of its last probe. Returns (cut off, failed, sites)."""
    recent = [failed for at, failed in latest.values() if (now - at).total_seconds() <= round_s]
    bad = sum(recent)
    return len(recent) >= min_sites and bad >= share * len(recent), bad, len(recent)


# ---------------------------------------------------------------- findings


@dataclass(frozen=True, slots=True)
class SiteRef:
    id: str
    name: str
    unit_id: str
    homepage: str


def _pct(value: float) -> str:
    return f"{value * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _finding(site: SiteRef, check: str, key: str, severity: State, title: str, detail: str,
             evidence: Mapping[str, object]) -> Finding:
    return Finding(check, site.id, key, severity, title, site.unit_id, site.id, site.homepage, detail, evidence)


def availability_findings(site: SiteRef, window: Window, expected: int, yellow: float, red: float,
                          down_after: int, up_after: int, days: float) -> list[Finding]:
    """The window's share of failures (yellow from ``yellow``, red from ``red``) and, by debounce, whether the
    site is down now: a DNS failure says so as its own finding."""
    found: list[Finding] = []
    failures = window.failures()
    ratio = window.ratio(expected)
    by_error: dict[str, int] = {}
    for p in failures:
        by_error[p.error or "connect"] = by_error.get(p.error or "connect", 0) + 1
    span = f"{days:g}天"
    if ratio >= yellow:
        severity = State.RED if ratio >= red else State.YELLOW
        title = (f"首页近{span}无法访问比例已达{_pct(red)}（站点无法访问）" if severity is State.RED
                 else f"首页近{span}无法访问比例已达{_pct(yellow)}，接近{_pct(red)}")
        causes = "、".join(f"{ERROR_LABELS.get(e, e)} {n} 次" for e, n in sorted(by_error.items(), key=lambda x: -x[1]))
        counted = f"（按{span}应探测的 {expected} 次计）" if len(window.probes) < expected else ""
        detail = (f"近{span}探测 {len(window.probes)} 次，{len(failures)} 次未能打开（{causes}），"
                  f"比例 {ratio:.1%}{counted}；达到 {_pct(red)} 即单项否决")
        found.append(_finding(site, "availability", "ratio", severity, title, detail, {
            "ratio": round(ratio, 4), "failures": len(failures), "probes": len(window.probes), "expected": expected,
            "by_error": by_error}))
    down, streak = debounce((not p.ok for p in window.probes), down_after, up_after)
    if down:
        last = failures[-1] if failures else None
        since = window.probes[-streak].at if window.probes and not window.probes[-1].ok else None
        cause = ERROR_LABELS.get(last.error or "", "失败") if last else "失败"
        detail = (f"自 {since:%m-%d %H:%M} 起连续 {streak} 次未能打开，最近一次：{cause}" if since
                  else f"恢复后已连续成功 {streak} 次，仍待确认")
        evidence = {"streak": streak, "since": since.isoformat() if since else None,
                    "error": last.error if last else None}
        if last is not None and last.error == "dns":
            found.append(_finding(site, "dns", "dns", State.YELLOW, "域名解析失败，站点无法访问", detail, evidence))
        else:
            found.append(_finding(site, "availability", "down", State.YELLOW, "站点当前无法访问", detail, evidence))
    return found


def blocked_findings(site: SiteRef, window: Window, down_after: int, up_after: int, waf: str | None) -> list[Finding]:
    """govwatch challenged or blocked by a WAF ``down_after`` times in a row (until ``up_after`` clean answers)."""
    blocked, streak = debounce((p.error == "blocked" for p in window.probes), down_after, up_after)
    if not blocked:
        return []
    if window.probes[-1].error == "blocked":
        detail = (f"最近 {streak} 次访问首页均被{waf or '防火墙'}拦截或要求验证（JavaScript/Cookie 挑战），"
                  "网站本身可能正常；请网站运维将监测系统的出口 IP 加入白名单")
    else:
        detail = f"拦截已解除 {streak} 次，仍待确认"
    return [_finding(site, "blocked", "waf", State.YELLOW, "监测访问被网站防火墙拦截，需加入白名单", detail,
                     {"waf": waf, "streak": streak})]


# ---------------------------------------------------------------- certificates

# OpenSSL X509_V_ERR_* codes that mean the chain could not be built to a trusted root.
_CHAIN = {2: "无法取得签发者证书", 20: "证书链不完整或签发机构不受信任", 21: "证书链不完整（无法验证签名）"}
_SELF_SIGNED = {18: "自签名证书", 19: "证书链中含自签名根证书"}
_COVERED = {9, 10, 62, 64}  # not yet valid, expired, host name, IP address: judged from the certificate itself


@dataclass(frozen=True, slots=True)
class CertFacts:
    """What the server's certificate says, and how verification failed (``verify_code`` None: it passed)."""

    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    verify_code: int | None = None
    verify_message: str | None = None

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400


@dataclass(frozen=True, slots=True)
class CertProblem:
    key: str  # expired | not_yet_valid | name | chain | self_signed | verify | expiring
    severity: State
    title: str
    detail: str


def cert_facts(der: bytes, verify_code: int | None = None, verify_message: str | None = None) -> CertFacts:
    """Read a DER certificate (cryptography)."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID

    cert = x509.load_der_x509_certificate(der)

    def cn(name: x509.Name) -> str:
        attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else name.rfc4514_string()

    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        pass
    return CertFacts(cn(cert.subject), cn(cert.issuer), cert.not_valid_before_utc, cert.not_valid_after_utc,
                     dns, ips, verify_code, verify_message)


def host_matches(host: str, facts: CertFacts) -> bool:
    """RFC 6125 matching as OpenSSL does it for Python: an IP against IP entries; a name against DNS entries
    (a ``*.`` wildcard covers one left-most label), or the subject CN when there are none."""
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return any(ipaddress.ip_address(a) == ip for a in facts.ip_addresses)
    names = facts.dns_names or ((facts.subject,) if not facts.ip_addresses else ())
    for name in (n.lower().rstrip(".") for n in names):
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def cert_problems(facts: CertFacts, host: str, now: datetime, warn: timedelta) -> list[CertProblem]:
    """Every problem of a homepage's certificate; ``warn`` before expiry it is yellow."""
    problems: list[CertProblem] = []
    end = facts.not_after.astimezone(now.tzinfo).strftime("%Y-%m-%d %H:%M")
    days = facts.days_left(now)
    if now >= facts.not_after:
        problems.append(CertProblem("expired", State.RED, "网站证书已过期",
                                    f"证书于 {end} 到期，已过期 {-days:.0f} 天；浏览器会提示连接不安全"))
    elif now < facts.not_before:
        start = facts.not_before.astimezone(now.tzinfo).strftime("%Y-%m-%d %H:%M")
        problems.append(CertProblem("not_yet_valid", State.RED, "网站证书尚未生效", f"证书自 {start} 起生效"))
    elif days <= warn.total_seconds() / 86400:
        problems.append(CertProblem("expiring", State.YELLOW, "网站证书即将到期",
                                    f"证书将于 {end} 到期，剩余 {days:.0f} 天，请及时续期"))
    if not host_matches(host, facts):
        listed = "、".join(facts.dns_names + facts.ip_addresses) or facts.subject
        problems.append(CertProblem("name", State.RED, "网站证书与域名不匹配",
                                    f"访问的是 {host}，证书只适用于 {listed}"))
    code = facts.verify_code
    if code in _CHAIN:
        problems.append(CertProblem("chain", State.RED, "网站证书链不完整或签发机构不受信任",
                                    f"{_CHAIN[code]}（签发者：{facts.issuer}）；请在服务器上配置完整的中间证书"))
    elif code in _SELF_SIGNED:
        problems.append(CertProblem("self_signed", State.RED, "网站使用自签名证书",
                                    f"{_SELF_SIGNED[code]}（签发者：{facts.issuer}），浏览器不信任"))
    elif code is not None and (code not in _COVERED or not problems):
        problems.append(CertProblem("verify", State.RED, "网站证书校验失败",
                                    f"{facts.verify_message}（错误码 {code}）"))
    return problems


def tls_findings(site: SiteRef, problems: Sequence[CertProblem], facts: CertFacts, host: str,
                 now: datetime) -> list[Finding]:
    evidence = {"host": host, "subject": facts.subject, "issuer": facts.issuer,
                "not_after": facts.not_after.isoformat(), "days_left": round(facts.days_left(now), 1),
                "names": list(facts.dns_names + facts.ip_addresses), "verify_code": facts.verify_code}
    return [_finding(site, "tls", p.key, p.severity, p.title, p.detail, evidence) for p in problems]


# ---------------------------------------------------------------- defacement and parked pages

BASELINE_SAMPLES = 12  # the usual size is the median of the last normal probes (2 hours at 10 minutes)
BASELINE_MIN = 3
SMALL_PAGE_TEXT = 2000  # replaced pages (parked, default, hacked) are short; a real homepage says much more
_PARKED = re.compile(
    r"domain\s+(?:name\s+)?(?:is\s+)?(?:for\s+sale|parked|has\s+expired)|buy\s+this\s+domain|sedoparking|parkingcrew|"
    r"bodis\.com|hugedomains|域名(?:正在)?(?:出售|转让|停放)|域名已(?:过期|到期)|此域名(?:可以|正在)?出售|"
    r"welcome\s+to\s+nginx|apache2?\s+(?:\w+\s+)?default\s+page|\bit\s+works!|iis\s+windows\s+server|"
    r"test\s+page\s+for\s+the\s+(?:nginx|apache)|站点创建成功|网站建设中|网站(?:已)?(?:暂停|停止)(?:访问|服务)|"
    r"网站暂时无法访问|未(?:按规定)?(?:进行)?备案", re.I)
_HACKED = re.compile(r"h[a4]ck[e3]d\s+by|this\s+site\s+(?:has\s+been|was)\s+hacked|被黑了|黑客联盟", re.I)
_NAME_SUFFIX = re.compile(r"(?:门户网站|官方网站|政府网站|网站|官网|门户|网)$")


@dataclass(slots=True)
class Baseline:
    """What a site's homepage usually is: its size and whether it names the site."""

    sizes: deque[int] = field(default_factory=lambda: deque(maxlen=BASELINE_SAMPLES))
    name_seen: bool = False

    @property
    def usual(self) -> int | None:
        return int(statistics.median(self.sizes)) if len(self.sizes) >= BASELINE_MIN else None


@dataclass(frozen=True, slots=True)
class PageCheck:
    reasons: tuple[str, ...]  # Chinese; empty for a normal page
    size: int
    has_name: bool


def _name_forms(name: str) -> tuple[str, ...]:
    core = _NAME_SUFFIX.sub("", name)
    return (name, core) if len(core) >= 2 and core != name else (name,)


def examine_page(html: str, size: int, site_name: str, baseline: Baseline, ratio: float) -> PageCheck:
    """Whether a fetched homepage looks replaced: a parked, default or hacked page, far smaller than usual
    (under ``ratio`` of it), or no longer naming the site. A normal page updates ``baseline``."""
    title, text = _visible(html)
    has_name = any(form in text for form in _name_forms(site_name))
    reasons: list[str] = []
    short = len(text) <= SMALL_PAGE_TEXT
    if (m := _HACKED.search(title) or (_HACKED.search(text) if short else None)) is not None:
        reasons.append(f"页面出现篡改标记「{m.group(0)}」")
    if (m := _PARKED.search(title) or (_PARKED.search(text) if short else None)) is not None:
        reasons.append(f"页面为域名停放、默认或停止服务页面（「{m.group(0)}」）")
    usual = baseline.usual
    if usual is not None and size < usual * ratio:
        reasons.append(f"页面大小 {size} 字节，不到平常（{usual} 字节）的 {_pct(ratio)}")
    if baseline.name_seen and not has_name:
        reasons.append(f"页面不再包含网站名称「{site_name}」")
    if not reasons:
        baseline.sizes.append(size)
        baseline.name_seen = baseline.name_seen or has_name
    return PageCheck(tuple(reasons), size, has_name)


def defaced_finding(site: SiteRef, check: PageCheck, baseline: Baseline) -> list[Finding]:
    """The finding keeps the baseline in its evidence, so a restart compares with the page as it was."""
    if not check.reasons:
        return []
    return [_finding(site, "defaced", "homepage", State.RED, "首页疑似被篡改或停放", "；".join(check.reasons),
                     {"size": check.size, "usual_bytes": baseline.usual, "name_seen": baseline.name_seen,
                      "reasons": list(check.reasons)})]


# ------------------------------------------------------------------------------------------ the check


log = structlog.get_logger()

CANARY_TTL_S = 60.0  # one canary round answers for every site failing within a minute
ERROR_BODY = 64 * 1024  # enough of an error answer to recognise a WAF's page
ROUND = 1.5  # one round: every site's latest probe within this many intervals (they are spread and jittered)


@dataclass(slots=True)
class _Site:
    window: Window
    baseline: Baseline


class AvailabilityStore(Protocol):
    async def health_probes(self, subject: str, since: datetime) -> list[HealthProbeRecord]: ...


class AvailabilityCheck:
    name = "availability"
    produces = ("availability", "blocked", "tls", "dns", "defaced")

    def __init__(self, inventory: Inventory) -> None:
        settings = inventory.settings
        self.settings = settings.availability
        self.ca_file = settings.fetch.ca_file
        self.owner = settings.alerts.supervisor or ""  # who hears that govwatch itself is cut off
        self.cert_days: dict[str, tuple[str, float]] = {}  # site id → (unit id, days to expiry), for metrics
        self._sites: dict[str, _Site] = {}
        self._latest: dict[str, tuple[datetime, bool]] = {}  # site id → (when, failed) of its last probe
        self._canary: tuple[datetime, bool] | None = None
        self._canary_lock = asyncio.Lock()
        self._cut_off: bool | None = None

    def subjects(self, inventory: Inventory) -> list[Subject]:
        interval = float(self.settings.interval.seconds)
        return [Subject(site.id, interval, site.unit, site.id,
                        SiteRef(site.id, site.name, site.unit, site.homepage))
                for site in inventory.model.sites]

    async def run(self, subject: Subject, ctx: Context[AvailabilityStore], now: datetime) -> Sequence[Finding] | None:
        site: SiteRef = subject.data
        s = self.settings
        timeout = float(s.timeout.seconds)
        result = await ctx.fetcher.fetch(site.homepage, timeout_s=timeout, error_body=ERROR_BODY)
        tls_url = _tls_url(site.homepage, result.final_url, result.error)
        unreachable = result.error in (FetchError.DNS, FetchError.CONNECT, FetchError.TIMEOUT)
        cert = await read_certificate(tls_url, timeout, self.ca_file) if tls_url and not unreachable else None
        outcome = classify(result, cert_read=cert is not None)
        self._latest[site.id] = (now, outcome.failed)
        # A failure may be govwatch's own; while cut off, every answer is a chance to see it come back.
        if outcome.failed or self._cut_off is not False:
            cut_off = await self._govwatch_cut_off(ctx, now)
            if cut_off and outcome.failed:
                return None
        state = await self._site(site, ctx, now)
        probe = record(site.id, outcome, result, now)
        state.window.add(probe, now)
        ctx.record(probe)

        window_s = s.window.seconds
        found = availability_findings(site, state.window, int(window_s // s.interval.seconds), s.yellow_ratio,
                                      s.red_ratio, s.down_after, s.up_after, window_s / 86400)
        found += blocked_findings(site, state.window, s.down_after, s.up_after, outcome.waf)
        if cert is not None:
            host = URL(tls_url).host or ""
            warn = timedelta(seconds=s.cert_warn.seconds)
            found += tls_findings(site, cert_problems(cert, host, now, warn), cert, host, now)
            self.cert_days[site.id] = (site.unit_id, cert.days_left(now))
        elif tls_url is None:
            self.cert_days.pop(site.id, None)
        else:
            found += ctx.known("tls", site.id)  # the certificate could not be read now
        if outcome.kind is Kind.OK and result.text is not None:
            page = examine_page(result.text, result.body_bytes, site.name, state.baseline, s.defaced_ratio)
            found += defaced_finding(site, page, state.baseline)
        else:
            found += ctx.known("defaced", site.id)  # the page was not seen now
        return found

    async def _site(self, site: SiteRef, ctx: Context[AvailabilityStore], now: datetime) -> _Site:
        """The site's window, read back from the store once, and its homepage baseline."""
        state = self._sites.get(site.id)
        if state is None:
            span = timedelta(seconds=self.settings.window.seconds)
            probes = await ctx.store.health_probes(site.id, now - span)
            state = self._sites[site.id] = _Site(Window(span, deque(probes)), _baseline(ctx.known("defaced", site.id)))
        return state

    # ------------------------------------------------------------ govwatch's own network

    async def _govwatch_cut_off(self, ctx: Context[AvailabilityStore], now: datetime) -> bool:
        s = self.settings
        if s.canaries:
            cut = not await self._canaries_reachable(ctx, now)
            detail = f"{len(s.canaries)} 个对照网址均无法访问（{'、'.join(s.canaries)}）"
        else:
            cut, bad, total = share_cut_off(self._latest, now, ROUND * s.interval.seconds, s.cutoff_share,
                                            s.cutoff_min_sites)
            detail = f"最近一轮 {total} 个网站中 {bad} 个同时无法访问"
        self._network(ctx, now, cut, detail)
        return cut

    async def _canaries_reachable(self, ctx: Context[AvailabilityStore], now: datetime) -> bool:
        """Any HTTP answer from any canary means govwatch's network works; one round serves a minute."""
        async with self._canary_lock:
            if self._canary is not None and (now - self._canary[0]).total_seconds() < CANARY_TTL_S:
                return self._canary[1]
            timeout = float(self.settings.timeout.seconds)
            results = await asyncio.gather(*(ctx.fetcher.fetch(url, timeout_s=timeout)
                                             for url in self.settings.canaries))
            reachable = any(r.status is not None for r in results)
            self._canary = (now, reachable)
            return reachable

    def _network(self, ctx: Context[AvailabilityStore], now: datetime, cut_off: bool, detail: str) -> None:
        """Report govwatch's own connectivity when it changes (and once after a start, to clear an old one)."""
        if cut_off == self._cut_off:
            return
        self._cut_off = cut_off
        detail = f"{detail}；网络恢复前各网站的可用性不作判断，也不发站点无法访问预警"
        found = [Finding("availability", GOVWATCH, "network", State.RED, "监测系统自身网络中断", self.owner,
                         detail=detail)] if cut_off else []
        if cut_off:
            log.warning("govwatch_cut_off", detail=detail)
        ctx.report("availability", GOVWATCH, found, now)


def _tls_url(homepage: str, final_url: str, error: FetchError | None) -> str | None:
    """Where to read a certificate: the https page the GET ended on, or the homepage's host over https when an
    http homepage failed on TLS (its redirect went to https)."""
    for url in (final_url, homepage):
        if url.startswith("https://"):
            return url
    if error is FetchError.TLS:
        return str(URL(homepage).with_scheme("https").with_port(None))
    return None


def _baseline(defaced: Sequence[Finding]) -> Baseline:
    """A homepage held as defaced before a restart is compared with the page as it was then."""
    baseline = Baseline()
    for finding in defaced:
        usual = finding.evidence.get("usual_bytes")
        if usual:
            baseline.sizes.extend([int(usual)] * BASELINE_MIN)
        baseline.name_seen = bool(finding.evidence.get("name_seen"))
    return baseline


async def _peer_certificate(host: str, port: int, context: ssl.SSLContext, timeout_s: float) -> bytes:
    async with asyncio.timeout(timeout_s):
        _, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host,
                                                  ssl_handshake_timeout=timeout_s)
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return der


async def read_certificate(url: str, timeout_s: float, ca_file: str | None = None) -> CertFacts | None:
    """The server's certificate, verified against the system's CAs (and ``ca_file``); when verification
    fails, read again without it to say why. None when no TLS handshake completes at all."""
    u = URL(url)
    host, port = u.host or "", u.port or 443
    try:
        return cert_facts(await _peer_certificate(host, port, tls_context(ca_file), timeout_s))
    except ssl.SSLCertVerificationError as exc:
        code, message = exc.verify_code, exc.verify_message
    except (OSError, TimeoutError, ValueError):
        return None
    insecure = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    try:
        return cert_facts(await _peer_certificate(host, port, insecure, timeout_s), code, message)
    except (OSError, TimeoutError, ValueError):
        return None
