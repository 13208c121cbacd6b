"""Prometheus metrics for govwatch, served at ``/metrics`` on the board's aiohttp app.

Per-target figures are computed by a custom collector **at scrape time** from ``Monitor.tracked``
(no gauge object per target); counters and histograms are updated by the monitor's hooks.
Everything lives in the ``CollectorRegistry`` held by a ``Metrics`` object (never the global one).

Labels are bounded by the inventory: ids and names from it, never URLs or page text.

* ``target``: target id (the column's id; ``<site id>-home`` for a homepage)
* ``column``: the column's name from the inventory (``首页`` for homepages)
* ``site``: site id; ``unit``: unit (责任单位) id; ``category``: rule category (e.g. ``动态要闻``)
* ``kind``: ``column`` or ``homepage``; ``state``: ``green`` | ``yellow`` | ``red`` | ``unknown``

Metrics (scrape time, from the monitor's in-memory state):

``govwatch_target_state{target,column,site,unit,category,kind,state}`` gauge
    One series per target, labelled with its **current** state, value always 1 (the series of the
    previous state disappears when the state changes). ``count by (state) (govwatch_target_state)``
    counts targets per state.
``govwatch_target_newest_item_age_seconds{target,column,site,unit,category,kind}`` gauge
    Seconds since the start of the day (Asia/Shanghai) of the newest item's date; absent while the
    target has no dated newest item.
``govwatch_target_deadline_seconds{target,column,site,unit,category,kind}`` gauge
    Seconds until the target turns red; negative when overdue; absent when the verdict has no deadline
    (unknown, blank column). Days overdue as the board counts them: ``floor(-value / 86400) + 1`` at the
    scrape (recording rule ``govwatch:target_days_overdue``).
``govwatch_targets{state}`` gauge
    Number of targets per state (all four states always present).
``govwatch_site_up{site,unit}`` gauge
    1 when the site's homepage target's last probe fetched the page, 0 when it failed; absent for
    sites whose homepage is not checked or not probed yet.
``govwatch_findings_open{check,severity,site,unit}`` gauge
    Open findings of the checks beyond freshness (availability, links, words, messages, accounts, …)
    per check, severity (``yellow`` | ``red``), site and unit; false positives and fixed ones are not
    counted. ``site`` is ``nm-<unit>`` for a unit's accounts and empty for findings about govwatch itself.
``govwatch_site_veto_columns{site,unit,veto,state}`` gauge
    Columns counted towards each of a site's three column vetoes (``stale_news_notices``,
    ``long_stale``, ``blank``), labelled with the veto's state (red: the site fails).
``govwatch_tls_cert_days_left{site,unit}`` gauge
    Days until the certificate of the site's https homepage expires (negative once expired), as the
    availability check last read it; absent for http-only sites and before the first read.
``govwatch_site_info{site,site_name,unit}``, ``govwatch_unit_info{unit,unit_name}`` gauges
    Always 1: names for ids, to join in dashboards (``* on(site) group_left(site_name) ...``).

Metrics of a cluster's daemon (``settings.cluster``; README "Cluster"). Each daemon exports the per-target
families above, ``govwatch_targets``, ``govwatch_site_up``, ``govwatch_site_info``, findings, vetoes and certificates
only for the hosts it holds, so that sums over the daemons count each target once:

``govwatch_cluster_buckets_held`` gauge
    Host buckets this daemon works now; ``sum`` over the daemons equals ``govwatch_cluster_buckets`` when every
    bucket is held.
``govwatch_cluster_buckets``, ``govwatch_cluster_members`` gauges
    The cluster's bucket count, and the live daemons at this daemon's last heartbeat.
``govwatch_cluster_store_up`` gauge
    1 while the daemon reaches the store; 0 once it lost it and stopped probing.

Metrics (instrumentation):

``govwatch_probe_duration_seconds{result}`` histogram
    Fetch time of each probe; ``result`` is ``ok``, ``not_modified`` (304) or ``error``.
``govwatch_fetch_failures_total{error}`` counter
    Failed fetches by class: timeout, dns, connect, tls, http_status, too_large,
    too_many_redirects, decode, invalid_url; render (the headless browser failed on a ``render: browser``
    column's page).
``govwatch_verdict_changes_total{state}`` counter
    Verdict changes (observation or deadline timer), by the new state; includes first verdicts.
``govwatch_build_info{version}`` gauge, always 1.
``govwatch_notifications_total{receiver,result}`` counter
    Notifications sent (``result="sent"``) or failed (``result="failed"``); ``receiver`` is the
    channel ``<unit id>/<receiver id>``. Every configured receiver has both series from the start (0).
    Call ``Metrics.notified(receiver, ok)``.
``govwatch_outbox_pending`` gauge
    Notifications waiting in the outbox: ``metrics.outbox_pending.set(n)`` or
    ``metrics.outbox_pending.set_function(callable)``.
``govwatch_store_write_failures_total`` counter
    Failed store writes (each failed try of a batch; 0 from the start). While it rises the store refuses what
    the daemon writes (a full disk, a read-only file system, a database gone away): /healthz answers 503 then.
``govwatch_store_unwritten_records`` gauge
    Records the daemon holds because the store refused them (written in order once it takes them again).
``govwatch_store_dropped_records_total`` counter
    Records refused beyond the writer's bound while the store failed (lost).
``govwatch_mqtt_connected`` gauge
    1 while connected to the MQTT broker, 0 otherwise: ``metrics.set_mqtt_connected(True)``. Exported
    only after the first call, so a daemon without MQTT never looks disconnected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.daemon import Monitor, Tracked
from monitor.evaluate import Verdict, start_of_day
from monitor.findings import Status
from monitor.model import FetchError, Observation, State, Target, TargetKind

TARGET_LABELS = ("target", "column", "site", "unit", "category", "kind")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the classic text format, read by every Prometheus
PROBE_RESULTS = ("ok", "not_modified", "error")
NOTIFY_RESULTS = ("sent", "failed")
PROBE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)


def probe_result(obs: Observation) -> str:
    if obs.error is not None:
        return "error"
    return "not_modified" if obs.not_modified else "ok"


class MonitorView(Protocol):
    """What the collector reads: ``Monitor`` satisfies it (and so does the benchmark's stand-in)."""

    tracked: dict[str, Tracked]
    clock: Callable[[], datetime]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


CLUSTER_GAUGES = {
    "buckets_held": "Host buckets this daemon works now (settings.cluster)",
    "buckets": "Host buckets of the cluster (settings.cluster.buckets)",
    "members": "Daemons of the cluster alive at this daemon's last heartbeat",
    "store_up": "1 while this daemon reaches the cluster's store, 0 once it lost it and stopped probing",
}

TARGET_FAMILIES = (
    ("govwatch_target_state", "1 for the target's current state (one series per target)"),
    ("govwatch_target_newest_item_age_seconds", "Seconds since the start of the newest item's date"),
    ("govwatch_target_deadline_seconds", "Seconds until the target turns red; negative when overdue"),
)


class TargetCollector(Collector):
    """Everything read from the monitor at scrape time.

    ``collect`` yields the small families (totals, site availability, names) the standard way;
    ``render`` writes the three per-target families as exposition text directly, with each target's
    label string built once: at 30,600 targets that takes a fraction of the ~1.2 s that building
    ~90,000 ``Sample`` objects and formatting them through ``generate_latest`` costs.
    """

    def __init__(self, monitor: MonitorView) -> None:
        self.monitor = monitor
        self._labels: dict[str, tuple[Target, str]] = {}  # by id; rebuilt when a reload replaces the target

    def _target_labels(self, t: Target) -> str:
        cached = self._labels.get(t.id)
        if cached is None or cached[0] is not t:
            values = (t.id, t.name, t.site_id, t.unit_id, t.rule.category, t.kind)
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(TARGET_LABELS, values, strict=True))
            cached = self._labels[t.id] = (t, text)
        return cached[1]

    def render(self) -> str:
        """The per-target families in the Prometheus text format."""
        now = self.monitor.clock()
        (sn, sh), (an, ah), (dn, dh) = TARGET_FAMILIES
        state = [f"# HELP {sn} {sh}\n# TYPE {sn} gauge\n"]
        age = [f"# HELP {an} {ah}\n# TYPE {an} gauge\n"]
        deadline = [f"# HELP {dn} {dh}\n# TYPE {dn} gauge\n"]
        for tr in self._held():
            v = tr.verdict
            labels = self._target_labels(tr.target)
            state.append(f'{sn}{{{labels},state="{v.state.value}"}} 1\n')
            if v.newest_date is not None:
                age.append(f"{an}{{{labels}}} {(now - start_of_day(v.newest_date)).total_seconds():.0f}\n")
            if v.deadline is not None:
                deadline.append(f"{dn}{{{labels}}} {(v.deadline - now).total_seconds():.0f}\n")
        return "".join(state + age + deadline)

    def _held(self) -> list[Tracked]:
        """The targets whose per-target series this daemon exports: all of them, or in a cluster those whose host
        it holds (Prometheus scraping every daemon then counts each target once)."""
        tracked = list(self.monitor.tracked.values())
        cluster = getattr(self.monitor, "cluster", None)
        if cluster is None:
            return tracked
        return [tr for tr in tracked if cluster.owns_key(tr.target.host)]

    def _holds_subject(self, subject: str) -> bool:
        cluster = getattr(self.monitor, "cluster", None)
        return cluster is None or cluster.owns_subject(subject)

    def collect(self) -> Iterator[Metric]:
        tracked = self._held()
        count = GaugeMetricFamily("govwatch_targets", "Targets per state", labels=("state",))
        up = GaugeMetricFamily("govwatch_site_up", "1 when the site's homepage was fetched at its last probe",
                               labels=("site", "unit"))
        units = GaugeMetricFamily("govwatch_unit_info", "Unit (责任单位) names by id", labels=("unit", "unit_name"))
        sites = GaugeMetricFamily("govwatch_site_info", "Site names by id", labels=("site", "site_name", "unit"))
        totals = dict.fromkeys(State, 0)
        unit_names: dict[str, str] = {}
        site_names: dict[str, tuple[str, str]] = {}
        for tr in tracked:
            t = tr.target
            totals[tr.verdict.state] += 1
            unit_names[t.unit_id] = t.unit_name
            site_names[t.site_id] = (t.site_name, t.unit_id)
            if t.kind == TargetKind.HOMEPAGE and (latest := tr.history.latest) is not None:
                up.add_metric([t.site_id, t.unit_id], 1 if latest.error is None else 0)
        for s, n in totals.items():
            count.add_metric([s.value], n)
        for unit_id, name in unit_names.items():
            units.add_metric([unit_id, name], 1)
        for site_id, (name, unit_id) in site_names.items():
            sites.add_metric([site_id, name, unit_id], 1)
        yield from (count, up, units, sites, self._findings(), self._vetoes(), self._certificates())
        cluster = getattr(self.monitor, "cluster", None)
        if cluster is not None:
            for name, value in cluster.gauges().items():
                family = GaugeMetricFamily(f"govwatch_cluster_{name}", CLUSTER_GAUGES[name])
                family.add_metric([], value)
                yield family

    def _findings(self) -> Metric:
        family = GaugeMetricFamily("govwatch_findings_open", "Open findings by check, severity, site and unit",
                                   labels=("check", "severity", "site", "unit"))
        counts: dict[tuple[str, str, str, str], int] = {}
        for (_, subject), known_by_uid in list(getattr(self.monitor, "findings", {}).items()):
            if not self._holds_subject(subject):
                continue  # the daemon holding the subject's host counts them
            for known in list(known_by_uid.values()):
                if known.status is Status.OPEN:
                    f = known.finding
                    key = (f.check, f.severity.value, f.site_id, f.unit_id)
                    counts[key] = counts.get(key, 0) + 1
        for labels, n in counts.items():
            family.add_metric(list(labels), n)
        return family

    def _certificates(self) -> Metric:
        family = GaugeMetricFamily("govwatch_tls_cert_days_left", "Days until the homepage's TLS certificate expires",
                                   labels=("site", "unit"))
        runner = getattr(self.monitor, "check_runner", None)  # the availability check keeps what it read
        for check in list(getattr(runner, "checks", ())):
            for site_id, (unit_id, days) in list(getattr(check, "cert_days", {}).items()):
                if self._holds_subject(site_id):
                    family.add_metric([site_id, unit_id], round(days, 2))
        return family

    def _vetoes(self) -> Metric:
        family = GaugeMetricFamily("govwatch_site_veto_columns", "Columns counted towards each site column veto",
                                   labels=("site", "unit", "veto", "state"))
        alerts = getattr(self.monitor, "alerts", None)
        if alerts is not None:
            for site_id, site in list(alerts.sites.items()):
                if not self._holds_subject(site_id):
                    continue
                for veto in alerts.site_vetoes(site_id):
                    family.add_metric([site_id, site.unit, veto.rule.kind, veto.state.value], veto.count)
        return family


