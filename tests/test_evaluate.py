"""The pure verdict: boundaries per category, unknown versus red, page changed versus stale."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from monitor.durations import Duration, add_months
from monitor.evaluate import TZ, History, Reason, advance, evaluate
from monitor.model import EmptyReason, FetchError, Observation, State
from monitor.rules import DEFAULT_RULES, Rule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def seen(newest: date | None, when: str = "2026-01-01T08:00", **extra) -> Observation:
    return Observation("t1", at(when), 12.0, 200, newest_date=newest, signature=extra.pop("signature", "ul.list"),
                       **extra)


def verdict_at(rule: Rule, newest: date, now: str):
    history = advance(History(), seen(newest, "2020-01-01T00:00"))
    return evaluate(rule, history, at(now))


# newest item date, last green instant, first yellow instant, last yellow instant, first red instant
BOUNDARIES = {
    # 2 weeks: red from the start of D+15, yellow 4 days before that.
    "动态要闻": ("2026-03-01", "2026-03-11T23:59:59", "2026-03-12T00:00", "2026-03-15T23:59:59", "2026-03-16T00:00"),
    "首页": ("2026-03-01", "2026-03-11T23:59:59", "2026-03-12T00:00", "2026-03-15T23:59:59", "2026-03-16T00:00"),
    # 6 calendar months: 2026-03-31 → red from 2026-10-01 (end of 03-31 + 6 months), yellow 30 days before.
    "通知公告": ("2026-03-31", "2026-08-31T23:59:59", "2026-09-01T00:00", "2026-09-30T23:59:59", "2026-10-01T00:00"),
    "政策文件": ("2026-03-31", "2026-08-31T23:59:59", "2026-09-01T00:00", "2026-09-30T23:59:59", "2026-10-01T00:00"),
    # 12 calendar months: 2025-02-28 → red from 2026-03-01, yellow 60 days before (2025-12-31).
    "人事信息": ("2025-02-28", "2025-12-30T23:59:59", "2025-12-31T00:00", "2026-02-28T23:59:59", "2026-03-01T00:00"),
    "规划计划": ("2025-02-28", "2025-12-30T23:59:59", "2025-12-31T00:00", "2026-02-28T23:59:59", "2026-03-01T00:00"),
}


@pytest.mark.parametrize("category", sorted(BOUNDARIES))
def test_category_boundaries(category: str) -> None:
    rule = DEFAULT_RULES[category]
    newest_text, last_green, first_yellow, last_yellow, first_red = BOUNDARIES[category]
    newest = date.fromisoformat(newest_text)
    assert verdict_at(rule, newest, last_green).state is State.GREEN
    assert verdict_at(rule, newest, first_yellow).state is State.YELLOW
    assert verdict_at(rule, newest, last_yellow).state is State.YELLOW
    red = verdict_at(rule, newest, first_red)
    assert red.state is State.RED
    assert red.deadline == at(first_red)
    assert red.reasons == (Reason.STALE,)
    assert "已超期 1 天" in red.detail


def test_next_change_points_at_the_crossings() -> None:
    rule = DEFAULT_RULES["动态要闻"]
    green = verdict_at(rule, date(2026, 3, 1), "2026-03-02T10:00")
    assert green.next_change == at("2026-03-12T00:00")
    yellow = verdict_at(rule, date(2026, 3, 1), "2026-03-13T10:00")
    assert yellow.next_change == at("2026-03-16T00:00")
    assert "距期限 3 天" in yellow.detail
    assert verdict_at(rule, date(2026, 3, 1), "2026-04-01T10:00").next_change is None


def test_calendar_months_clamp_to_month_end() -> None:
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 12, 15), 2) == date(2028, 2, 15)
    assert add_months(date(2026, 1, 31), -2) == date(2025, 11, 30)


def test_durations_parse_and_reject() -> None:
    assert Duration.parse("14d") == Duration(seconds=14 * 86400)
    assert Duration.parse("6mo") == Duration(months=6)
    assert Duration.parse("90s").whole_days is False
    assert Duration.parse("1y") == Duration(months=12)
    for bad in ("14", "6 months", "1.5d", "-3d", "", "3m"):
        with pytest.raises(ValueError, match="not a duration"):
            Duration.parse(bad)


def test_fetch_failure_is_unknown_never_red() -> None:
    rule = DEFAULT_RULES["动态要闻"]
    history = advance(History(), seen(date(2025, 1, 1), "2026-01-01T08:00"))
    assert evaluate(rule, history, at("2026-01-01T09:00")).state is State.RED
    failed = Observation("t1", at("2026-01-02T08:00"), 15000.0, error=FetchError.TIMEOUT, detail="timeout after 15 s")
    history = advance(history, failed)
    verdict = evaluate(rule, history, at("2026-01-02T09:00"))
    assert verdict.state is State.UNKNOWN
    assert verdict.reasons == (Reason.FETCH_FAILED,)
    assert "timeout after 15 s" in verdict.detail
    assert verdict.newest_date == date(2025, 1, 1)  # the last known date is still shown


def test_list_that_disappears_is_page_changed_not_stale() -> None:
    rule = DEFAULT_RULES["通知公告"]
    history = advance(History(), seen(date(2026, 1, 1)))
    for reason in (EmptyReason.NO_LIST, EmptyReason.NO_DATES, EmptyReason.EMPTY):
        later = advance(history, seen(None, "2026-01-05T08:00", reason=reason))
        verdict = evaluate(rule, later, at("2026-01-05T09:00"))
        assert verdict.state is State.UNKNOWN
        assert verdict.reasons == (Reason.PAGE_CHANGED,)
        # it stays "page changed" on later probes, until a dated list is read again
        again = advance(later, seen(None, "2026-01-06T08:00", reason=reason))
        assert evaluate(rule, again, at("2026-01-06T09:00")).reasons == (Reason.PAGE_CHANGED,)


def test_redesigned_list_keeps_its_date_and_says_page_changed() -> None:
    rule = DEFAULT_RULES["动态要闻"]
    history = advance(History(), seen(date(2026, 1, 1)))
    history = advance(history, seen(date(2026, 1, 2), "2026-01-03T08:00", signature="div.news-list"))
    verdict = evaluate(rule, history, at("2026-01-03T09:00"))
    assert verdict.state is State.GREEN
    assert verdict.reasons == (Reason.FRESH, Reason.PAGE_CHANGED)


def test_never_read_pages() -> None:
    rule = DEFAULT_RULES["动态要闻"]
    assert evaluate(rule, History(), at("2026-01-01T00:00")).reasons == (Reason.NOT_PROBED,)
    cases = {
        EmptyReason.EMPTY: (State.RED, Reason.EMPTY),
        EmptyReason.JS_RENDERED: (State.UNKNOWN, Reason.JS_RENDERED),
        EmptyReason.NO_LIST: (State.UNKNOWN, Reason.UNREADABLE),
        EmptyReason.NO_DATES: (State.UNKNOWN, Reason.UNREADABLE),
    }
    for reason, (state, code) in cases.items():
        verdict = evaluate(rule, advance(History(), seen(None, reason=reason)), at("2026-01-01T09:00"))
        assert (verdict.state, verdict.reasons) == (state, (code,))


def test_not_modified_keeps_the_known_date() -> None:
    rule = DEFAULT_RULES["动态要闻"]
    history = advance(History(), seen(date(2026, 1, 1)))
    history = advance(history, Observation("t1", at("2026-01-20T08:00"), 3.0, 304, not_modified=True))
    verdict = evaluate(rule, history, at("2026-01-20T08:00"))
    assert verdict.state is State.RED
    assert verdict.newest_date == date(2026, 1, 1)


def test_sub_day_rules_count_from_first_sighting() -> None:
    rule = Rule("测试", Duration.parse("90s"), Duration.parse("30s"), Duration.parse("1h"), "测试规则")
    history = advance(History(), seen(date(2026, 1, 1), "2026-01-01T08:00:00"))
    assert history.newest_first_seen == at("2026-01-01T08:00:00")
    # the same newest date seen again does not restart the clock
    history = advance(history, seen(date(2026, 1, 1), "2026-01-01T08:00:40"))
    assert history.newest_first_seen == at("2026-01-01T08:00:00")
    assert evaluate(rule, history, at("2026-01-01T08:00:59")).state is State.GREEN
    assert evaluate(rule, history, at("2026-01-01T08:01:00")).state is State.YELLOW
    assert evaluate(rule, history, at("2026-01-01T08:01:30")).state is State.RED
    # a newer item restarts it
    history = advance(history, seen(date(2026, 1, 2), "2026-01-01T08:02:00"))
    verdict = evaluate(rule, history, at("2026-01-01T08:02:10"))
    assert verdict.state is State.GREEN
    assert verdict.deadline == at("2026-01-01T08:02:00") + timedelta(seconds=90)


@pytest.mark.parametrize(
    ("first", "code"),
    [(EmptyReason.NO_DATES, Reason.UNREADABLE), (EmptyReason.JS_RENDERED, Reason.JS_RENDERED)],
)
def test_not_modified_after_an_unreadable_read_stays_unreadable(first: EmptyReason, code: str) -> None:
    """A 304 says the page still says what it said: not 尚未检测, and the unknown keeps its reason (and its since)."""
    rule = DEFAULT_RULES["通知公告"]
    history = advance(History(), seen(None, reason=first))
    history = advance(history, Observation("t1", at("2026-01-02T08:00"), 3.0, 304, not_modified=True))
    assert evaluate(rule, history, at("2026-01-02T08:00")).reasons == (code,)


def test_not_modified_after_a_changed_page_stays_changed() -> None:
    rule = DEFAULT_RULES["动态要闻"]
    history = advance(History(), seen(date(2026, 1, 1)))
    history = advance(history, seen(None, "2026-01-03T08:00", reason=EmptyReason.NO_LIST))
    history = advance(history, Observation("t1", at("2026-01-04T08:00"), 3.0, 304, not_modified=True))
    verdict = evaluate(rule, history, at("2026-01-04T08:00"))
    assert verdict.reasons == (Reason.PAGE_CHANGED,) and verdict.newest_date == date(2026, 1, 1)
