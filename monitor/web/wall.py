"""The wall view (``/``) and the column lists behind it, computed from the monitor's memory (pure).

A 1920×1080 screen across the room shows the four counts and, below them, at most ``WALL_ROWS`` rows.
While the red, yellow and unknown columns fit in that, the wall lists them (red, then yellow, then
unknown). Past it, the wall ranks units and sites by their worst state — sites failing a column veto,
red columns, sites close to a veto, yellow, unknown — and the column lists are paged on ``/list/{state}``.

One pass over the targets counts states and keeps only the non-green ones; row dictionaries are built
for the rows shown only, so a province of 30,000 columns builds its wall in a few tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.daemon import Tracked
from monitor.model import State
from monitor.vetoes import SiteVeto, site_vetoes
from monitor.web import views

WALL_ROWS = 16  # column rows that fit under the counts on a 1920×1080 wall
RANK_ROWS = 12  # units (and sites) ranked on the wall when the columns do not fit
PAGE_ROWS = 50  # rows per page of /list/{state} and /ranking/{units|sites}
LISTED = (State.RED, State.YELLOW, State.UNKNOWN)
LIST_TITLES = {State.RED: "超期未更新", State.YELLOW: "临近期限", State.UNKNOWN: "无法判断（请核查）"}
LAST_HEADERS = {State.RED: "超期", State.YELLOW: "距期限", State.UNKNOWN: "原因"}


@dataclass(slots=True)
class Tally:
    """A unit's or a site's problem columns; ``vetoes`` are a site's yellow and red vetoes."""

    id: str
    name: str
    unit_id: str
    unit: str
    red: int = 0
    yellow: int = 0
    unknown: int = 0
    veto_red: int = 0  # sites (for a unit) or vetoes (for a site) failed
    veto_yellow: int = 0  # close to failing
    vetoes: list[SiteVeto] = field(default_factory=list)

    def add(self, state: State) -> None:
        if state is State.RED:
            self.red += 1
        elif state is State.YELLOW:
            self.yellow += 1
        else:
            self.unknown += 1

    @property
    def rank(self) -> tuple[int, int, int, int, int, str]:
        """Worst first: a failed veto, then red columns, a veto close to failing, yellow, unknown."""
        return (-self.veto_red, -self.red, -self.veto_yellow, -self.yellow, -self.unknown, self.name)

    @property
    def veto_label(self) -> str:
        if self.veto_red:
            return "单项否决"
        return "否决预警" if self.veto_yellow else ""


@dataclass(slots=True)
class Board:
    """Everything the wall and the pages behind it show, from one pass over the targets."""

    counts: dict[str, int]
    problems: dict[State, list[Tracked]]
    units: list[Tally]
    sites: list[Tally]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def listed(self) -> int:
        return sum(len(rows) for rows in self.problems.values())

    @property
    def ranked(self) -> bool:
        """Whether the problem columns overflow the wall, which then ranks units and sites."""
        return self.listed > WALL_ROWS


def build(tracked: Iterable[Tracked]) -> Board:
    """Count every state; keep the problem columns, each list worst first; tally them per unit and site."""
    counts = {str(s): 0 for s in views.STATE_ORDER}
    problems: dict[State, list[Tracked]] = {s: [] for s in LISTED}
    units: dict[str, Tally] = {}
    sites: dict[str, Tally] = {}
    red_columns: dict[str, list[Tracked]] = {}
    for tr in tracked:
        state = tr.verdict.state
        counts[state.value] += 1
        if state is State.GREEN:
            continue
        problems[state].append(tr)
        t = tr.target
        unit = units.get(t.unit_id)
        if unit is None:
            unit = units[t.unit_id] = Tally(t.unit_id, t.unit_name, t.unit_id, t.unit_name)
        site = sites.get(t.site_id)
        if site is None:
            site = sites[t.site_id] = Tally(t.site_id, t.site_name, t.unit_id, t.unit_name)
        unit.add(state)
        site.add(state)
        if state is State.RED and t.kind == "column":
            red_columns.setdefault(t.site_id, []).append(tr)
    for site_id, columns in red_columns.items():  # vetoes count red columns only (stale, blank)
        site = sites[site_id]
        site.vetoes = [v for v in site_vetoes((c.target, c.verdict) for c in columns) if v.state is not State.GREEN]
        site.veto_red = sum(v.state is State.RED for v in site.vetoes)
        site.veto_yellow = len(site.vetoes) - site.veto_red
        unit = units[site.unit_id]
        unit.veto_red += site.veto_red > 0
        unit.veto_yellow += site.veto_red == 0 and site.veto_yellow > 0
    for state, rows in problems.items():
        rows.sort(key=_worst_first(state))
    return Board(counts, problems, sorted(units.values(), key=lambda u: u.rank),
                 sorted(sites.values(), key=lambda s: s.rank))


def _worst_first(state: State) -> Any:
    """Red by days overdue (blank columns last), yellow by days left: both are the deadline's order."""
    if state is State.UNKNOWN:
        return lambda tr: (tr.target.unit_name, tr.target.site_name, tr.target.name)
    return lambda tr: (tr.verdict.deadline is None, tr.verdict.deadline or datetime.min,
                       tr.target.unit_name, tr.target.site_name, tr.target.name)


def list_rows(rows: list[Tracked], now: datetime) -> list[dict[str, Any]]:
    return [views.row(tr, now) for tr in rows]


def wall_lists(board: Board, now: datetime) -> list[dict[str, Any]]:
    """The red, yellow and unknown lists as the wall shows them (when they fit)."""
    return [{"state": str(s), "title": LIST_TITLES[s], "last": LAST_HEADERS[s],
             "rows": list_rows(board.problems[s], now)} for s in LISTED if board.problems[s]]


def veto_rows(board: Board) -> list[dict[str, Any]]:
    """Each site's yellow and red vetoes, red first."""
    out = [{"site": s.name, "site_id": s.id, "unit_id": s.unit_id, "state": str(v.state),
            "state_label": "单项否决" if v.state is State.RED else "否决预警", "detail": v.detail,
            "columns": "、".join(v.columns)}
           for s in board.sites for v in s.vetoes]
    out.sort(key=lambda r: (r["state"] != "red", r["site"]))
    return out


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a long list: its rows and where it stands."""

    rows: list[Any]
    number: int  # 1-based
    pages: int
    total: int

    @property
    def first(self) -> int:
        return (self.number - 1) * PAGE_ROWS + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.number * PAGE_ROWS, self.total)


def page_of(rows: list[Any], number: int) -> Page:
    """Page ``number`` (clamped to the pages there are) of ``rows``."""
    pages = max(1, -(-len(rows) // PAGE_ROWS))
    number = min(max(number, 1), pages)
    return Page(rows[(number - 1) * PAGE_ROWS:number * PAGE_ROWS], number, pages, len(rows))
