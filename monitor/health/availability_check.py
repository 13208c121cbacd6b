"""The availability check: every site's homepage probed on its own schedule (the I/O shell around
``monitor.health.availability``).

Each run GETs the homepage through the monitor's fetcher (its own timeout, the rule's 15 s), reads an https
site's certificate, classifies the probe, stores it (``health_probes``: the rolling window survives a
restart) and reports what it sees: the window's failure share and the debounced down state
(``availability``, ``dns``), a WAF challenging govwatch (``blocked``), certificate problems (``tls``) and a
replaced homepage (``defaced``). Before a failure counts against a site, govwatch checks its own network
(the canaries, or the share of sites failing in the same round): cut off, it reports that once as subject
``govwatch`` and leaves every site as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from yarl import URL

from monitor.checks import Subject
from monitor.fetch import tls_context
from monitor.findings import GOVWATCH, Finding, Status
from monitor.health.availability import (
    BASELINE_MIN,
    Baseline,
    CertFacts,
    Kind,
    SiteRef,
    Window,
    availability_findings,
    blocked_findings,
    cert_facts,
    cert_problems,
    classify,
    defaced_finding,
    examine_page,
    record,
    share_cut_off,
    tls_findings,
)
from monitor.model import FetchError, State

if TYPE_CHECKING:
    from monitor.config import Inventory
    from monitor.daemon import Monitor

__all__ = ["AvailabilityCheck", "read_certificate"]

log = structlog.get_logger()

CANARY_TTL_S = 60.0  # one canary round answers for every site failing within a minute
ERROR_BODY = 64 * 1024  # enough of an error answer to recognise a WAF's page
ROUND = 1.5  # one round: every site's latest probe within this many intervals (they are spread and jittered)


@dataclass(slots=True)
class _Site:
    window: Window
    baseline: Baseline


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

    async def run(self, subject: Subject, monitor: Monitor, now: datetime) -> Sequence[Finding] | None:
        site: SiteRef = subject.data
        s = self.settings
        timeout = float(s.timeout.seconds)
        result = await monitor.fetcher.fetch(site.homepage, timeout_s=timeout, error_body=ERROR_BODY)
        tls_url = _tls_url(site.homepage, result.final_url, result.error)
        unreachable = result.error in (FetchError.DNS, FetchError.CONNECT, FetchError.TIMEOUT)
        cert = await read_certificate(tls_url, timeout, self.ca_file) if tls_url and not unreachable else None
        outcome = classify(result, cert_read=cert is not None)
        self._latest[site.id] = (now, outcome.failed)
        # A failure may be govwatch's own; while cut off, every answer is a chance to see it come back.
        if outcome.failed or self._cut_off is not False:
            cut_off = await self._govwatch_cut_off(monitor, now)
            if cut_off and outcome.failed:
                return None
        state = await self._site(site, monitor, now)
        probe = record(site.id, outcome, result, now)
        state.window.add(probe, now)
        monitor.enqueue(probe)

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
            found += _still_known(monitor, "tls", site.id)  # the certificate could not be read now
        if outcome.kind is Kind.OK and result.text is not None:
            page = examine_page(result.text, result.body_bytes, site.name, state.baseline, s.defaced_ratio)
            found += defaced_finding(site, page, state.baseline)
        else:
            found += _still_known(monitor, "defaced", site.id)  # the page was not seen now
        return found

    async def _site(self, site: SiteRef, monitor: Monitor, now: datetime) -> _Site:
        """The site's window, read back from the store once, and its homepage baseline."""
        state = self._sites.get(site.id)
        if state is None:
            span = timedelta(seconds=self.settings.window.seconds)
            probes = await monitor.store.health_probes(site.id, now - span)
            state = self._sites[site.id] = _Site(Window(span, deque(probes)), _baseline(monitor, site.id))
        return state

    # ------------------------------------------------------------ govwatch's own network

    async def _govwatch_cut_off(self, monitor: Monitor, now: datetime) -> bool:
        s = self.settings
        if s.canaries:
            cut = not await self._canaries_reachable(monitor, now)
            detail = f"{len(s.canaries)} 个对照网址均无法访问（{'、'.join(s.canaries)}）"
        else:
            cut, bad, total = share_cut_off(self._latest, now, ROUND * s.interval.seconds, s.cutoff_share,
                                            s.cutoff_min_sites)
            detail = f"最近一轮 {total} 个网站中 {bad} 个同时无法访问"
        self._network(monitor, now, cut, detail)
        return cut

    async def _canaries_reachable(self, monitor: Monitor, now: datetime) -> bool:
        """Any HTTP answer from any canary means govwatch's network works; one round serves a minute."""
        async with self._canary_lock:
            if self._canary is not None and (now - self._canary[0]).total_seconds() < CANARY_TTL_S:
                return self._canary[1]
            timeout = float(self.settings.timeout.seconds)
            results = await asyncio.gather(*(monitor.fetcher.fetch(url, timeout_s=timeout)
                                             for url in self.settings.canaries))
            reachable = any(r.status is not None for r in results)
            self._canary = (now, reachable)
            return reachable

    def _network(self, monitor: Monitor, now: datetime, cut_off: bool, detail: str) -> None:
        """Report govwatch's own connectivity when it changes (and once after a start, to clear an old one)."""
        if cut_off == self._cut_off:
            return
        self._cut_off = cut_off
        detail = f"{detail}；网络恢复前各网站的可用性不作判断，也不发站点无法访问预警"
        found = [Finding("availability", GOVWATCH, "network", State.RED, "监测系统自身网络中断", self.owner,
                         detail=detail)] if cut_off else []
        if cut_off:
            log.warning("govwatch_cut_off", detail=detail)
        monitor.report_findings("availability", GOVWATCH, found, now)


def _tls_url(homepage: str, final_url: str, error: FetchError | None) -> str | None:
    """Where to read a certificate: the https page the GET ended on, or the homepage's host over https when an
    http homepage failed on TLS (its redirect went to https)."""
    for url in (final_url, homepage):
        if url.startswith("https://"):
            return url
    if error is FetchError.TLS:
        return str(URL(homepage).with_scheme("https").with_port(None))
    return None


def _still_known(monitor: Monitor, check: str, subject: str) -> list[Finding]:
    """What is known for a check this run could not look at, so it stays as it was."""
    known = monitor.findings.get((check, subject), {})
    return [k.finding for k in known.values() if k.status in (Status.OPEN, Status.FALSE_POSITIVE)]


def _baseline(monitor: Monitor, subject: str) -> Baseline:
    """A homepage held as defaced before a restart is compared with the page as it was then."""
    baseline = Baseline()
    for finding in _still_known(monitor, "defaced", subject):
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
