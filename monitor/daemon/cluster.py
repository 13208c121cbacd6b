"""Several daemons on one PostgreSQL store, the hosts split between them (``settings.cluster``).

Every host falls in one of ``buckets`` buckets (a hash of the host name); each bucket is one pgqueuer job on the
store, held by the daemon that picked it while its heartbeat is fresh (``monitor.store.leases``). A daemon probes,
fires deadline and alert timers, and runs checks only for the hosts of the buckets it holds, so a site's politeness
(its concurrency and interval) holds cluster-wide and each column is probed by one daemon.

- **Heartbeat.** Every ``heartbeat`` the daemon renews its buckets' jobs (pgqueuer's heartbeat; a job whose
  heartbeat is three heartbeats old is stale) and claims queued or stale ones (pgqueuer's dequeue) up to its fair
  share (``ceil(buckets / live daemons)``); one holding more than its share drains the excess (no new probes
  there) and re-queues it once its probes in flight are written, so a daemon that joins or returns gets work
  within a few heartbeats.
- **Takeover.** A daemon killed stops renewing: three heartbeats later its buckets' jobs are stale and pgqueuer's
  dequeue hands them to the others. A bucket taken is adopted: its targets' state is read back from the store
  (what the other daemon last wrote), their timers armed and their next probes scheduled from their last probe,
  so nothing is probed twice in an interval and nothing is skipped; likewise each check on the bucket's subjects
  runs one interval after its last run as the store records it (``CheckRunner.resume``), and the bridges' start-up
  check, when due, runs before the accounts are judged.
- **Fencing.** A daemon works a bucket only while its own lease is surely valid: until the time its last
  successful heartbeat started plus the lease less one heartbeat (PostgreSQL's clock sets the expiry at least
  that late). A daemon that cannot reach the store stops probing then, and says so (log, /healthz, STATUS);
  it resumes when the store answers again. Every write checks, in its transaction, that the daemon still holds
  the buckets of what it writes (records of a bucket lost meanwhile are dropped: their new holder does them).
  A probe queued on a host's lane is made only if the daemon still works the host when its turn comes. A
  heartbeat that comes late (the process starved or stood still) leaves the daemon unsure for a while: what came
  due then (probes, deadline and alert timers) was left out and is scheduled again once it is sure. Buckets it
  held when it lost the store come back as they were if nobody wrote for them meanwhile: what it probed before is
  written then, not probed again.
- **Whole fleet.** The verdicts other daemons write are read back every heartbeat, so every daemon's board and
  API show the whole fleet. They are read by the id of the transaction that wrote them, from the oldest one still
  running at the last look (``PostgresStore.fleet_changes``): a write is shown however late it commits. Metrics
  export per-target state only for the targets a daemon holds.
- **Outbox.** A channel (receiver, MQTT) is delivered by one daemon at a time under a channel lease
  (``ClusterOutbox``), renewed before each send; a daemon killed in the middle of a send leaves at most that
  one message to be sent again by the next. A receiver's lease is given back when nothing is pending; MQTT's is
  kept while its holder is connected to the broker, and only the holder republishes the retained states (when it
  connects, or takes the channel over), so they are not sent by every daemon, nor an old state after a newer one.
"""

from __future__ import annotations

import asyncio
import os
import time
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from monitor.config import ClusterSettings, Inventory
from monitor.daemon.tracked import Tracked, written_since
from monitor.model import TargetKind
from monitor.records import (
    CheckRunRecord,
    FindingsRecord,
    HealthProbeRecord,
    OutboxRecord,
    OutboxRow,
    ProbeRecord,
    Record,
    VerdictRecord,
)
from monitor.store import leases

if TYPE_CHECKING:
    from monitor.daemon.monitor import Monitor
    from monitor.store.postgres import PostgresStore

log = structlog.get_logger()
LEASE_HEARTBEATS = 3  # a lease lasts this many heartbeats
MQTT = "mqtt"  # the MQTT publisher's outbox channel (``monitor.mqtt.CHANNEL``)
MQTT_LEASE_S = 15.0  # at least: connected, the publisher renews its lease every 5 s or sooner (``monitor.mqtt.POLL``)


