"""Honest dates: back-dated items and changed dates on crafted column histories."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ruamel.yaml import YAML

from monitor import config
from monitor.checks.honest import SeenItem, back_dated, findings, stored_date_changes
from monitor.evaluate import TZ, Verdict
from monitor.model import Item, Observation, State, Target
from monitor.records import ProbeRecord
from monitor.rules import DEFAULT_RULES
from monitor.service import monitoring
from monitor.store.sqlite import SQLiteStore
from tests.conftest import PageServer


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
    assert found[0].detail == ("标注日期 2026-10-06，但 2026-10-14 09:00 检测时栏目中尚无此条，"
                               "2026-10-15 09:00 才首次出现，晚 9 天")


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
    # as the store keeps them: b's date moved from 10-03 to 10-13; c was undated before; d is new
    current = [seen("a", "2026-10-01", t(5)),
               SeenItem("b", "标题b", date(2026, 10, 13), t(5), t(31), date(2026, 10, 3), None),
               SeenItem("c", "标题c", date(2026, 10, 9), t(5), t(31), None, t(9)),
               seen("d", "2026-10-14", t(14))]
    changes = stored_date_changes(current)
    assert [(c.url, c.before, c.after) for c in changes] == [("b", date(2026, 10, 3), date(2026, 10, 13))]
    assert changes[0].detail == "检测发现改动"  # when unknown; the finding's title names both dates


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
        items, probes = await store.honest_history("col1")
        assert [p.astimezone(TZ) for p in probes] == [t(5), t(6), t(7), t(8)]
        found = back_dated(items, probes)
        assert [(f.item.url, f.missed_at.astimezone(TZ), f.days_late) for f in found] == [("x", t(7), 6)]
        assert all(i.first_seen.tzinfo is not None for i in items)
        assert t(8) - found[0].item.first_seen == timedelta(0)
    finally:
        await store.close()


COLUMN = Target("s1-news", "column", "工作动态", "http://127.0.0.1:8081/news/", "s1", "测试县人民政府网站", "u1",
                "测试县人民政府办公室", DEFAULT_RULES["动态要闻"])


def test_findings_while_the_item_is_listed() -> None:
    # the latest list (last seen 10-20) shows a, b, c and the forged x; "gone" left the list on 10-12
    now_listed = t(20)
    items = [seen("a", "2026-10-01", t(5), now_listed), seen("b", "2026-10-03", t(5), now_listed),
             seen("c", "2026-10-08", t(9), now_listed), seen("x", "2026-10-06", t(15), now_listed),
             seen("gone", "2026-10-04", t(10), t(12))]
    items[1] = SeenItem("b", "标题b", date(2026, 10, 13), t(5), now_listed, date(2026, 10, 3), t(13))
    found = {f.check: f for f in findings(COLUMN, items, PROBES)}
    assert set(found) == {"backdated", "date_changed"}
    forged = found["backdated"]
    assert (forged.severity, forged.subject, forged.key, forged.unit_id, forged.site_id) == (
        State.RED, "s1-news", "x", "u1", "s1")
    # the title says what and where, the detail the evidence: each once (the report prints both in one cell)
    assert forged.title == "测试县人民政府网站「工作动态」栏目「标题x」疑似伪造发稿日期"
    assert forged.detail == ("标注日期 2026-10-06，但 2026-10-14 09:00 检测时栏目中尚无此条，"
                             "2026-10-15 09:00 才首次出现，晚 9 天。信息地址：x")
    assert forged.evidence["missed_at"].startswith("2026-10-14T09:00") and forged.evidence["days_late"] == 9
    changed = found["date_changed"]
    assert changed.severity is State.YELLOW and changed.key == "b"
    assert changed.title.endswith("「标题b」发布日期由 2026-10-03 改为 2026-10-13")
    assert changed.detail == "2026-10-13 09:00 检测发现改动。信息地址：b"  # the title has the item and both dates
    # "gone" (dated 10-04, first seen 10-10) was back-dated too, but had left the list: no finding for it.
    assert all(f.key != "gone" for f in found.values())
    # once the forged item has left the list too (a later list without it), its finding is gone
    later = [replace_last(i, t(25)) for i in items[:3]] + items[3:]
    assert [f.check for f in findings(COLUMN, later, [*PROBES, t(25)])] == ["date_changed"]


def replace_last(item: SeenItem, last: datetime) -> SeenItem:
    return SeenItem(item.url, item.title, item.date, item.first_seen, last, item.prev_date, item.date_changed_at)


def page(items: list[tuple[int, str, str]]) -> str:
    """A TRS-style list page whose item links are stable document ids (as real CMSs give them)."""
    lis = "\n".join(f'<li><a href="./202611/t{doc}.html" title="{title}">{title}</a><span>{day}</span></li>'
                    for doc, title, day in items)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>工作动态_测试县人民政府网站</title></head><body>
<div class="top">今天是2026年11月13日 星期五</div>
<div class="nav"><a href="/">首页</a><a href="/zwgk/">政务公开</a><a href="/hdjl/">互动交流</a></div>
<div class="main"><div class="location">当前位置：首页 &gt; 工作动态</div>
<ul class="list">
{lis}
</ul><div class="pages">共{len(items)}条 第1/1页</div></div>
<div class="footer">主办单位：测试县人民政府办公室 电话：0571-88888888 ICP备05012345号 © 2003-2026</div>
</body></html>"""


