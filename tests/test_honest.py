"""Honest dates: back-dated items and changed dates on crafted column histories."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from monitor.evaluate import TZ, Verdict
from monitor.honest import SeenItem, back_dated, date_changes
from monitor.model import Item, Observation, State
from monitor.store import ProbeRecord
from monitor.store.sqlite import SQLiteStore


def t(day: int, hour: int = 9) -> datetime:
    """A time in October 2026, Asia/Shanghai."""
    return datetime(2026, 10, day, hour, tzinfo=TZ)


def seen(url: str, claimed: str, first: datetime, last: datetime | None = None) -> SeenItem:
    return SeenItem(url, f"标题{url}", date.fromisoformat(claimed), first, last or t(31))


# Probed every day at 09:00 from 10-05 to 10-20.
PROBES = [t(d) for d in range(5, 21)]
BASE = [seen("a", "2026-10-01", t(5)), seen("b", "2026-10-03", t(5)), seen("c", "2026-10-08", t(9))]


def test_item_inserted_with_an_old_date_is_back_dated() -> None:
    forged = seen("x", "2026-10-06", t(15))  # claims 10-06, first appears on 10-15
    found = back_dated([*BASE, forged], PROBES)
    assert [f.item.url for f in found] == ["x"]
    assert found[0].missed_at == t(14) and found[0].days_late == 9
    assert "疑似倒签" in found[0].detail and "2026-10-06" in found[0].detail


def test_published_within_the_tolerance_is_not_back_dated() -> None:
    late = seen("y", "2026-10-12", t(14, 10))  # two days late, after the 09:00 probe of 10-14
    assert back_dated([*BASE, late], PROBES) == []
    # three days late: the 10-15 probe (from 10-15 00:00 on) did not show it
    assert [f.item.url for f in back_dated([*BASE, seen("y", "2026-10-12", t(15, 10))], PROBES)] == ["y"]
    # the tolerance is configurable
    assert back_dated([*BASE, seen("y", "2026-10-12", t(15, 10))], PROBES, tolerance_days=5) == []


def test_a_column_just_started_is_never_back_dated() -> None:
    # everything is first seen at the first successful probe, however old its date
    items = [seen("old", "2019-03-01", t(5)), seen("older", "2018-01-01", t(5))]
    assert back_dated(items, PROBES) == []
    assert back_dated(items, [t(5)]) == []
    assert back_dated(items, []) == []


def test_no_probe_in_between_means_no_finding() -> None:
    # govwatch could not read the column from 10-06 to 10-14: the item may have been there all along
    probes = [t(5), t(15)]
    assert back_dated([*BASE, seen("x", "2026-10-06", t(15))], probes) == []


def test_a_list_that_only_shifted_is_not_back_dated() -> None:
    # a newer item was deleted and an older one moved up onto the page: nothing older than it was
    # visible before, so the list did not reach back to its date
    items = [seen("n1", "2026-10-10", t(10)), seen("n2", "2026-10-11", t(11)),
             seen("moved-up", "2026-10-02", t(16))]
    assert back_dated(items, PROBES) == []
    # an older item visible before but gone when it appeared does not count either
    items.append(seen("gone", "2026-09-30", t(5), last=t(12)))
    assert back_dated(items, PROBES) == []


def test_date_changes_between_probes() -> None:
    previous = {"a": date(2026, 10, 1), "b": date(2026, 10, 3), "c": None}
    current = [Item("标题a", "a", date(2026, 10, 1)), Item("标题b", "b", date(2026, 10, 13)),
               Item("标题c", "c", date(2026, 10, 9)), Item("新", "d", date(2026, 10, 14))]
    changes = date_changes(previous, current)
    assert [(c.url, c.before, c.after) for c in changes] == [("b", date(2026, 10, 3), date(2026, 10, 13))]
    assert "由 2026-10-03 改为 2026-10-13" in changes[0].detail


async def test_from_the_store(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    await store.open()
    try:
        verdict = Verdict(State.GREEN, ("fresh",))
        lists = {5: ["a", "b"], 6: ["a", "b"], 7: ["a", "b"], 8: ["a", "b", "x"]}
        dates = {"a": date(2026, 10, 1), "b": date(2026, 10, 3), "x": date(2026, 10, 2)}
        records = []
        for day, urls in lists.items():
            items = tuple(Item(f"标题{u}", u, dates[u]) for u in urls)
            obs = Observation("col1", t(day).astimezone(UTC), 5.0, 200, newest_date=date(2026, 10, 3), items=items)
            records.append(ProbeRecord(obs, verdict, changed=day == 5))
        failed = Observation("col1", t(7, 12).astimezone(UTC), 5.0, None, error=None, detail="x")
        records.append(ProbeRecord(failed, verdict, changed=False, items_changed=False))
        await store.write(records)
        items = await store.items_history("col1")
        probes = await store.column_probes("col1")
        assert [p.astimezone(TZ) for p in probes] == [t(5), t(6), t(7), t(8)]
        found = back_dated(items, probes)
        assert [(f.item.url, f.missed_at.astimezone(TZ), f.days_late) for f in found] == [("x", t(7), 6)]
        assert all(i.first_seen.tzinfo is not None for i in items)
        assert t(8) - found[0].item.first_seen == timedelta(0)
    finally:
        await store.close()
