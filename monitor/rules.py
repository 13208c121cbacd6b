"""Column categories and their national freshness rules (国办秘函〔2019〕19号), as defaults.

Every number here can be overridden per category in the inventory's ``categories:`` section
and per column. Yellow lead times follow the incumbent platform's early warnings
(../shared/spec/rules.md): 4 days before a 2-week deadline, 30 days before 6 months, 60 days
before 12 months.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from monitor.durations import Duration


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    deadline: Duration  # newest item older than this ⇒ red
    lead: Duration  # yellow this long before the deadline
    interval: Duration  # how often to probe
    text: str  # the rule as an office reads it, quoted in alerts and on the board

    def with_overrides(
        self, deadline: Duration | None = None, lead: Duration | None = None, interval: Duration | None = None
    ) -> Rule:
        return replace(
            self,
            deadline=deadline or self.deadline,
            lead=lead if lead is not None else self.lead,
            interval=interval or self.interval,
        )


def _rule(category: str, deadline: str, lead: str, interval: str, text: str) -> Rule:
    return Rule(category, Duration.parse(deadline), Duration.parse(lead), Duration.parse(interval), text)


HOMEPAGE = "首页"
NEW_MEDIA = "政务新媒体"

DEFAULT_RULES: dict[str, Rule] = {
    rule.category: rule
    for rule in (
        _rule("动态要闻", "14d", "4d", "3h", "动态要闻类栏目 2 周内须更新"),
        _rule("通知公告", "6mo", "30d", "12h", "通知公告类栏目 6 个月内须更新"),
        _rule("政策文件", "6mo", "30d", "12h", "政策文件类栏目 6 个月内须更新"),
        _rule("人事信息", "12mo", "60d", "1d", "人事信息类栏目 12 个月内须更新"),
        _rule("规划计划", "12mo", "60d", "1d", "规划计划类栏目 12 个月内须更新"),
        _rule(HOMEPAGE, "14d", "4d", "1h", "网站首页 2 周内须有更新"),
        _rule(NEW_MEDIA, "14d", "4d", "6h", "政务新媒体账号 2 周内须更新"),
    )
}

# What offices write in their spreadsheets and notices, mapped to the canonical category.
ALIASES: dict[str, str] = {
    "动态": "动态要闻",
    "要闻": "动态要闻",
    "工作动态": "动态要闻",
    "新闻动态": "动态要闻",
    "动态/要闻": "动态要闻",
    "通知": "通知公告",
    "公告": "通知公告",
    "通知/公告": "通知公告",
    "政策": "政策文件",
    "文件": "政策文件",
    "部门文件": "政策文件",
    "人事": "人事信息",
    "人事任免": "人事信息",
    "规划": "规划计划",
    "计划": "规划计划",
    "规划/计划": "规划计划",
    "主页": HOMEPAGE,
}


def canonical_category(name: str) -> str | None:
    """The canonical category for a name or alias, or None when unknown."""
    name = name.strip()
    if name in DEFAULT_RULES:
        return name
    return ALIASES.get(name)