def bucket_of(key: str, total: int) -> int:
    """The bucket of a host (or of a check subject without one): stable across daemons and restarts."""
    return zlib.crc32(key.encode()) % total


class Cluster:
    def __init__(self, monitor: Monitor, store: PostgresStore, settings: ClusterSettings, node: str,
                 board: str) -> None:
        self.monitor = monitor
        self.store = store
        self.node = node
        self.board = board
        self.total = settings.buckets
        self.heartbeat_s = float(settings.heartbeat.approx_seconds)
        self.ttl_s = LEASE_HEARTBEATS * self.heartbeat_s
        self.active: set[int] = set()  # buckets worked now
        self.draining: set[int] = set()  # held, given back once their probes in flight are written
        self.adopted_at: dict[int, datetime] = {}  # when each active bucket was taken (older records are stale)
        self.suspended: set[int] = set()  # held when the store was lost: this daemon's still if nobody took them
        self.valid_until = 0.0  # (monotonic) this daemon's leases are surely its own until then
        self.state = "starting"  # "ok" | "store_lost" | "stopping"
        self.lost_since: datetime | None = None
        self.members = 0
        self.started_at = monitor.clock()
        self.stopping = False
        self._horizon = 0  # the fleet read-back's: the transactions below it were read (0: every row, at first)
        self._intents: list[tuple[str, int, datetime, asyncio.Future[bool]]] = []  # probes waiting to be cleared
        self._intending: asyncio.Task[None] | None = None
        self._site_hosts: dict[str, str] = {}
        self.configure(monitor.inventory)

    # ------------------------------------------------------------ what this daemon holds

    def configure(self, inventory: Inventory) -> None:
        """The host of each site (its homepage's, else its first column's): a site's checks go with its columns."""
        hosts: dict[str, str] = {}
        for t in inventory.targets:
            if t.kind == TargetKind.HOMEPAGE or t.site_id not in hosts:
                hosts[t.site_id] = t.host
        self._site_hosts = hosts

    def bucket(self, key: str) -> int:
        return bucket_of(key, self.total)

    def owns_key(self, key: str) -> bool:
        """Whether this daemon works the bucket of ``key`` (a host) now: held, not draining, lease surely valid."""
        return bucket_of(key, self.total) in self.active and time.monotonic() < self.valid_until

    def subject_key(self, subject: str) -> str:
        """The host a check subject goes with: its target's, its site's, else the subject itself."""
        tracked = self.monitor.tracked.get(subject)
        if tracked is not None:
            return tracked.target.host
        return self._site_hosts.get(subject, subject)

    def owns_subject(self, subject: str) -> bool:
        return self.owns_key(self.subject_key(subject))

    def problem(self) -> str | None:
        """Why this daemon does no work now (for /healthz and STATUS), or None."""
        if self.state == "store_lost":
            return (f"无法连接 PostgreSQL，已停止巡检（自 {self.lost_since:%H:%M:%S}） — "
                    f"store unreachable since {self.lost_since:%H:%M:%S}: probing stopped until it answers")
        return None

    def gauges(self) -> dict[str, float]:
        return {"buckets_held": len(self.active), "buckets": self.total, "members": self.members,
                "store_up": 0 if self.state == "store_lost" else 1}

    def status_text(self) -> str:
        return f"集群节点 {self.node}：{len(self.active)}/{self.total} 个主机分组，{self.members} 个节点在线"

    # ------------------------------------------------------------ the write guard

    def _record_key(self, record: Record) -> tuple[str, datetime] | None:
        """The host and time of what a record writes; None for what any daemon may write (an operator's marks,
        outbox items about no target)."""
        tracked = self.monitor.tracked
        if isinstance(record, ProbeRecord):
            tid, at = record.observation.target_id, record.observation.at
        elif isinstance(record, VerdictRecord):
            tid, at = record.target_id, record.at
        elif isinstance(record, HealthProbeRecord | CheckRunRecord):
            return self.subject_key(record.subject), record.at
        elif isinstance(record, FindingsRecord):
            ours = [c for c in record.changes if c.actor == "govwatch"]
            if not ours:
                return None
            return self.subject_key(ours[0].known.finding.subject), ours[0].known.changed_at
        elif isinstance(record, OutboxRecord):
            targets = {i.target_id for i in record.items}
            if len(targets) != 1 or None in targets:
                return None
            tid, at = next(iter(targets)), record.items[0].created_at
        else:
            return None
        found = tracked.get(tid)
        return (found.target.host if found else tid), at

    async def guard(self, db: asyncpg.Connection, records: Sequence[Record]) -> Sequence[Record]:
        """Inside a write transaction: keep the records of the buckets this daemon still holds (locked until the
        write commits) and made since it took them."""
        held = await leases.held(db, self.node, self.ttl_s)
        kept = []
        for record in records:
            key = self._record_key(record)
            if key is not None:
                bucket = self.bucket(key[0])
                since = self.adopted_at.get(bucket)
                if bucket not in held or since is None or key[1] < since:
                    continue
            kept.append(record)
        if len(kept) != len(records):
            log.info("cluster_records_dropped", dropped=len(records) - len(kept), node=self.node)
        return kept

    # ------------------------------------------------------------ the heartbeat

    async def run(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception:  # the heartbeat must outlive any one failure: without it the daemon silently idles
                log.exception("cluster_heartbeat_crashed", node=self.node)
            await asyncio.sleep(self.heartbeat_s)

    async def beat(self) -> None:
        """One heartbeat: renew, give back drained buckets, claim up to the fair share, adopt what was taken, read
        back the verdicts other daemons wrote. A heartbeat that fails leaves the leases as they are until they are
        no longer surely valid; then everything stops until the store answers."""
        started = time.monotonic()
        release = sorted(b for b in self.draining if not self._busy(b))
        if release and not await self._flushed():
            release = []
        try:
            async with asyncio.timeout(self.heartbeat_s):
                beat = await self.store.run(lambda db: leases.beat(
                    db, self.node, self.board, os.getpid(), self.started_at, self.state, self.total, self.ttl_s,
                    release, claim=not self.stopping))
        except Exception as exc:
            log.warning("cluster_heartbeat_failed", node=self.node, error=f"{type(exc).__name__}: {exc}")
            if time.monotonic() >= self.valid_until:
                self._lose()
            return
        # > 0: for so long this daemon was not sure of the buckets it held (its heartbeat came late, or failed)
        lapse = time.monotonic() - self.valid_until if self.valid_until else 0.0
        self.valid_until = started + self.ttl_s - self.heartbeat_s
        if self.state == "store_lost":
            log.info("cluster_store_back", node=self.node, since=str(self.lost_since))
        self.state, self.lost_since, self.members = "ok", None, beat.members
        self.draining -= set(release)
        gone = (self.active | self.draining | self.suspended) - beat.held  # taken while this one could not renew
        self.active -= gone
        self.draining -= gone
        self.suspended -= gone
        for b in set(release) | gone:
            self.adopted_at.pop(b, None)
        excess = len(beat.held) - beat.share - len(self.draining)
        if excess > 0:
            drain = sorted(self.active, reverse=True)[:excess]
            self.active -= set(drain)
            self.draining |= set(drain)
            log.info("cluster_draining", node=self.node, buckets=len(drain), share=beat.share)
        if lapse > 0 and self.active:
            self._resume(set(self.active), lapse)
        new = set(beat.held) - self.active - self.draining
        if new:
            try:
                await self._adopt(new, lapse)
            except Exception as exc:  # held in the store, not worked yet: adopted at the next heartbeat
                log.warning("cluster_adopt_failed", node=self.node, buckets=len(new),
                            error=f"{type(exc).__name__}: {exc}")
                new = set()
        if release or gone or new:
            log.info("cluster_buckets", node=self.node, held=len(self.active), taken=len(new), released=len(release),
                     lost=len(gone), members=beat.members)
        # The other daemons commit outbox items too: wake the senders each heartbeat (the daemon holding a channel
        # may have just given it back), so an alert waits a heartbeat for a sender, not the senders' idle poll.
        for hook in self.monitor.hooks.after_write:
            hook()
        try:
            await self._read_fleet()
        except Exception as exc:
            log.warning("cluster_fleet_read_failed", node=self.node, error=f"{type(exc).__name__}: {exc}")

    def _lose(self) -> None:
        if self.state != "store_lost":
            self.lost_since = self.monitor.clock()
            log.error("cluster_store_lost", node=self.node, buckets=len(self.active) + len(self.draining))
        self.state = "store_lost"
        self.suspended |= self.active | self.draining
        self.active.clear()
        self.draining.clear()

    def _targets(self, buckets: set[int]) -> list[str]:
        """The targets whose hosts fall in these buckets."""
        return [tid for tid, t in self.monitor.tracked.items() if self.bucket(t.target.host) in buckets]

    def _busy(self, bucket: int) -> bool:
        """Whether probes of this bucket's hosts are queued or in flight."""
        return any(self.bucket(host) == bucket for host in self.monitor.probes.busy_hosts())

    async def _flushed(self) -> bool:
        """Whether everything queued for the store so far was written (within half a heartbeat): a bucket is given
        back only after its last results are in the store, where its next holder reads them."""
        try:
            async with asyncio.timeout(self.heartbeat_s / 2):
                await self.monitor.writer.flushed()
        except TimeoutError:
            return False
        return True

    async def _adopt(self, buckets: set[int], lapse: float) -> None:
        """Take buckets over: read their targets' state back from the store, then start working them. A bucket
        this daemon held when it lost the store comes back as it was if nobody wrote for it since (the results it
        made before are written, not made again); ``lapse``: for so long before now it worked none."""
        monitor = self.monitor
        ids = self._targets(buckets)
        states = await monitor.store.load_states(ids)
        intended = await self.store.run(lambda db: leases.intents(db, ids))
        now = monitor.clock()
        await monitor.book.load(now)  # findings the other daemon recorded
        written = {self.bucket(monitor.tracked[tid].target.host) for tid in ids
                   if written_since(monitor.tracked[tid], states.get(tid))}
        for b in buckets:
            if b not in self.suspended or b in written or b not in self.adopted_at:
                self.adopted_at[b] = now
        if monitor.check_runner is not None:
            # each check one interval after its last run, whichever daemon made it; the bridges' state before their
            # accounts are judged (waited for at most half a heartbeat: the heartbeat waits)
            await monitor.check_runner.resume(lambda subject: self.bucket(self.subject_key(subject)) in buckets,
                                              self.heartbeat_s / 2)
        # The other daemon may have stopped up to a lease and a heartbeat ago (its timed alerts since then are due);
        # this one, when it lost the store.
        since = self.ttl_s + self.heartbeat_s
        if buckets & self.suspended:
            since = max(since, lapse)
        self.suspended -= buckets
        self.active |= buckets
        monitor.adopt(ids, states, now, now - timedelta(seconds=since), intended)

    def _resume(self, buckets: set[int], lapse: float) -> None:
        """Buckets kept through a heartbeat that came late: while this daemon was not sure of them, what came due
        there was left out (probes, deadline and alert timers); it is scheduled again."""
        log.warning("cluster_heartbeat_late", node=self.node, seconds=round(lapse, 1), buckets=len(buckets))
        monitor = self.monitor
        now = monitor.clock()
        ids = self._targets(buckets)
        monitor.resume(ids, now, now - timedelta(seconds=lapse))

    async def clear(self, tracked: Tracked, at: datetime) -> bool:
        """Whether this daemon may send this probe's request now (its turn come): its intent (the probe's time)
        recorded in the store, for a bucket the store says it holds. The probes asked for while one write runs go
        in the next, together."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._intents.append((tracked.target.id, self.bucket(tracked.target.host), at, future))
        if self._intending is None or self._intending.done():
            self._intending = asyncio.create_task(self._record_intents())
        return await future

    async def _record_intents(self) -> None:
        while self._intents:
            batch, self._intents = self._intents, []
            probes = [(tid, bucket, at) for tid, bucket, at, _ in batch]
            try:
                async with asyncio.timeout(self.heartbeat_s):
                    cleared = await self.store.run(lambda db, p=probes: leases.intend(db, self.node, self.ttl_s, p))
            except Exception as exc:  # not recorded: not made now (the scheduler tries again shortly)
                log.warning("cluster_intents_failed", node=self.node, probes=len(batch),
                            error=f"{type(exc).__name__}: {exc}")
                cleared = set()
            for tid, _, _, future in batch:
                if not future.done():
                    future.set_result(tid in cleared)

    async def _read_fleet(self) -> None:
        """The verdicts other daemons wrote since the last look: the board shows the whole fleet."""
        self._horizon, changed = await self.store.fleet_changes(self._horizon)
        for tid, verdict in changed:
            tracked = self.monitor.tracked.get(tid)
            if tracked is not None and not self.owns_key(tracked.target.host):
                self.monitor.show(tracked, verdict)

    async def leave(self) -> None:
        """On a clean stop: give every bucket and channel back at once (the others take them at their next
        heartbeat, without waiting for the leases to expire)."""
        self.stopping = True
        self.active.clear()
        self.draining.clear()
        try:
            async with asyncio.timeout(self.heartbeat_s):
                await self.store.run(lambda db: leases.leave(db, self.node))
            log.info("cluster_left", node=self.node)
        except Exception as exc:
            log.warning("cluster_leave_failed", node=self.node, error=f"{type(exc).__name__}: {exc}")


class ClusterOutbox:
    """The outbox as one daemon of several delivers it: a channel is drained by the daemon holding its lease.

    ``outbox_next`` leaves out the channels another daemon is delivering; ``outbox_due`` takes the channel's lease
    (nothing while another holds it) and gives a receiver's back when nothing is due; ``outbox_pending``, asked right
    before each send, renews it (nothing is pending for a daemon that lost it, so it does not send). The MQTT
    publisher renews its lease with ``outbox_due`` at least every few seconds while connected, and keeps it when idle:
    ``mqtt_retained`` (the states to republish) answers only the daemon taking or holding it."""

    def __init__(self, store: PostgresStore, node: str, ttl_s: float) -> None:
        self.store = store
        self.node = node
        self.ttl_s = ttl_s
        self._channel_of: dict[int, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def outbox_next(self) -> dict[str, datetime]:
        waits = await self.store.outbox_next()
        elsewhere = await self.store.run(lambda db: leases.channels_elsewhere(db, self.node))
        return {c: when for c, when in waits.items() if c not in elsewhere}

    async def outbox_due(self, channel: str, now: datetime, limit: int = 100) -> list[OutboxRow]:
        if not await self._claim(channel):
            return []
        rows = await self.store.outbox_due(channel, now, limit)
        if not rows and channel != MQTT and channel not in await self.store.outbox_next():
            await self.store.run(lambda db: leases.release_channel(db, channel, self.node))
        self._channel_of = {row.id: channel for row in rows} | {
            i: c for i, c in self._channel_of.items() if c != channel}
        return rows

    async def outbox_pending(self, ids: Sequence[int]) -> set[int]:
        channels = {self._channel_of[i] for i in ids if i in self._channel_of}
        for channel in channels:
            if not await self._claim(channel):
                return set()
        return await self.store.outbox_pending(ids)

    async def mqtt_retained(self) -> list[dict[str, Any]] | None:
        """The retained MQTT states to publish again, for the daemon that takes or holds the MQTT channel; None to
        the others (one daemon republishes, and no other sends a state while it does)."""
        if not await self._claim(MQTT):
            return None
        return await self.store.mqtt_retained()

    async def _claim(self, channel: str) -> bool:
        ttl = max(self.ttl_s, MQTT_LEASE_S) if channel == MQTT else self.ttl_s
        return await self.store.run(lambda db: leases.claim_channel(db, channel, self.node, ttl))


async def cluster_status(store: PostgresStore, total: int) -> tuple[list[leases.Member], int]:
    """Every daemon the store knows, with its buckets, and how many of the ``total`` buckets no live daemon holds."""
    async def read(db: asyncpg.Connection) -> tuple[list[leases.Member], int]:
        return await leases.members(db), await leases.unheld(db, total)

    return await store.run(read)