OLD = [(1001, "县政府召开安全生产工作推进会", "2026-11-09"), (1000, "县领导调研乡村振兴工作", "2026-11-05"),
       (999, "县应急管理局开展森林防火专项检查", "2026-10-30"), (998, "城关镇扎实推进河长制工作", "2026-10-26")]


async def test_daemon_path_end_to_end(tmp_path: Path, page_server: PageServer) -> None:
    """A real monitor, SQLite store and loopback pages: probes at set clocks, then the periodic check."""
    page_server.set("/news/", page(OLD))
    data = {
        "settings": {"store": str(tmp_path / "govwatch.sqlite3"),
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"}},
        "units": [{"id": "u1", "name": "测试县人民政府办公室"}],
        "sites": [{"id": "s1", "name": "测试县人民政府网站", "unit": "u1", "homepage": page_server.url("/"),
                   "check_homepage": False, "columns": [
                       {"id": "news", "name": "工作动态", "url": page_server.url("/news/"), "category": "动态要闻"},
                       {"id": "late", "name": "部门动态", "url": page_server.url("/late/"), "category": "动态要闻"}]}],
    }
    YAML().dump(data, tmp_path / "inv.yaml")
    inventory = config.load(tmp_path / "inv.yaml")
    clock = [datetime(2026, 11, 10, 9, tzinfo=TZ)]

    def honest(monitor) -> dict[str, list]:
        return {check: sorted(monitor.findings.get((check, subject), {}).values(), key=lambda k: k.finding.key)
                for check in ("backdated", "date_changed") for subject in ("news", "late")
                if monitor.findings.get((check, subject))}

    async with monitoring(inventory) as monitor:
        monitor.clock = lambda: clock[0]
        # 11-10: the first probe of "news" (items dated back to 10-26); "late" cannot be read yet
        await monitor.sweep_once()
        await monitor.check_once()
        assert honest(monitor) == {}
        # 11-12: a genuine new item
        clock[0] = datetime(2026, 11, 12, 9, tzinfo=TZ)
        page_server.set("/news/", page([(1002, "县政府常务会议研究营商环境优化工作", "2026-11-12"), *OLD]))
        await monitor.sweep_once()
        await monitor.check_once()
        assert honest(monitor) == {}
        # 11-13: an item claiming 11-02 (10 days before the last probe) appears below the 11-05 one, and the
        # 11-09 item now claims 11-11; "late" is read for the first time, with items as old as 2025
        clock[0] = datetime(2026, 11, 13, 9, tzinfo=TZ)
        forged = (1003, "关于2026年秋冬季森林防火工作的部署情况", "2026-11-02")
        redated = (1001, "县政府召开安全生产工作推进会", "2026-11-11")
        page_server.set("/news/", page([(1002, "县政府常务会议研究营商环境优化工作", "2026-11-12"), redated,
                                        OLD[1], forged, *OLD[2:]]))
        page_server.set("/late/", page([(501, "部门召开年度总结会", "2026-09-01"),
                                        (500, "部门开展培训", "2025-12-01")]))
        await monitor.sweep_once()
        await monitor.check_once()
        found = honest(monitor)
        assert set(found) == {"backdated", "date_changed"}  # nothing for "late", read once
        (back,), (moved,) = found["backdated"], found["date_changed"]
        assert back.finding.subject == "news" and back.finding.severity is State.RED
        assert back.finding.key.endswith("/202611/t1003.html")
        assert back.finding.title.endswith("「关于2026年秋冬季森林防火工作的部署情况」疑似伪造发稿日期")
        assert back.finding.detail.startswith("标注日期 2026-11-02，但 2026-11-12 09:00 检测时栏目中尚无此条，"
                                              "2026-11-13 09:00 才首次出现")
        assert back.finding.evidence["missed_at"].startswith("2026-11-12T09:00")
        assert moved.finding.severity is State.YELLOW
        assert moved.finding.title.endswith("「县政府召开安全生产工作推进会」发布日期由 2026-11-09 改为 2026-11-11")
        # the next run sees the same: no new event
        await monitor.check_once()
        assert [k.first_seen for k in monitor.findings[("backdated", "news")].values()] == [clock[0]]

    db = sqlite3.connect(tmp_path / "govwatch.sqlite3")
    rows = db.execute("SELECT check_name, subject, severity, status FROM findings"
                      " WHERE check_name IN ('backdated', 'date_changed') ORDER BY check_name").fetchall()
    assert rows == [("backdated", "news", "red", "open"), ("date_changed", "news", "yellow", "open")]
    assert db.execute("SELECT prev_date, date FROM items WHERE url LIKE '%t1001.html'").fetchone() == (
        "2026-11-09", "2026-11-11")
    db.close()
