"""The wall's pure parts: lists in the order a reader needs, ranking past one screen, pages, plain reasons."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from monitor.daemon import Tracked
from monitor.evaluate import TZ, History, evaluate
from monitor.model import EmptyReason, FetchError, Observation, State, Target
from monitor.rules import DEFAULT_RULES
from monitor.web import views, wall

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=TZ)


def tracked(tid: str, unit: str, site: str, category: str = "动态要闻", age: int | None = 1,
            error: FetchError | None = None, detail: str | None = None, status: int | None = 200,
            reason: EmptyReason | None = None) -> Tracked:
    """A target of ``unit``/``site`` whose newest item is ``age`` days old (None: no date read)."""
    target = Target(tid, "column", f"栏目{tid}", f"http://127.0.0.1:9/{tid}/", site, f"{site}网站", unit,
                    f"{unit}单位", DEFAULT_RULES[category])
    newest = NOW.date() - timedelta(days=age) if age is not None and error is None else None
    obs = Observation(tid, NOW, 20.0, status, error=error, detail=detail, newest_date=newest, reason=reason)
    history = History(obs, obs if newest else None, NOW)
    return Tracked(target, history, evaluate(target.rule, history, NOW))


def test_lists_are_worst_first_and_blank_columns_come_last_in_red() -> None:
    board = wall.build([
        tracked("a", "u1", "s1", age=20), tracked("b", "u1", "s1", age=40), tracked("blank", "u1", "s1", age=None,
                                                                                    reason=EmptyReason.EMPTY),
        tracked("y1", "u1", "s1", age=12), tracked("y2", "u1", "s1", age=13), tracked("ok", "u1", "s1"),
        tracked("down", "u1", "s1", error=FetchError.TIMEOUT, detail="timeout after 15 s", status=None),
    ])
    assert board.counts == {"red": 3, "yellow": 2, "unknown": 1, "green": 1} and board.total == 7
    assert not board.ranked
    lists = {entry["state"]: [r["id"] for r in entry["rows"]] for entry in wall.wall_lists(board, NOW)}
    assert lists == {"red": ["b", "a", "blank"], "yellow": ["y2", "y1"], "unknown": ["down"]}
    red = wall.wall_lists(board, NOW)[0]["rows"]
    assert [r["days_overdue"] for r in red] == [26, 6, None]  # the blank column has no deadline
    assert wall.wall_lists(board, NOW)[2]["rows"][0]["reason"] == "超时"


def test_past_one_screen_the_wall_ranks_units_and_sites_by_their_worst_state() -> None:
    rows = [tracked(f"v{i}", "veto", "sv", age=30) for i in range(5)]  # 5 stale 动态要闻: the site fails
    rows += [tracked(f"r{i}", "many", f"sm{i % 3}", age=30) for i in range(9)]  # more red, spread: no veto
    rows += [tracked(f"n{i}", "near", "sn", age=30) for i in range(4)]  # 4 stale: one short of the veto
    rows += [tracked(f"y{i}", "yellow", "sy", age=12) for i in range(3)]
    rows += [tracked("u0", "grey", "sg", error=FetchError.DNS, detail="DNS: name not resolved", status=None)]
    board = wall.build(rows)
    assert board.listed == 22 > wall.WALL_ROWS and board.ranked
    assert [u.id for u in board.units] == ["veto", "many", "near", "yellow", "grey"]
    assert (board.units[0].veto_red, board.units[0].red, board.units[2].veto_yellow) == (1, 5, 1)
    assert [s.id for s in board.sites][:2] == ["sv", "sn"]  # a failed veto, then one close to it, then red counts
    assert board.sites[0].veto_label == "单项否决" and board.sites[1].veto_label == "否决预警"
    assert [v["state_label"] for v in wall.veto_rows(board)] == ["单项否决", "否决预警"]


def test_pages_are_clamped_to_the_pages_there_are() -> None:
    rows = list(range(120))
    page = wall.page_of(rows, 3)
    assert (page.rows, page.number, page.pages, page.first, page.last) == (rows[100:], 3, 3, 101, 120)
    assert wall.page_of(rows, 99).number == 3 and wall.page_of(rows, -1).number == 1
    empty = wall.page_of([], 1)
    assert (empty.pages, empty.first, empty.last) == (1, 0, 0)


def test_failed_fetches_read_in_plain_words() -> None:
    cases = [
        ("connect", "connect: connection refused 127.0.0.1:36915", None, "连接被拒绝"),
        ("connect", "connect: server disconnected", None, "服务器断开连接"),
        ("timeout", "timeout after 15 s", None, "超时"),
        ("dns", "DNS: name not resolved: www.example.gov.cn", None, "域名无法解析"),
        ("tls", "TLS: certificate has expired", None, "证书过期"),
        ("tls", "TLS: self-signed certificate", None, "证书不受信任（自签名）"),
        ("tls", "TLS: Hostname mismatch, certificate is not valid for 'x'.", None, "证书与域名不符"),
        ("http_status", "HTTP 404 Not Found", 404, "页面不存在（404）"),
        ("http_status", "HTTP 502 Bad Gateway", 502, "服务器错误（502）"),
        ("too_large", "body exceeds 5242880 bytes", None, "页面过大"),
    ]
    assert [views.fetch_plain(e, d, s) for e, d, s, _ in cases] == [plain for *_, plain in cases]
    js = tracked("js", "u", "s", age=None, reason=EmptyReason.JS_RENDERED)
    assert js.verdict.state is State.UNKNOWN and views.plain_reason(js) == "页面由脚本生成"
    assert date.fromisoformat(views.row(js, NOW)["last_probe"][:10]) == NOW.date()
