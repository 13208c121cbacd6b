"""The site's column vetoes (栏目不更新 and 空白栏目 单项否决), counted from its columns' verdicts (pure).

国办秘函〔2019〕19号 fails a site outright when, at the check, (1) 动态/要闻 columns not updated within
2 weeks plus 通知公告/政策文件 columns not updated within 6 months number 5 or more, (2) 10 or more
columns that should be updated were long not updated, or (3) 5 or more columns are blank. Yellow
comes one column short of (1) and, as the incumbent platform warns, above 6 stale and above 2 blank
columns: an office sees "one more stale column and this site fails" before it happens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.evaluate import Reason, Verdict
from monitor.model import State, Target, TargetKind


@dataclass(frozen=True, slots=True)
class VetoRule:
    kind: str
    label: str
    categories: frozenset[str] | None  # None: columns of any category
    reason: str  # the verdict reason that counts
    red_at: int
    yellow_at: int

    def counts(self, category: str, reasons: Iterable[str]) -> bool:
        """Whether a column of ``category`` whose verdict has ``reasons`` counts towards this veto."""
        return (self.categories is None or category in self.categories) and self.reason in reasons


VETO_RULES: tuple[VetoRule, ...] = (
    VetoRule("stale_news_notices", "动态要闻、通知公告、政策文件栏目超期未更新",
             frozenset({"动态要闻", "通知公告", "政策文件"}), Reason.STALE, red_at=5, yellow_at=4),
    VetoRule("long_stale", "应更新栏目长期未更新", None, Reason.STALE, red_at=10, yellow_at=7),
    VetoRule("blank", "空白栏目", None, Reason.EMPTY, red_at=5, yellow_at=3),
)


@dataclass(frozen=True, slots=True)
class SiteVeto:
    rule: VetoRule
    state: State  # green, yellow (close) or red (the site fails)
    columns: tuple[str, ...]  # names of the columns counted

    @property
    def count(self) -> int:
        return len(self.columns)

    @property
    def detail(self) -> str:
        if self.state is State.RED:
            return f"{self.rule.label}已达 {self.count} 个（{self.rule.red_at} 个即单项否决）"
        left = self.rule.red_at - self.count
        return f"{self.rule.label}已有 {self.count} 个，再有 {left} 个即单项否决"


def site_vetoes(columns: Iterable[tuple[Target, Verdict]]) -> list[SiteVeto]:
    """Each veto of one site, from the verdicts of its columns (homepages and accounts do not count)."""
    pairs = [(t, v) for t, v in columns if t.kind == TargetKind.COLUMN]
    out = []
    for rule in VETO_RULES:
        counted = tuple(sorted(t.name for t, v in pairs if rule.counts(t.rule.category, v.reasons)))
        n = len(counted)
        state = State.RED if n >= rule.red_at else State.YELLOW if n >= rule.yellow_at else State.GREEN
        out.append(SiteVeto(rule, state, counted))
    return out
