"""The pure alert core: what is told, to whom, when, and in which words — all with ``now`` as an argument."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from alerts import texts
from alerts.policy import Alert, change_alerts, next_reminder, scheduled_alerts
from alerts.routing import quiet_until, route
from monitor.config import AlertSettings, LadderStep, ReceiverModel, UnitModel
from monitor.durations import Duration
from monitor.evaluate import TZ, Verdict, freshness
from monitor.model import Target
from monitor.rules import DEFAULT_RULES

RULE = DEFAULT_RULES["动态要闻"]
TARGET = Target("s1-c1", "column", "乡镇动态", "http://127.0.0.1:9/xzdt/", "s1", "青溪县人民政府网站", "u1",
                "青溪县人民政府办公室", RULE)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def verdict(newest: str, now: str) -> Verdict:
    return freshness(RULE, date.fromisoformat(newest), None, at(now))


UNITS = {
    "u1": UnitModel(id="u1", name="青溪县人民政府办公室", receivers=(
        ReceiverModel(id="group", url="json://127.0.0.1:9/group"),
        ReceiverModel(id="sms", url="json://127.0.0.1:9/sms", kind="sms", quiet_hours="22:00-08:00"),
        ReceiverModel(id="leader", url="json://127.0.0.1:9/leader", kind="sms", on=()),
    )),
    "gkb": UnitModel(id="gkb", name="县政务公开办", receivers=(ReceiverModel(id="office", url="json://127.0.0.1:9/o"),)),
}
SETTINGS = AlertSettings(supervisor="gkb")


def channels(alert: Alert, now: str) -> dict[str, datetime]:
    return {i.channel: i.not_before for i in route(alert, UNITS, SETTINGS, "http://127.0.0.1:8470/", at(now))}


def test_changes_make_yellow_red_and_recovered_only() -> None:
    green, yellow = verdict("2026-03-01", "2026-03-05T10:00"), verdict("2026-03-01", "2026-03-13T10:00")
    red = verdict("2026-03-01", "2026-03-20T10:00")
    assert [a.kind for a in change_alerts(TARGET, green, yellow, at("2026-03-12T00:00"))] == ["yellow"]
    assert [a.kind for a in change_alerts(TARGET, yellow, red, at("2026-03-16T00:00"))] == ["red"]
    assert [a.kind for a in change_alerts(TARGET, red, green, at("2026-03-20T10:00"))] == ["recovered"]
    assert change_alerts(TARGET, None, green, at("2026-03-05T10:00")) == []
    assert change_alerts(TARGET, red, red, at("2026-03-20T10:00")) == []
    # the same crossing computed twice (e.g. after a restart) has the same key
    again = change_alerts(TARGET, None, red, at("2026-03-21T09:00"))
    assert again[0].key == change_alerts(TARGET, yellow, red, at("2026-03-16T00:00"))[0].key


def test_yellow_goes_to_chat_red_also_to_sms_and_quiet_hours_hold_sms() -> None:
    yellow = change_alerts(TARGET, None, verdict("2026-03-01", "2026-03-13T10:00"), at("2026-03-13T10:00"))[0]
    assert set(channels(yellow, "2026-03-13T10:00")) == {"u1/group"}
    red = change_alerts(TARGET, None, verdict("2026-03-01", "2026-03-16T00:00"), at("2026-03-16T00:00"))[0]
    sent = channels(red, "2026-03-16T00:00")
    assert set(sent) == {"u1/group", "u1/sms"}
    assert sent["u1/group"] == at("2026-03-16T00:00")  # chat at once
    assert sent["u1/sms"] == at("2026-03-16T08:00")  # SMS held until quiet hours end


def test_quiet_hours_across_midnight_and_inside_a_day() -> None:
    assert quiet_until("22:00-08:00", at("2026-03-16T23:30")) == at("2026-03-17T08:00")
    assert quiet_until("22:00-08:00", at("2026-03-16T07:59")) == at("2026-03-16T08:00")
    assert quiet_until("22:00-08:00", at("2026-03-16T08:00")) is None
    assert quiet_until("12:00-13:30", at("2026-03-16T12:10")) == at("2026-03-16T13:30")
    assert quiet_until(None, at("2026-03-16T23:00")) is None


def test_ladder_escalation_and_reminders_are_scheduled_at_their_instants() -> None:
    ladder = (LadderStep(after=Duration.parse("10d"), to=("sms",)), LadderStep(after=Duration.parse("12d"),
                                                                             to=("leader",)))
    green = verdict("2026-03-01", "2026-03-02T10:00")
    ahead = scheduled_alerts(TARGET, green, at("2026-03-02T10:00"), SETTINGS, ladder)
    assert [(when, a.kind, a.to) for when, a in ahead] == [
        (at("2026-03-11T00:00"), "ladder", ("sms",)), (at("2026-03-13T00:00"), "ladder", ("leader",))]
    assert set(channels(ahead[1][1], "2026-03-13T00:00")) == {"u1/leader"}  # named, whatever its `on`

    red = verdict("2026-03-01", "2026-03-16T00:00")  # red from Monday 2026-03-16 00:00
    ahead = scheduled_alerts(TARGET, red, at("2026-03-16T00:00"), SETTINGS)
    kinds = {a.kind: when for when, a in ahead}
    assert kinds["repeat"] == at("2026-03-16T09:00")
    assert kinds["escalation"] == at("2026-03-19T00:00")  # 3 days red → supervisor
    escalation = next(a for _, a in ahead if a.kind == "escalation")
    assert set(channels(escalation, "2026-03-19T00:00")) == {"gkb/office"}


@pytest.mark.parametrize(("after", "expected"), [
    ("2026-09-30T10:00", "2026-10-08T09:00"),  # National Day holiday 10-01…10-07 skipped
    ("2026-10-09T10:00", "2026-10-10T09:00"),  # Saturday 10-10 is a make-up working day (调休)
    ("2026-02-13T10:00", "2026-02-14T09:00"),  # Saturday 02-14 is a make-up working day before Spring Festival
    ("2026-02-14T10:00", "2026-02-24T09:00"),  # Spring Festival holiday
    ("2026-03-13T10:00", "2026-03-16T09:00"),  # an ordinary weekend
])
def test_reminders_follow_the_official_calendar(after: str, expected: str) -> None:
    from datetime import time

    assert next_reminder(at(after), time(9, 0)) == at(expected)


def _fact(kind: str, days_overdue: int | None = 26, **extra: object) -> dict:
    v = verdict("2026-10-17", "2026-11-26T10:00")
    fact = route(Alert(kind, TARGET, v, at("2026-11-26T10:00"), "k"), UNITS, SETTINGS, "http://127.0.0.1:8470/",
                 at("2026-11-26T10:00"))[0].payload
    return {**fact, "days_overdue": days_overdue, **extra}


def test_message_names_everything_a_staff_member_needs() -> None:
    title, body = texts.single(_fact("red"))
    assert title == "【政府网站监测】红色预警：栏目超期未更新"
    for part in ("单位：青溪县人民政府办公室", "网站：青溪县人民政府网站", "栏目：乡镇动态（动态要闻）",
                 "最新信息日期：2026-10-17（已 40 天未更新，已超期 26 天）", "规则：动态要闻类栏目 2 周内须更新",
                 "栏目地址：http://127.0.0.1:9/xzdt/", "看板：http://127.0.0.1:8470/target/s1-c1"):
        assert part in body


def test_grouped_message_counts_and_lists_worst_first() -> None:
    facts = [_fact("yellow", days_overdue=None, days_left=2, column="政务要闻"), _fact("red"),
             _fact("red", column="通知公告", days_overdue=40)]
    title, body = texts.grouped(facts, "http://127.0.0.1:8470/")
    assert title == "【政府网站监测】青溪县人民政府办公室：超期 2 项，预警 1 项"
    lines = body.splitlines()
    assert lines[0].startswith("[超期] 青溪县人民政府网站「通知公告」") and "已超期 40 天" in lines[0]
    assert lines[2].startswith("[预警]") and "距期限 2 天" in lines[2]


def test_sms_fits_one_message_with_its_link() -> None:
    long_site = "某某省某某市某某县某某乡镇人民政府和某某县发展和改革委员会联合门户网站"
    for facts in ([_fact("red")], [_fact("red", site=long_site)], [_fact("red"), _fact("red", column="通知公告")],
                  [_fact("yellow", days_overdue=None, days_left=3, unit=long_site)]):
        text = texts.sms(facts, "http://127.0.0.1:8470/")
        assert len(text) <= texts.SMS_LIMIT, text
        assert text.startswith("【监测预警】") and "http://127.0.0.1:8470/" in text
    assert texts.sms([_fact("red")], None) == (
        "【监测预警】“青溪县人民政府网站乡镇动态”已超期26天未更新，请即处理 http://127.0.0.1:8470/target/s1-c1")


def test_wecom_scheme_is_rejected_with_the_reason() -> None:
    with pytest.raises(ValueError, match="Pushplus"):
        ReceiverModel(id="x", url="wecom://token")


def test_days_since_and_deadline_in_facts() -> None:
    fact = _fact("red")
    assert (fact["days_since"], fact["days_overdue"], fact["newest_date"]) == (40, 26, "2026-10-17")
    assert fact["at"].startswith("2026-11-26")
    assert at("2026-11-26T10:00") - timedelta(days=40) < at("2026-11-26T10:00")


def test_messages_name_what_they_are_about() -> None:
    assert texts.single(_fact("red", target_kind="homepage"))[0] == "【政府网站监测】红色预警：首页超期未更新"
    title, body = texts.single(_fact("yellow", days_overdue=None, days_left=2, target_kind="account",
                                        column="青溪发布（微博）", category="政务新媒体"))
    assert title == "【政府网站监测】黄色预警：账号临近更新期限"
    assert "账号：青溪发布（微博）（政务新媒体）" in body and "数据源地址：" in body
