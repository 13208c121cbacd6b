"""The Store protocol on both backends: SQLite and PostgreSQL give back the same for the same writes (every read
the daemon, the checks, the board and the report make); a failed write is rolled back whole on each; compaction
keeps what is read on each; PostgreSQL reconnects by itself after its connections were cut and backs up with
pg_dump."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from monitor import cli
from monitor.evaluate import TZ, History, Verdict, advance, evaluate
from monitor.extract.message_box import Message, MessageStatus
from monitor.findings import Finding, Known, Status, reconcile
from monitor.model import FetchError, Item, Observation, State, Target, TargetKind
from monitor.records import (
    CheckRunRecord,
    FindingsRecord,
    HealthProbeRecord,
    OutboxItem,
    OutboxRecord,
    ProbeRecord,
    Record,
    Release,
    VerdictRecord,
)
from monitor.rules import DEFAULT_RULES
from monitor.store import Store, store_at
from monitor.store.postgres import PostgresStore
from tests.pgproxy import Proxy

START = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
RULE = DEFAULT_RULES["动态要闻"]


def targets() -> list[Target]:
    return [Target(f"t{n}", TargetKind.COLUMN, f"栏目{n}", f"http://127.0.0.1:8081/col/{n}/", "s1", "测试网站", "u1",
                   "测试单位", RULE) for n in range(5)]


def workload() -> list[list[Record]]:
    """Batches as the daemon writes them: probes (pages, failures, 304s, a long URL), a deadline verdict,
    notifications (one routed twice), availability probes and findings with an operator's mark."""
    batches: list[list[Record]] = []
    histories: dict[str, History] = {}
    verdicts: dict[str, Verdict] = {}
    for n in range(60):
        at = START + timedelta(minutes=n)
        tid = f"t{n % 5}"
        if n % 7 == 3:
            obs = Observation(tid, at, 12.4, None, error=FetchError.TIMEOUT, detail="timed out")
        elif n % 11 == 5:
            obs = Observation(tid, at, 3.0, 304, not_modified=True)
        else:
            day = (at - timedelta(days=n // 10)).date()
            items = tuple(Item(f"第{n // 10}-{k}项工作", f"http://127.0.0.1/{n // 10}/{k}.html" + "x" * 3000 * (k == 2),
                               day - timedelta(days=k)) for k in range(3))
            obs = Observation(tid, at, 12.0, 200, newest_date=day, items=items, content_hash=f"h{n // 10}",
                              final_url=f"http://127.0.0.1:8081/moved/{tid}/" if n % 13 == 0 else None)
        history = histories[tid] = advance(histories.get(tid, History()), obs)
        verdict = evaluate(RULE, history, at)
        changed = not verdict.same_as(verdicts.get(tid))
        verdicts[tid] = verdict
        outbox = (OutboxItem(f"{tid}|{verdict.state}|{n // 20}>u1/group", "u1/group", at, at,
                             {"kind": str(verdict.state), "column": f"栏目{tid}", "n": n}, target_id=tid),)
        record = ProbeRecord(obs, verdict, changed, history.newest_first_seen, f'"e{n}"', None,
                             obs.content_hash is not None, outbox if changed or n % 20 == 0 else ())
        if not batches or n % 9 == 0:
            batches.append([])
        batches[-1].append(record)
    later = START + timedelta(days=20)
    batches.append([VerdictRecord("t1", later, evaluate(RULE, histories["t1"], later)),
                    OutboxRecord((OutboxItem("t1|ladder|1>u1/sms", "u1/sms", later, later + timedelta(hours=1),
                                             {"kind": "ladder"}, suppressed="silenced#1", target_id="t1"),)),
                    *[HealthProbeRecord("s1", START + timedelta(minutes=10 * k), k % 4 != 1,
                                        None if k % 4 != 1 else "connect", 200 if k % 4 != 1 else None, 80.5)
                      for k in range(12)],
                    # when checks ran: the newest run of a (check, subject) is kept, whatever order they come in
                    CheckRunRecord("links", "s1", START + timedelta(hours=1)),
                    CheckRunRecord("links", "s1", START + timedelta(hours=2)),
                    CheckRunRecord("honest", "t1", START + timedelta(minutes=7, microseconds=250))])
    batches.append([CheckRunRecord("links", "s1", START), CheckRunRecord("availability", "s1", later)])
    known: dict[str, Known] = {}
    for when, seen in ((1, [Finding("word", "t1", "按装", State.YELLOW, "错别字「按装」", "u1", "s1", detail="首页")]),
                       (2, [Finding("word", "t1", "按装", State.RED, "错别字「按装」", "u1", "s1", evidence={"n": 2}),
                            Finding("word", "t1", "帐号", State.YELLOW, "错别字「帐号」", "u1", "s1")]),
                       (3, [])):
        changes = reconcile(known, seen, START + timedelta(hours=when))
        known.update({c.known.finding.uid: c.known for c in changes})
        batches.append([FindingsRecord(tuple(changes))])
    return batches


async def everything(store: Store) -> list[Any]:
    """Every read of the protocol, after the workload."""
    at = START + timedelta(days=21)
    uid = (await store.findings_list(None))[0]["uid"]
    await store.finding_mark(uid, Status.FALSE_POSITIVE, "张三", "误报", START + timedelta(hours=4))
    silence = await store.silence_add("site", "s1", at + timedelta(days=1), "维护", "李四", at)
    await store.silence_add("unit", "u1", at - timedelta(days=1), "过期", "李四", at - timedelta(days=2))
    await store.save_messages("box1", [Message("咨询", "http://127.0.0.1/m/1", date(2026, 3, 1), None,
                                               MessageStatus.PENDING, "办理中"),
                                       Message("投诉", None, date(2026, 2, 1), date(2026, 2, 3),
                                               MessageStatus.ANSWERED, "已回复")], at)
    due = await store.outbox_due("u1/group", at, 3)
    await store.outbox_sent([due[0].id], at)
    await store.outbox_failed([due[1].id], "HTTP 500", at + timedelta(minutes=5))
    dropped = await store.outbox_drop([due[2].id], "cli")
    states = await store.load_states()
    return [
        states, await store.load_states(["t2", "nope"]), await store.verdict_history("t1"),
        await store.observations("t3", 7), [(r.key, r.payload, r.attempts) for r in
                                           await store.outbox_due("u1/group", at + timedelta(hours=1), 50)],
        await store.outbox_next(), await store.outbox_pending([r.id for r in due]), dropped,
        {c: {k: v for k, v in s.items()} for c, s in (await store.outbox_stats()).items()},
        [{k: v for k, v in row.items() if k != "id"} for row in await store.outbox_list(None, 500)],
        [(s.scope, s.scope_id, s.ends_at, s.reason) for s in await store.silences(at)], silence > 0,
        sorted((k.finding.uid, k.status, k.finding.severity, k.finding.evidence) for k in await store.load_findings()),
        await store.findings_list("open"), await store.finding(uid),
        await store.finding_marks(START), await store.health_probes("s1", START + timedelta(minutes=25)),
        await store.recent_item_urls(["t1", "t2", "t3"], 5), await store.honest_history("t3"),
        await store.column_items("t4", date(2026, 2, 20)), await store.load_messages(),
        await store.report_targets(START, at), await store.verdicts_before(at),
        await store.finding_trails(["word"], at),
        await store.check_runs(), await store.check_runs(["t1", "nope"]),
    ]


async def run(location: str) -> list[Any]:
    store = store_at(location)
    await store.open()
    try:
        await store.sync_targets(targets(), START)
        await store.sync_targets(targets()[1:], START + timedelta(hours=1))  # t0 leaves the inventory
        for batch in workload():
            await store.write(batch)
        return await everything(store)
    finally:
        await store.close()


async def test_both_stores_give_back_the_same(tmp_path: Path, postgres_url: str) -> None:
    on_sqlite, on_postgres = await run(str(tmp_path / "s.sqlite3")), await run(postgres_url)
    for got, expected in zip(on_postgres, on_sqlite, strict=True):
        assert got == expected
    states, findings = on_sqlite[0], on_sqlite[12]
    assert states["t1"].verdict.state is State.RED and states["t3"].history.latest is not None
    assert sorted(f[1] for f in findings) == [Status.FALSE_POSITIVE, Status.GONE]
    assert len(on_sqlite[18][0]) == 3  # honest history: the items of the current list (none older since)
    assert [t.id for t in on_sqlite[21]] == ["t0", "t1", "t2", "t3", "t4"]  # t0 left, with verdicts in the span
    assert on_sqlite[24] == {("links", "s1"): START + timedelta(hours=2), ("availability", "s1"): START + timedelta(
        days=20), ("honest", "t1"): START + timedelta(minutes=7, microseconds=250)}
    assert on_sqlite[25] == {("honest", "t1"): START + timedelta(minutes=7, microseconds=250)}


async def test_a_failed_write_is_rolled_back_whole_and_the_next_is_stored(store_location: str) -> None:
    store = store_at(store_location)
    await store.open()
    try:
        good, bad = workload()[0], OutboxRecord((OutboxItem("k", "u1/group", START, START, {"x": object()}),))
        with pytest.raises(TypeError, match="not JSON serializable"):
            await store.write([*good, bad])  # the probes went in before the outbox item failed: all undone
        assert await store.load_states() == {} and await store.outbox_list() == []
        await store.write(good)
        assert set(await store.load_states()) == {r.observation.target_id for r in good if isinstance(r, ProbeRecord)}
    finally:
        await store.close()


async def test_compaction_keeps_what_is_read(store_location: str) -> None:
    """Three months of 3-hourly probes of one page with a failure in the middle, compacted before day 60: the
    runs' ends stay, and what the daemon and the checks read is the same."""
    store = store_at(store_location)
    await store.open()
    try:
        history, records = History(), []
        for k in range(90 * 8):
            at = START + timedelta(hours=3 * k)
            obs = (Observation("c1", at, 9.0, None, error=FetchError.TIMEOUT) if k == 200 else
                   Observation("c1", at, 9.0, 200, newest_date=date(2026, 3, 1) if k < 400 else date(2026, 4, 20),
                               items=(Item("通知", f"http://127.0.0.1/{k >= 400}.html", date(2026, 3, 1)),),
                               content_hash=f"h{k >= 400}"))
            history = advance(history, obs)
            records.append(ProbeRecord(obs, evaluate(RULE, history, at), k in (0, 200, 201, 400),
                                       history.newest_first_seen))
        await store.write(records)
        await store.write([HealthProbeRecord("s1", START + timedelta(hours=h), h != 50, None, 200, 10.0)
                           for h in range(100)])
        before = (await store.load_states(), await store.honest_history("c1"))
        assert await store.compact(START + timedelta(days=60), START + timedelta(hours=80)) == (480 - 6) + (80 - 4)
        assert await store.compact(START + timedelta(days=60), START + timedelta(hours=80)) == 0
        assert (await store.load_states(), await store.honest_history("c1")) == (
            before[0], (before[1][0], [t for t in before[1][1] if t >= START + timedelta(days=60)
                                       or t in (START, START + timedelta(hours=3 * 199),
                                                START + timedelta(hours=3 * 201), START + timedelta(hours=3 * 399),
                                                START + timedelta(hours=3 * 400))]))
        kept = [o["at"] for o in await store.observations("c1", 1000) if o["at"] < START + timedelta(days=60)]
        assert sorted(round((at - START).total_seconds() / 10800) for at in kept) == [0, 199, 200, 201, 399, 400]
    finally:
        await store.close()


async def test_held_items_are_kept_then_released_or_lapsed_and_retained_states_outlive_compaction(
        store_location: str) -> None:
    store = store_at(store_location)
    await store.open()
    try:
        def item(key: str, channel: str, payload: dict[str, Any], at: datetime = START, **kw: Any) -> OutboxItem:
            return OutboxItem(key, channel, at, at, payload, **kw)

        await store.write([OutboxRecord((
            item("a", "u1/group", {"kind": "red"}),
            item("y", "u1/group", {"kind": "yellow"}, suppressed="site_down", hold=True),
            item("r", "u1/group", {"kind": "red"}, suppressed="site_down", hold=True),
            item("s", "u1/group", {"kind": "red"}, suppressed="silenced#1"),
            *(item(f"m{k}", "mqtt", {"topic": f"gw/u1/column/c{k % 2}/state", "message": k, "retain": True},
                   START + timedelta(minutes=k)) for k in range(4)),
            item("e", "mqtt", {"topic": "gw/events", "message": 9, "retain": False}),
        ))])
        statuses = {i["key"]: i["status"] for i in await store.outbox_list()}
        assert [statuses[k] for k in "ayrs"] == ["pending", "held", "held", "suppressed"]
        held = await store.outbox_held()
        assert [(h.payload["kind"], h.reason) for h in held] == [("yellow", "site_down"), ("red", "site_down")]
        due = [r.id for r in await store.outbox_due("u1/group", START)]
        await store.outbox_settle([Release(held[1].id, {"kind": "red", "held": {"reason": "site_down"}}, START)],
                                  [held[0].id])
        assert await store.outbox_held() == []
        rows = await store.outbox_due("u1/group", START)
        assert [r.id for r in rows] == [*due, held[1].id] and rows[-1].payload["held"] == {"reason": "site_down"}
        assert {i["key"]: i["status"] for i in await store.outbox_list()}["y"] == "lapsed"
        mqtt = [r.id for r in await store.outbox_due("mqtt", START + timedelta(hours=1))]
        await store.outbox_sent(mqtt, START)
        assert [p["message"] for p in await store.mqtt_retained()] == [2, 3]  # the newest per topic, in order
        await store.compact(START + timedelta(days=1))
        assert [p["message"] for p in await store.mqtt_retained()] == [2, 3]
        assert {i["key"] for i in await store.outbox_list() if i["channel"] == "mqtt"} == {"m2", "m3"}
        silence = await store.silence_add("site", "s1", START + timedelta(days=1), "", "test", START, discard=True)
        assert [(s.id, s.discard) for s in await store.silences(START)] == [(silence, True)]
    finally:
        await store.close()


async def test_postgres_writes_on_after_the_database_was_gone(postgres_url: str) -> None:
    """The database goes away (every connection reset, new ones refused): a write fails with that cause and leaves
    nothing half-written; once it is back the store opens a new connection by itself and the same batch is stored."""
    proxy = await Proxy(postgres_url).start()
    store = PostgresStore(proxy.url)
    await store.open()
    batches = workload()
    try:
        await store.write(batches[0])
        proxy.cut()
        with pytest.raises((OSError, asyncpg.PostgresConnectionError)):  # reset, or refused when it reconnects
            await store.write(batches[1])
        proxy.restore()
        await store.write(batches[1])
        probed = [r.observation for b in batches[:2] for r in b if isinstance(r, ProbeRecord)]
        assert len(await store.observations("t0", 100)) == sum(1 for o in probed if o.target_id == "t0")
    finally:
        await store.close()
        await proxy.close()


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="needs postgresql-client")
async def test_postgres_backup_is_a_checked_pg_dump(postgres_url: str, tmp_path: Path) -> None:
    store = PostgresStore(postgres_url)
    await store.open()
    try:
        await store.write(workload()[0])
        await store.backup(tmp_path / "govwatch.dump")
    finally:
        await store.close()
    listed = subprocess.run(["pg_restore", "--list", str(tmp_path / "govwatch.dump")], capture_output=True,
                            text=True, check=True).stdout
    assert "TABLE DATA" in listed and " probes " in listed and " current " in listed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["govwatch.dump"]  # no partial file left


async def test_migrate_copies_the_whole_history(tmp_path: Path, postgres_url: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The demo quarter's SQLite store (probes, items, verdicts, findings, notifications) moved up with
    ``govwatch migrate``: the report, what every target resumes from, the checks' reads and the trail are the same
    on the copy; a second copy into the same database is refused."""
    from monitor.demo.quarter import simulate
    from monitor.report.history import quarter_report
    from monitor.report.html import render_html
    from monitor.report.score import Quarter

    quarter = Quarter.parse("2026Q4")
    inventory, path = await simulate(quarter, tmp_path)
    units = [(u.id, u.name) for u in inventory.model.units]
    ids = [t.id for t in inventory.targets]

    async def read(location: str) -> list[Any]:
        store = store_at(location)
        await store.open()
        try:
            return [render_html(await quarter_report(store, quarter, None, units, quarter.end)),
                    await store.load_states(), [await store.honest_history(tid) for tid in ids],
                    [await store.verdict_history(tid, 1000) for tid in ids],
                    [await store.observations(tid, 1000) for tid in ids], await store.findings_list(None),
                    [{k: v for k, v in row.items()} for row in await store.outbox_list(None, 10_000)],
                    await store.report_targets(quarter.start, quarter.end), await store.check_runs()]
        finally:
            await store.close()

    store = store_at(str(path))
    await store.open()  # a check's run, as the daemon records it (the demo quarter runs its honest check by hand)
    await store.write([CheckRunRecord("honest", ids[0], quarter.end - timedelta(hours=1))])
    await store.close()
    original = await read(str(path))
    assert original[-1][("honest", ids[0])] == quarter.end - timedelta(hours=1)
    assert await asyncio.to_thread(cli.main, ["migrate", "--from", str(path), "--to", postgres_url]) == 0
    assert "已迁移 copied" in capsys.readouterr().out
    copy = await read(postgres_url)
    for got, expected in zip(copy, original, strict=True):
        assert got == expected
    assert len(original[4][0]) > 50 and original[5]  # a quarter of daily probes, and findings
    assert await asyncio.to_thread(cli.main, ["migrate", "--from", str(path), "--to", postgres_url]) == 1
    assert "already holds a history" in capsys.readouterr().err
