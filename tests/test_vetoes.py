"""The site's column vetoes: counted from verdicts (pure), and announced through the outbox when they move."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from ruamel.yaml import YAML

from alerts import texts
from alerts.engine import Alerter
from monitor import config
from monitor.daemon import Tracked
from monitor.evaluate import TZ, History, Reason, Verdict
from monitor.model import State, Target
from monitor.records import OutboxItem, OutboxRecord
from monitor.rules import DEFAULT_RULES
from monitor.service import monitoring
from monitor.store.sqlite import SQLiteStore
from monitor.vetoes import site_vetoes
from tests.conftest import Endpoint, PageServer
from tests.test_alerts_delivery import inventory, wait_for

STALE = Verdict(State.RED, (Reason.STALE,), date(2026, 1, 1))
BLANK = Verdict(State.RED, (Reason.EMPTY,))
FRESH = Verdict(State.GREEN, (Reason.FRESH,), date(2026, 11, 20))


def column(n: int, category: str, kind: str = "column") -> Target:
    return Target(f"c{n}", kind, f"栏目{n}", f"http://127.0.0.1:9/{n}/", "s1", "青溪县人民政府网站", "u1", "县政府办",
                  DEFAULT_RULES[category])


def states(pairs: list[tuple[Target, Verdict]]) -> dict[str, tuple[State, int]]:
    return {v.rule.kind: (v.state, v.count) for v in site_vetoes(pairs)}


def test_one_more_stale_column_and_the_site_fails() -> None:
    news = [(column(i, "动态要闻" if i % 2 else "通知公告"), STALE) for i in range(4)]
    assert states(news)["stale_news_notices"] == (State.YELLOW, 4)
    five = [*news, (column(4, "政策文件"), STALE)]
    assert states(five)["stale_news_notices"] == (State.RED, 5)
    assert site_vetoes(five)[0].detail == "动态要闻、通知公告、政策文件栏目超期未更新已达 5 个（5 个即单项否决）"
    assert site_vetoes(news)[0].detail == "动态要闻、通知公告、政策文件栏目超期未更新已有 4 个，再有 1 个即单项否决"
    # 人事 / 规划 do not count for the first veto, but do for "long not updated"
    others = [(column(10 + i, "人事信息"), STALE) for i in range(7)]
    assert states(others) == {"stale_news_notices": (State.GREEN, 0), "long_stale": (State.YELLOW, 7),
                              "blank": (State.GREEN, 0)}
    assert states(others + five)["long_stale"] == (State.RED, 12)


def test_blank_columns_and_what_does_not_count() -> None:
    blanks = [(column(i, "通知公告"), BLANK) for i in range(3)]
    assert states(blanks)["blank"] == (State.YELLOW, 3)
    assert states(blanks + [(column(9, "动态要闻"), FRESH)] * 3)["blank"] == (State.YELLOW, 3)
    homepages = [(column(i, "首页", kind="homepage"), STALE) for i in range(6)]
    assert states(homepages)["stale_news_notices"] == (State.GREEN, 0)


def test_veto_messages_say_what_fails_and_fit_an_sms() -> None:
    fact = {"kind": "veto_yellow", "state": "yellow", "reasons": ["stale_news_notices"], "unit": "县政府办",
            "site": "青溪县人民政府网站", "column": "动态要闻、通知公告、政策文件栏目超期未更新",
            "category": "单项否决",
            "rule": "…", "detail": "动态要闻、通知公告、政策文件栏目超期未更新已有 4 个，再有 1 个即单项否决",
            "columns": ["工作动态", "通知公告"], "url": "http://127.0.0.1:9/", "board": "http://127.0.0.1:8470/unit/u1",
            "newest_date": None, "days_since": None, "days_overdue": None, "days_left": None, "target_kind": "site",
            "at": datetime(2026, 11, 26, tzinfo=TZ).isoformat()}
    title, body = texts.single(fact)
    assert title == "【政府网站监测】否决预警：网站即将因栏目问题被单项否决"
    assert "情况：动态要闻、通知公告、政策文件栏目超期未更新已有 4 个，再有 1 个即单项否决" in body
    assert "涉及栏目：工作动态、通知公告" in body
    assert len(texts.sms([fact], "http://127.0.0.1:8470/")) <= texts.SMS_LIMIT


async def test_the_unit_hears_before_the_site_fails_and_the_office_when_it_does(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, page_server, endpoint, columns=5, step=1, escalate_after=None)
    async with monitoring(inv) as monitor:
        monitor.start()
        await wait_for(lambda: any("单项否决" in m["body"]["title"] for m in endpoint.messages("office")), 30)

    def told(path: str) -> str:
        return "\n".join(m["body"]["title"] + "\n" + m["body"]["message"] for m in endpoint.messages(path))

    group = told("group")
    assert "再有 1 个即单项否决" in group  # the 4th stale column: yellow for the site
    assert "已达 5 个（5 个即单项否决）" in group  # the 5th: the site fails
    office = told("office")
    assert "单项否决" in office and "否决预警" not in office  # the office hears only that the site fails
    assert sum(1 for m in endpoint.messages("office") if "单项否决" in m["body"]["title"]) == 1


async def test_in_a_cluster_only_the_daemon_speaking_for_the_site_announces_its_vetoes(tmp_path: Path) -> None:
    """A site's columns on two hosts, held by two daemons: the columns of the other host reach the daemon holding
    the site's host as read-back verdicts (``fleet_change``), and the veto they complete is announced from there
    once; the other daemon, whose own change completes nothing in its view, announces nothing."""
    data = {"settings": {"checks": [], "store": str(tmp_path / "govwatch.sqlite3")},
            "units": [{"id": "u1", "name": "县政府办", "receivers": [{"id": "group", "url": "json://127.0.0.1:9/g"}]}],
            "sites": [{"id": "s1", "name": "青溪县人民政府网站", "unit": "u1", "homepage": "http://127.0.0.1:9/",
                       "check_homepage": False, "columns": [
                           {"id": f"c{i}", "name": f"乡镇动态{i}", "category": "动态要闻",
                            "url": f"http://127.0.0.1:{9 if i < 3 else 10}/c{i}/"} for i in range(5)]}]}
    path = tmp_path / "inventory.yaml"
    YAML().dump(data, path)
    inv = config.load(path)
    at = datetime(2026, 12, 5, 10, tzinfo=TZ)

    def daemon(speaks_for_site: bool) -> tuple[Alerter, list[OutboxRecord]]:
        tracked = {t.id: Tracked(t, History(), FRESH) for t in inv.targets}
        written: list[OutboxRecord] = []
        alerter = Alerter(inv, tracked, lambda: at, SQLiteStore(tmp_path / "govwatch.sqlite3"), written.append)
        alerter.owns_subject = lambda subject: speaks_for_site
        return alerter, written

    def vetoes(items: Iterable[OutboxItem]) -> set[str]:
        return {str(i.payload["kind"]) for i in items if str(i.payload["kind"]).startswith("veto_")}

    site, site_written = daemon(True)  # holds 127.0.0.1:9, the site's host: columns c0-c2
    other, other_written = daemon(False)  # holds 127.0.0.1:10: columns c3 and c4
    for tid in ("c0", "c1", "c2"):  # three stale columns: nothing to announce yet
        target = site.tracked[tid].target
        assert vetoes(site.outbox_for(target, STALE, FRESH, at)) == set()
        site.tracked[tid].verdict = STALE
        other.fleet_change(target, STALE, FRESH)
        other.tracked[tid].verdict = STALE
    target = other.tracked["c3"].target  # the fourth: yellow for the site, but not said by the other daemon
    assert vetoes(other.outbox_for(target, STALE, FRESH, at)) == set()
    other.tracked["c3"].verdict = STALE
    site.fleet_change(target, STALE, FRESH)
    site.tracked["c3"].verdict = STALE
    assert [vetoes(r.items) for r in site_written] == [{"veto_yellow"}]
    target = other.tracked["c4"].target  # the fifth: the site fails
    assert vetoes(other.outbox_for(target, STALE, FRESH, at)) == set()
    site.fleet_change(target, STALE, FRESH)
    assert [vetoes(r.items) for r in site_written] == [{"veto_yellow"}, {"veto_red"}]
    assert other_written == []
    # a veto held while the site was down is settled by the daemon speaking for the site only
    store = SQLiteStore(tmp_path / "govwatch.sqlite3")
    await store.open()
    try:
        site.store = other.store = store
        payload = {"kind": "veto_red", "state": "red", "site_id": "s1", "unit_id": "u1",
                   "reasons": ["stale_news_notices"], "target_id": None}
        await store.write([OutboxRecord((OutboxItem("veto|s1|held", "u1/group", at, at, payload,
                                                    suppressed="site_down", hold=True),))])
        await other.settle_held()
        assert len(await store.outbox_held()) == 1
        await site.settle_held()
        assert await store.outbox_held() == []
    finally:
        await store.close()