class WriterView(Protocol):
    """What the store writer's collector reads: ``StoreWriter`` satisfies it."""

    failures: int
    dropped: int

    @property
    def queued(self) -> int: ...


class WriterCollector(Collector):
    """The store writer's counts, read at scrape time (present, at 0, from the start)."""

    def __init__(self, writer: WriterView) -> None:
        self.writer = writer

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("govwatch_store_write_failures", "Failed store writes (tries of a batch)",
                                  value=self.writer.failures)
        yield GaugeMetricFamily("govwatch_store_unwritten_records", "Records held because the store refused them",
                                value=self.writer.queued)
        yield CounterMetricFamily("govwatch_store_dropped_records", "Records refused beyond the writer's bound",
                                  value=self.writer.dropped)


class Metrics:
    """The daemon's metrics registry; ``attach`` it to a monitor, ``handler`` serves ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.targets: TargetCollector | None = None
        self._mqtt_exported = False
        r = self.registry
        self.probe_duration = Histogram("govwatch_probe_duration_seconds", "Fetch time of each probe, by result",
                                        ("result",), buckets=PROBE_BUCKETS, registry=r)
        self.fetch_failures = Counter("govwatch_fetch_failures", "Failed fetches by error class", ("error",),
                                      registry=r)
        self.verdict_changes = Counter("govwatch_verdict_changes", "Verdict changes by new state", ("state",),
                                       registry=r)
        self.build_info = Gauge("govwatch_build_info", "govwatch version; always 1", ("version",), registry=r)
        self.notifications = Counter("govwatch_notifications", "Notifications by receiver and result",
                                     ("receiver", "result"), registry=r)
        self.outbox_pending = Gauge("govwatch_outbox_pending", "Notifications waiting in the outbox", registry=r)
        # Registered on first use only, so installs without MQTT export no (alerting) 0.
        self.mqtt_connected = Gauge("govwatch_mqtt_connected", "1 while connected to the MQTT broker", registry=None)
        self.build_info.labels(__version__).set(1)
        for result in PROBE_RESULTS:
            self.probe_duration.labels(result)
        for error in FetchError:
            self.fetch_failures.labels(error.value)
        for s in State:
            self.verdict_changes.labels(s.value)

    def attach(self, monitor: Monitor) -> None:
        """Hook into a monitor's probe and verdict listeners and export its targets at scrape time."""
        monitor.hooks.probe_listeners.append(self.on_probe)
        monitor.hooks.listeners.append(self.on_verdict)
        self.registry.register(WriterCollector(monitor.writer))
        self.watch(monitor)

    def watch(self, monitor: MonitorView) -> None:
        """Export a monitor's targets at scrape time (``attach`` does this; the benchmark calls it alone)."""
        self.targets = TargetCollector(monitor)
        self.registry.register(self.targets)

    def on_probe(self, target: Target, obs: Observation) -> None:
        self.probe_duration.labels(probe_result(obs)).observe(obs.fetch_ms / 1000)
        if obs.error is not None:
            self.fetch_failures.labels(obs.error.value).inc()

    def on_verdict(self, target: Target, verdict: Verdict, previous: Verdict | None) -> None:
        self.verdict_changes.labels(verdict.state.value).inc()

    def receivers(self, channels: Iterable[str]) -> None:
        """Export 0 for every receiver and result from the start, so panels and ``rate()`` see the series before
        the first notification (call again after a reload: new receivers join, gone ones keep their counts)."""
        for channel in channels:
            for result in NOTIFY_RESULTS:
                self.notifications.labels(channel, result)

    def notified(self, receiver: str, ok: bool) -> None:
        """Count one notification attempt for ``receiver`` (result ``sent`` or ``failed``)."""
        self.notifications.labels(receiver, "sent" if ok else "failed").inc()

    def set_mqtt_connected(self, connected: bool) -> None:
        """Report the MQTT link; the first call starts exporting ``govwatch_mqtt_connected``."""
        if not self._mqtt_exported:
            self.registry.register(self.mqtt_connected)
            self._mqtt_exported = True
        self.mqtt_connected.set(1 if connected else 0)

    def scrape(self) -> bytes:
        """The whole exposition: the registry through ``generate_latest``, then the per-target families."""
        body = generate_latest(self.registry)
        return body + self.targets.render().encode() if self.targets is not None else body

    async def handler(self, request: web.Request) -> web.Response:
        """``GET /metrics``: the text exposition, built off the event loop, gzip when accepted."""
        body = await asyncio.to_thread(self.scrape)
        response = web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
        response.enable_compression()
        return response
