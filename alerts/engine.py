"""The alert engine: the daemon's verdict changes and alert timers, turned into outbox items.

``outbox_for`` is called by the monitor inside ``apply_observation`` and the deadline timers, so
a verdict change and the notifications and MQTT events it causes are written in one transaction.
Time-based alerts (ladder steps, escalation, working-day reminders) have timers of their own here
and are written the instant they are due. The mutes (``alerts.mutes``: silences, the site is down,
govwatch itself is cut off), asked in order, mark items held instead of dropping them; every ``HELD_EVERY_S`` the
held items whose mute ended are sent if still due, or lapse (``alerts.held``).

The engine reads the daemon's targets and clock and writes through its store writer; it never changes
the daemon: the service hands its router and listeners to the daemon's ``Hooks``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

import structlog

from alerts.held import Candidate, release, settle, still_due, veto_still_due
from alerts.mutes import About, CutOff, Mute, Muted, Silences, SiteDown, first_muted
from alerts.policy import Alert, change_alerts, scheduled_alerts
from alerts.routing import finding_items, quiet_until, route, veto_items
from monitor.config import Inventory
from monitor.daemon import Tracked
from monitor.evaluate import Verdict
from monitor.findings import Change, Known
from monitor.model import State, Target, TargetKind
from monitor.records import HeldRow, OutboxItem, OutboxRecord, Silence
from monitor.schedule import Schedule
from monitor.store import OutboxStore, SilenceStore
from monitor.vetoes import SiteVeto, site_vetoes

log = structlog.get_logger()
SILENCE_REFRESH_S = 30.0
HELD_EVERY_S = 2.0  # how often held items are looked at (a short indexed read when there are none)


class AlertStore(SilenceStore, OutboxStore, Protocol):
    """What the engine reads and writes itself: silences, and the held items it releases."""


def board_address(inventory: Inventory) -> str:
    settings = inventory.settings
    return (settings.board_url or f"http://{settings.listen}/").rstrip("/") + "/"


class Alerter:
    def __init__(self, inventory: Inventory, tracked: Mapping[str, Tracked], clock: Callable[[], datetime],
                 store: AlertStore, enqueue: Callable[[OutboxRecord], None],
                 finding: Callable[[str], Known | None] = lambda uid: None) -> None:
        self.tracked = tracked  # the daemon's targets and their verdicts (read only)
        self.clock = clock
        self.store = store
        self.enqueue = enqueue  # the daemon's store writer
        self.finding = finding  # a finding as the daemon knows it now, by uid (read only)
        self.wake = asyncio.Event()  # set after every commit that may hold new outbox items
        self._silences = Silences()
        self._cut_off = CutOff(tracked)
        self.mutes: tuple[Mute, ...] = (self._silences, SiteDown(tracked), self._cut_off)  # asked in this order
        self._timers: Schedule[str, Alert] = Schedule()  # put without keys: no alert timer replaces another
        # Whether this daemon sends a target's timed alerts (a cluster: the daemon holding the target; another
        # that takes it over arms its timers again through ``arm``, and the alerts' keys keep them once).
        self.owns: Callable[[Tracked], bool] = lambda _: True
        # Whether this daemon speaks for a site or a finding's subject: its vetoes and the held alerts about it (a
        # cluster: the daemon holding the site's host; its columns on other hosts reach it through ``fleet_change``)
        self.owns_subject: Callable[[str], bool] = lambda _: True
        self.configure(inventory)

    @property
    def silences(self) -> list[Silence]:
        """The silences in force, as last read from the store."""
        return self._silences.active

    def configure(self, inventory: Inventory) -> None:
        """Take units, receivers, ladders and settings from a (re)loaded inventory."""
        self.inventory = inventory
        self.settings = inventory.settings.alerts
        self.units = {u.id: u for u in inventory.model.units}
        self.receivers = {f"{u.id}/{r.id}": r for u in self.units.values() for r in u.receivers}
        self.ladders = {inventory.rules[c].category if c in inventory.rules else c: steps
                        for c, steps in inventory.model.ladders.items()}
        self.board_url = board_address(inventory)
        self.mqtt_prefix = inventory.settings.mqtt.prefix if inventory.settings.mqtt else None
        self.sites = {s.id: s for s in inventory.model.sites}
        self.site_names = inventory.site_names
        self.site_columns: dict[str, list[str]] = {}
        for target in inventory.targets:
            if target.kind == TargetKind.COLUMN:
                self.site_columns.setdefault(target.site_id, []).append(target.id)

    # ------------------------------------------------------------ from the monitor

    def outbox_for(self, target: Target, verdict: Verdict, previous: Verdict | None, at: datetime) -> tuple[
            OutboxItem, ...]:
        items: list[OutboxItem] = []
        muted = self.muted(About.target(target), at)
        suppressed = self._reason(muted)
        for alert in change_alerts(target, previous, verdict, at):
            items += _held(route(alert, self.units, self.settings, self.board_url, at, suppressed), muted)
        if target.kind == TargetKind.COLUMN:
            items += self._vetoes(target, verdict, previous, at)
        if self.mqtt_prefix:
            items += self._mqtt(target, verdict, previous, at)
        self._schedule(target, verdict, at)
        return tuple(items)

    def findings_outbox(self, changes: Sequence[Change], at: datetime) -> tuple[OutboxItem, ...]:
        """Alerts for new and worsened findings (to the owning unit) and MQTT events for every change."""
        items: list[OutboxItem] = []
        for change in changes:
            f = change.known.finding
            if change.alerts:
                muted = self.muted(About.of_finding(f), at)
                items += _held(finding_items(change, self.units, self.site_names.get(f.site_id, ""), self.board_url,
                                             at, self._reason(muted)), muted)
            if self.mqtt_prefix:
                items += self._finding_mqtt(change, at)
        return tuple(items)

    def _finding_mqtt(self, change: Change, at: datetime) -> list[OutboxItem]:
        known, f = change.known, change.known.finding
        message = {
            "uid": f.uid, "check": f.check, "label": f.label, "subject": f.subject, "unit_id": f.unit_id,
            "site_id": f.site_id, "severity": str(f.severity), "status": str(known.status), "event": str(change.event),
            "title": f.title, "detail": f.detail, "url": f.url, "evidence": dict(f.evidence),
            "first_seen": known.first_seen.isoformat(), "at": at.isoformat(),
        }
        return self._mqtt_pair(f"finding|{f.uid}", f"{f.unit_id or '_'}/finding/{f.uid}", message, f.subject,
                               at, str(change.event))

    def _mqtt_pair(self, key: str, path: str, message: dict[str, Any], target_id: str, at: datetime,
                   stamp: str) -> list[OutboxItem]:
        """The retained state at ``<prefix>/<path>/state`` and the event at ``<prefix>/events``."""
        stamp = f"{int(at.timestamp() * 1000)}|{stamp}"
        return [
            OutboxItem(f"{key}|mqtt-state|{stamp}", "mqtt", at, at,
                       {"topic": f"{self.mqtt_prefix}/{path}/state", "message": message, "retain": True},
                       target_id=target_id),
            OutboxItem(f"{key}|mqtt-event|{stamp}", "mqtt", at, at,
                       {"topic": f"{self.mqtt_prefix}/events", "message": message, "retain": False},
                       target_id=target_id),
        ]

    def muted(self, about: About, now: datetime) -> Muted | None:
        """The first mute that holds an alert about this back now (silences, site down, cut off), or None."""
        return first_muted(self.mutes, about, now)

    @staticmethod
    def _reason(muted: Muted | None) -> str | None:
        return muted.reason if muted is not None else None

    def site_vetoes(
        self, site_id: str, changed: Target | None = None, verdict: Verdict | None = None,
    ) -> list[SiteVeto]:
        """A site's column vetoes from its columns' current verdicts (``changed`` taking ``verdict``; a column
        with no verdict yet counts for none)."""
        pairs = []
        for tid in self.site_columns.get(site_id, ()):
            tracked = self.tracked.get(tid)
            if tracked is not None:
                now = verdict if changed is not None and tid == changed.id else tracked.verdict
                if now is not None:
                    pairs.append((tracked.target, now))
        return site_vetoes(pairs)

    def _vetoes(self, target: Target, verdict: Verdict, previous: Verdict | None, at: datetime) -> list[OutboxItem]:
        """Outbox items for the site's vetoes that this column's change (``previous`` → ``verdict``) moved to
        yellow or red, from the daemon speaking for the site only (held, like the column's own alerts, while a
        mute holds the site back). Before and after are both read from the columns' verdicts as this daemon
        knows them, so no state of its own can go stale when a site's columns move between daemons."""
        site, unit = self.sites.get(target.site_id), self.units.get(target.unit_id)
        if site is None or unit is None or not self.owns_subject(target.site_id):
            return []
        muted = self.muted(About.of_site(target.unit_id, target.site_id), at)
        before = {v.rule.kind: v.state for v in self.site_vetoes(target.site_id, target, previous)}
        items: list[OutboxItem] = []
        for veto in self.site_vetoes(target.site_id, target, verdict):
            if veto.state is not before[veto.rule.kind] and veto.state in (State.YELLOW, State.RED):
                found = veto_items(site, unit, veto, self.units, self.settings, self.board_url, at)
                items += _held([replace(i, suppressed=muted.reason) for i in found] if muted else found, muted)
        return items

    def fleet_change(self, target: Target, verdict: Verdict, previous: Verdict | None) -> None:
        """A verdict another daemon of the cluster wrote: the site's vetoes it moves are sent from here if this
        daemon speaks for the site (the other one does not)."""
        if target.kind == TargetKind.COLUMN:
            items = self._vetoes(target, verdict, previous, self.clock())
            if items:
                self.enqueue(OutboxRecord(tuple(items)))

    def _mqtt(self, target: Target, verdict: Verdict, previous: Verdict | None, at: datetime) -> list[OutboxItem]:
        message = {
            "id": target.id, "kind": target.kind, "unit": target.unit_name, "unit_id": target.unit_id,
            "site": target.site_name, "site_id": target.site_id, "name": target.name,
            "category": target.rule.category, "url": target.url, "state": str(verdict.state),
            "previous": str(previous.state) if previous else None,
            "deadline": verdict.deadline.isoformat() if verdict.deadline else None,
            "newest_date": verdict.newest_date.isoformat() if verdict.newest_date else None,
            "reasons": list(verdict.reasons), "detail": verdict.detail, "at": at.isoformat(),
        }
        return self._mqtt_pair(target.id, f"{target.unit_id}/{target.kind}/{target.id}", message, target.id, at,
                               str(verdict.state))

    # ------------------------------------------------------------ alert timers

    def _schedule(self, target: Target, verdict: Verdict, now: datetime) -> None:
        ladder = self.ladders.get(target.rule.category, ()) if target.kind == TargetKind.COLUMN else ()
        for when, alert in scheduled_alerts(target, verdict, now, self.settings, ladder):
            self._timers.put(None, when.timestamp(), alert)

    def arm(self, tracked: Sequence[Tracked], since: datetime) -> None:
        """Arm the timed alerts of targets this daemon just took over from another, those due since ``since`` too
        (the other daemon may have stopped then: they fire now, and their keys keep an alert it sent once)."""
        for t in tracked:
            self._schedule(t.target, t.verdict, since)

    def schedule_all(self) -> None:
        """Arm the timers of every tracked target (at start, after the monitor loaded its state)."""
        now = self.clock()
        for tracked in self.tracked.values():
            self._schedule(tracked.target, tracked.verdict, now)

    def _still_applies(self, alert: Alert) -> bool:
        tracked = self.tracked.get(alert.target.id)
        if tracked is None or not self.owns(tracked):
            return False
        now_v, then_v = tracked.verdict, alert.verdict
        return (now_v.state, now_v.deadline, now_v.newest_date) == (then_v.state, then_v.deadline, then_v.newest_date)

    async def run(self) -> None:
        """Fire time-based alerts when due; refresh silences now and then."""
        loop = asyncio.get_running_loop()
        next_refresh = next_held = 0.0
        while True:
            if loop.time() >= next_refresh:
                await self.refresh_silences()
                next_refresh = loop.time() + SILENCE_REFRESH_S
            if loop.time() >= next_held:
                await self.settle_held()
                next_held = loop.time() + HELD_EVERY_S
            now = self.clock()
            due: list[OutboxItem] = []
            for _, alert in self._timers.take_due(now.timestamp()):
                if self._still_applies(alert):
                    muted = self.muted(About.target(alert.target), now)
                    due += _held(route(alert, self.units, self.settings, self.board_url, now, self._reason(muted)),
                                 muted)
                    if alert.kind == "repeat":
                        self._schedule(alert.target, self.tracked[alert.target.id].verdict, now)
            if due:
                self.enqueue(OutboxRecord(tuple(due)))
            await self._timers.sleep(now.timestamp(), max(min(next_refresh, next_held) - loop.time(), 0.0))

    async def refresh_silences(self) -> None:
        try:
            self._silences.active = await self.store.silences(self.clock())
        except Exception:
            log.exception("silences_refresh_failed")

    # ------------------------------------------------------------ held alerts

    async def settle_held(self) -> None:
        """Send the held items whose mute ended if still due, let the others lapse (``alerts.held``). Nothing is
        read while govwatch is cut off: that mute holds back all but the availability findings' alerts."""
        try:
            if self._cut_off.cut_off():
                return
            held = await self.store.outbox_held()
            if not held:
                return
            now = self.clock()
            send, lapse = settle([c for row in held if (c := self._candidate(row, now)) is not None])
            if send or lapse:
                await self.store.outbox_settle([release(row, self._not_before(row.channel, now)) for row in send],
                                               lapse)
                log.info("held_alerts_settled", sent=len(send), lapsed=len(lapse))
                self.wake.set()
        except Exception:
            log.exception("held_alerts_failed")

    def _candidate(self, row: HeldRow, now: datetime) -> Candidate | None:
        """A held item as ``alerts.held`` weighs it, or None when another daemon settles it: the one holding its
        column, site or finding's subject (a cluster: each item is settled once, by the daemon whose view of it is
        current)."""
        payload = row.payload
        if str(payload["kind"]).startswith("veto_"):
            site_id = str(payload.get("site_id"))
            if not self.owns_subject(site_id):
                return None
            states = {v.rule.kind: v.state for v in self.site_vetoes(site_id)}
            muted = self.muted(About.of_site(str(payload["unit_id"]), site_id), now) is not None
            return Candidate(row, muted, veto_still_due(payload, states.get(str(payload["reasons"][0]))))
        if str(payload["kind"]).startswith("finding_"):
            known = self.finding(str(payload.get("uid")))
            if known is not None and not self.owns_subject(known.finding.subject):
                return None
            muted = known is not None and self.muted(About.of_finding(known.finding), now) is not None
            return Candidate(row, muted, still_due(payload, None, known))
        tracked = self.tracked.get(str(payload.get("target_id")))
        if tracked is None:
            return Candidate(row, False, False)
        if not self.owns(tracked):
            return None
        return Candidate(row, self.muted(About.target(tracked.target), now) is not None,
                         still_due(payload, tracked.verdict, None))

    def _not_before(self, channel: str, now: datetime) -> datetime:
        receiver = self.receivers.get(channel)
        return (quiet_until(receiver.quiet_hours, now) if receiver else None) or now


def _held(items: list[OutboxItem], muted: Muted | None) -> list[OutboxItem]:
    """Items a mute holds back: held (sent when it ends, if still due) unless it discards them."""
    return [replace(i, hold=True) for i in items] if muted is not None and muted.hold else items
