"""A realistic loopback fleet of (fictional) Chinese government websites.

Used by ``govwatch demo`` and by the benchmarks.  Every site listens on its own port on
127.0.0.1 so that per-host politeness applies per site.  Pages are rendered in several distinct
templates (TRS WCM, Hanweb jpage, table layout, an old GB2312 ASP page, dl/dt/dd, a JSON list API),
each with the usual traps of real pages: a "今天是YYYY年M月D日" header, a sidebar 热点信息 list
with fresher dates than the main list, and a footer with copyright years and phone numbers.

The hot path does no template rendering: each site's page frame is pre-rendered to bytes and each
column's list fragment is rendered once and cached, so a request is a dict lookup and a bytes join.

CLI (for benchmarks, runs the fleet in its own process)::

    python -m monitor.demo.fleet --sites 600 --columns 50 --inventory /tmp/inv.yaml [--today 2026-11-25]
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import dataclasses
import datetime
import hashlib
import json
import pathlib
import random
import resource
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from monitor.list_override import Override

__all__ = ["CATEGORIES", "TEMPLATES", "AccountSpec", "ColumnSpec", "Fleet", "SiteSpec", "bench_accounts",
           "bench_fleet", "demo_accounts", "demo_fleet"]

CATEGORIES = ("动态要闻", "通知公告", "政策文件", "人事信息", "规划计划")
TEMPLATES = ("trs", "hanweb", "table", "gbk_asp", "dl", "json")
MODES = ("ok", "empty", "js", "error", "day_first")
# The override that reads a day_first column: what govwatch probe --explain suggests, plus the date cell
DAY_FIRST_OVERRIDE = Override("table.jyxx > tbody > tr", "td.rq", "%d/%m/%Y")


@dataclass(frozen=True)
class ColumnSpec:
    name: str  # e.g. "工作动态"
    category: str  # one of CATEGORIES
    newest: datetime.date | None
    mode: str = "ok"  # ok | empty | js | error | day_first (dates written 20/11/2026: detection reads none)
    etag: bool = False  # serve an ETag and honour If-None-Match with 304
    # How the inventory has a js column read: "" its page as fetched (unknown: built by script), "browser"
    # (render: browser) or "json" (source: the JSON its page's script reads, with a field mapping)
    read: str = ""
    # A day_first column's inventory entry carries the override an operator wrote for it (list, date,
    # date_format), as the README's worked example derives it with govwatch probe --explain
    fixed: bool = False


@dataclass(frozen=True)
class SiteSpec:
    name: str  # e.g. "青溪县人民政府网站"
    unit: str  # owning unit, e.g. "青溪县人民政府办公室"
    template: str  # trs | hanweb | table | gbk_asp | dl | json
    columns: tuple[ColumnSpec, ...]
    homepage_newest: datetime.date | None = None
    down: bool = False
    broken: tuple[str, ...] = ()  # paths that answer 404; every other unrouted path is an ordinary page
    hacked: bool = False  # the homepage carries a hidden gambling-link block and a misused word
    message_box: bool = False  # serves a 领导信箱 list at MESSAGE_BOX_PATH: answered, late, overdue and 3-month-old


FEED_FORMATS = ("rss", "atom", "jsonfeed", "json", "fault")


@dataclass(frozen=True)
class AccountSpec:
    """A new-media account served by a loopback feed bridge (RSSHub-like)."""

    name: str  # e.g. "青溪发布"
    unit: str  # owning unit
    platform: str  # 微信公众号 | 微博 | 抖音 | 今日头条 | …
    newest: datetime.date
    fmt: str = "rss"  # rss | atom | jsonfeed | json (an API with a field mapping) | fault (a bridge error page)
    posts: int = 10
    reposts: int = 0  # the newest posts that repost the county weather station's forecast (as RSSHub renders them)
    menu: str = ""  # its service menu's links: "" none, "ok" all working, "dead" all answering 404
    attested_days: int | None = None  # its interaction function was attested (present) this many days ago


# --------------------------------------------------------------------------------------------------
# word lists

_PLACE_A = "青云白金安永宁丰清泰长平和兴富瑞新东西南北嘉临崇柳桃松梅竹石"
_PLACE_B = "溪岭川源阳山江河泉林湖桥峰州城塘浦谷冈原坪"
_TOWNS = (
    "城关镇",
    "新桥镇",
    "东湖乡",
    "石门镇",
    "柳塘乡",
    "白沙镇",
    "云峰镇",
    "长岭乡",
    "龙泉街道",
    "南山街道",
)
_DEPTS = (
    "发展和改革局",
    "教育局",
    "科学技术局",
    "工业和信息化局",
    "民政局",
    "司法局",
    "财政局",
    "人力资源和社会保障局",
    "自然资源局",
    "生态环境局",
    "住房和城乡建设局",
    "交通运输局",
    "水利局",
    "农业农村局",
    "商务局",
    "文化和旅游局",
    "卫生健康委员会",
    "应急管理局",
    "审计局",
    "市场监督管理局",
    "统计局",
    "医疗保障局",
    "林业局",
    "政务服务管理局",
)
_DEPT_SHORT = (
    "发改",
    "教育",
    "科技",
    "工信",
    "民政",
    "司法",
    "财政",
    "人社",
    "自然资源",
    "生态环境",
    "住建",
    "交通",
    "水利",
    "农业农村",
    "商务",
    "文旅",
    "卫健",
    "应急",
    "审计",
    "市场监管",
)
_TOPICS = (
    "安全生产",
    "森林防火",
    "防汛抗旱",
    "乡村振兴",
    "营商环境优化",
    "文明城市创建",
    "秸秆禁烧",
    "疫苗接种",
    "城乡环境整治",
    "耕地保护",
    "河长制",
    "就业创业",
    "招商引资",
    "项目建设",
    "信访维稳",
    "扫黑除恶常态化",
    "政务公开",
    "数字政府建设",
    "民生实事",
    "消防安全",
    "食品安全",
    "燃气安全",
    "生态环境保护",
    "基层治理",
    "义务教育",
    "医疗保障",
    "农村人居环境整治",
    "高标准农田建设",
    "冬春火灾防控",
)
_TITLE_PATTERNS = {
    "动态要闻": (
        "{place}召开{topic}工作推进会",
        "{place}部署{topic}工作",
        "{dept}开展{topic}专项检查",
        "{town}扎实推进{topic}工作",
        "县领导调研{topic}工作",
        "{place}举行{topic}专题培训会",
        "{dept}召开{year}年{topic}工作会议",
        "{town}多措并举抓好{topic}",
        "{place}{topic}工作取得阶段性成效",
        "{dept}赴{town}开展{topic}督导",
        "{place}召开常务会议研究{topic}等工作",
    ),
    "通知公告": (
        "关于做好{topic}工作的通知",
        "关于开展{topic}专项行动的公告",
        "{dept}关于{topic}有关事项的通告",
        "关于{year}年{topic}项目的公示",
        "关于征集{topic}意见建议的公告",
        "{dept}关于调整{topic}工作安排的通知",
        "关于{topic}工作情况的通报",
        "{place}{topic}项目招标公告",
    ),
    "政策文件": (
        "{place}人民政府关于印发{topic}实施方案的通知",
        "{place}人民政府办公室关于加强{topic}工作的意见",
        "关于进一步推进{topic}的若干措施",
        "{dept}关于印发《{topic}管理办法》的通知",
        "《{place}{topic}三年行动计划》政策解读",
        "{place}关于{topic}的实施意见",
    ),
    "人事信息": (
        "{place}人民政府关于{name}等同志职务任免的通知",
        "{year}年{dept}公开招聘工作人员公告",
        "{year}年{place}事业单位公开招聘拟聘用人员公示",
        "关于{name}同志任职前公示的公告",
        "{dept}{year}年公开遴选公务员公告",
    ),
    "规划计划": (
        "{place}{topic}“十五五”规划",
        "{dept}{year}年工作计划",
        "{place}{year}年{topic}工作要点",
        "{dept}{year}年度{topic}实施计划",
        "{place}国土空间总体规划（2021-2035年）",
    ),
}
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀华平刚桂英"
_COLUMN_NAMES = {
    "动态要闻": ("工作动态", "部门动态", "乡镇动态", "政务要闻", "图片新闻", "要闻动态", "基层动态"),
    "通知公告": ("通知公告", "公示公告", "招标公告", "通知通告"),
    "政策文件": ("政策文件", "规范性文件", "政策解读", "政府文件", "部门文件"),
    "人事信息": ("人事信息", "人事任免", "招考录用"),
    "规划计划": ("规划计划", "发展规划", "年度计划", "专项规划"),
}
# older items are spaced by random gaps (days) that depend on how often such a column is updated
_GAPS = {
    "动态要闻": (0, 6),
    "通知公告": (1, 20),
    "政策文件": (3, 45),
    "人事信息": (7, 60),
    "规划计划": (20, 120),
}
_WEEKDAYS = "一二三四五六日"
_PROVINCES = "皖赣湘鄂豫冀晋陕甘黔滇桂闽浙苏鲁辽吉黑川渝"

LIST_SIZE = 20


def _months_ago(d: datetime.date, months: int) -> datetime.date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    m += 1
    return datetime.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _cn_date(d: datetime.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _cn_date_padded(d: datetime.date) -> str:
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


def _today_line(d: datetime.date) -> str:
    return f"今天是{_cn_date(d)} 星期{_WEEKDAYS[d.weekday()]}"


def _stable_int(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _place_of(site_name: str) -> str:
    for suffix in ("人民政府网站", "网站"):
        if site_name.endswith(suffix):
            site_name = site_name[: -len(suffix)]
            break
    for k in ("县", "区", "市"):
        i = site_name.find(k)
        if 0 < i <= 4:
            return site_name[: i + 1]
    return site_name[:3]


def _title(rng: random.Random, category: str, place: str, year: int) -> str:
    # one random draw split into indices: this runs 20x per column render, keep it cheap
    k = rng.getrandbits(60)
    pats = _TITLE_PATTERNS.get(category) or _TITLE_PATTERNS["动态要闻"]
    pattern = pats[k % len(pats)]
    k //= len(pats)
    topic = _TOPICS[k % len(_TOPICS)]
    k //= len(_TOPICS)
    dept = _DEPTS[k % len(_DEPTS)]
    k //= len(_DEPTS)
    town = _TOWNS[k % len(_TOWNS)]
    k //= len(_TOWNS)
    ns, ng = len(_SURNAMES), len(_GIVEN)
    name = _SURNAMES[k % ns] + _GIVEN[(k // ns) % ng] + ("", _GIVEN[(k // ns // ng) % ng])[(k // ns // ng // ng) % 2]
    return pattern.format(place=place, topic=topic, dept=place + dept, town=town, year=year, name=name)


@dataclass(frozen=True, slots=True)
class _Item:
    date: datetime.date
    title: str
    doc_id: int
    hhmm: str


def _items(site: SiteSpec, ci: int, newest: datetime.date, category: str, n: int = LIST_SIZE) -> list[_Item]:
    """Deterministic list, newest first; the first item is dated exactly ``newest``."""
    rng = random.Random(f"{site.name}|{ci}|{newest.isoformat()}")
    place = _place_of(site.name)
    lo, hi = _GAPS.get(category, (0, 10))
    base = 10000 + _stable_int(site.name, ci) % 80000 * 10
    out: list[_Item] = []
    d = newest
    span = hi - lo + 1
    for k in range(n):
        r = rng.getrandbits(40)
        if k:
            gap = lo + r % span or (1 if k % 3 == 0 else 0)
            d -= datetime.timedelta(days=gap)
        r //= span
        hhmm = f"{8 + r % 10:02d}:{(r // 10) % 60:02d}"
        out.append(_Item(d, _title(rng, category, place, d.year), base + (n - k) * 7 + (r // 600) % 7, hhmm))
    return out


# --------------------------------------------------------------------------------------------------
# page frames (pre-rendered once per site)

_CSS_RULES = (
    "*{margin:0;padding:0;box-sizing:border-box}",
    "body{font:14px/1.6 'Microsoft YaHei',SimSun,Arial;color:#333}",
    "a{color:#333;text-decoration:none}",
    "a:hover{color:#c00;text-decoration:underline}",
    "ul,li{list-style:none}",
    ".w1200{width:1200px;margin:0 auto}",
    ".top-bar{height:36px;line-height:36px;background:#f5f5f5;font-size:12px}",
    ".top-bar .today{float:left;color:#666}",
    ".top-bar .links{float:right}",
    ".top-bar .links a{margin-left:12px}",
    ".banner{height:160px;background:url(/images/banner.jpg) no-repeat center}",
    ".banner h1{font-size:36px;color:#fff;line-height:160px;text-shadow:0 2px 4px #000}",
    ".nav{height:48px;background:#0a4d9c}",
    ".nav li{float:left;position:relative}",
    ".nav li a{display:block;padding:0 26px;line-height:48px;color:#fff;font-size:16px}",
    ".nav li .sub{display:none;position:absolute;top:48px;left:0;width:180px;background:#fff;z-index:99}",
    ".nav li:hover .sub{display:block}",
    ".nav li .sub a{color:#333;line-height:32px;font-size:14px}",
    ".search{float:right;margin-top:8px}",
    ".search input{width:220px;height:30px;border:1px solid #ccc}",
    ".location{height:40px;line-height:40px;border-bottom:1px solid #e5e5e5;color:#666}",
    ".main{overflow:hidden;margin-top:16px}",
    ".main-left{float:left;width:860px}",
    ".main-right{float:right;width:320px}",
    ".list li{height:38px;line-height:38px;border-bottom:1px dashed #ddd}",
    ".list li a{float:left;width:720px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}",
    ".list li span{float:right;color:#999}",
    ".side-box{border:1px solid #e5e5e5;margin-bottom:16px}",
    ".side-box h3{height:40px;line-height:40px;background:#f2f6fb;padding-left:12px;font-size:16px}",
    ".side-box li{padding:6px 12px;font-size:13px}",
    ".side-box li em{float:right;color:#aaa;font-style:normal}",
    ".pages{text-align:center;margin:24px 0}",
    ".pages a,.pages span{display:inline-block;padding:4px 10px;border:1px solid #ddd;margin:0 3px}",
    ".footer{background:#2b2b2b;color:#bbb;padding:24px 0;margin-top:24px}",
    ".footer p{text-align:center;line-height:26px;font-size:13px}",
    ".footer a{color:#bbb}",
    ".friend-links{padding:12px 0;border-top:1px solid #e5e5e5}",
    ".friend-links select{width:220px;margin-right:16px}",
    ".fw-grid li{float:left;width:33%;text-align:center;padding:8px 0}",
    ".ztzl img{width:100%;margin-bottom:8px}",
    ".no-data{padding:80px 0;text-align:center;color:#999;font-size:16px}",
    "@media screen and (max-width:768px){.w1200{width:100%}.main-left,.main-right{float:none;width:100%}}",
)
_SERVICES = (
    "个人办事",
    "法人办事",
    "部门服务",
    "证照查询",
    "办件进度",
    "好差评",
    "便民热线",
    "公积金查询",
    "社保查询",
    "不动产登记",
    "医保服务",
    "企业开办",
)
_SPECIALS = (
    "学习贯彻党的二十届四中全会精神",
    "优化营商环境",
    "安全生产月",
    "政府信息公开专栏",
    "民生实事项目",
    "乡村振兴",
    "扫黑除恶专项斗争",
    "文明城市创建",
)
_GK_MENU = (
    "政府信息公开指南",
    "政府信息公开制度",
    "法定主动公开内容",
    "机构职能",
    "领导信息",
    "内设机构",
    "下属单位",
    "政策文件",
    "县政府文件",
    "县政府办文件",
    "部门文件",
    "政策解读",
    "规划信息",
    "财政信息",
    "财政预决算",
    "部门预决算",
    "三公经费",
    "政府采购",
    "重大建设项目",
    "公共资源配置",
    "社会公益事业",
    "教育信息",
    "医疗卫生",
    "生态环境",
    "食品药品",
    "安全生产",
    "应急管理",
    "民生保障",
    "就业创业",
    "社会救助",
    "扶贫救灾",
    "价格收费",
    "人事信息",
    "建议提案办理",
    "政府信息公开年报",
    "依申请公开",
    "政府会议",
    "行政权力运行",
    "双随机一公开",
    "统计信息",
)
_STAT_JS = (
    "var _hmt=_hmt||[];(function(){var hm=document.createElement('script');"
    "hm.src='/js/stat.js?v=20231012';var s=document.getElementsByTagName('script')[0];"
    "s.parentNode.insertBefore(hm,s);})();\n"
    "function setFont(size){document.getElementById('zoom').style.fontSize=size+'px';}\n"
    "function addFavorite(){try{window.external.addFavorite(location.href,document.title);}catch(e){"
    "alert('请使用Ctrl+D收藏本站');}}\n"
    "window.__GOV_CONFIG__={siteId:'%s',webid:%d,accessibility:true,elder:true,"
    "search:'/search/index.html',govTip:'本网站支持IPv6'};\n"
)


@dataclass(slots=True)
class _Frame:
    head: str  # up to "<title>"
    mid: str  # from "</title>" through the left column opening (before the breadcrumb)
    tail: str  # sidebar, footer, end of document


def _site_code(site: SiteSpec) -> str:
    return f"{_stable_int('code', site.name) % 10**10:010d}"


def _phone(site: SiteSpec) -> str:
    n = _stable_int("phone", site.name)
    return f"0{550 + n % 300}-{(n // 1000) % 9000000 + 1000000}"


def _sidebar_dates(today: datetime.date) -> list[datetime.date]:
    return [today - datetime.timedelta(days=k // 2) for k in range(8)]


class _Renderer:
    """Renders a site's frame and columns in its template's own markup and date formats."""

    def __init__(self, site: SiteSpec, si: int, today: datetime.date, base: str) -> None:
        self.site, self.si, self.today, self.base = site, si, today, base
        self.place = _place_of(site.name)
        self.gbk = site.template == "gbk_asp"
        self.charset = "gb2312" if self.gbk else "utf-8"
        self.frame = self._frame()
        self.frame_bytes = (self.encode(self.frame.head), self.encode(self.frame.mid), self.encode(self.frame.tail))

    # ---- URL paths ------------------------------------------------------------------------------
    def column_path(self, j: int, col: ColumnSpec) -> str:
        return _column_path(self.site.template, j, col)

    def item_href(self, j: int, it: _Item) -> str:
        d, t = it.date, self.site.template
        if t == "trs":
            return f"./{d.year}{d.month:02d}/t{d.year}{d.month:02d}{d.day:02d}_{it.doc_id}.html"
        if t == "hanweb":
            return f"/art/{d.year}/{d.month}/{d.day}/art_{j}_{it.doc_id}.html"
        if t == "table":
            return f"/content/{d.year}{d.month:02d}/{it.doc_id}.html"
        if t == "gbk_asp":
            return f"ShowArticle.asp?ArticleID={it.doc_id}"
        if t == "dl":
            return f"/col/{j}/{d.year}{d.month:02d}{d.day:02d}/{it.doc_id}.shtml"
        return f"/detail/{d.year}{d.month:02d}/{it.doc_id}.html"

    def fmt_date(self, d: datetime.date) -> str:
        t = self.site.template
        if t == "table":
            return _cn_date_padded(d)
        if t == "gbk_asp":
            return f"[{d.isoformat()}]"
        if t == "dl":
            return f"发布时间：{d.isoformat()}"
        return d.isoformat()

    # ---- frame ----------------------------------------------------------------------------------
    def _nav(self) -> str:
        cols = self.site.columns
        sections = (
            "首页",
            "政务要闻",
            "政府信息公开",
            "政务服务",
            "互动交流",
            "走进" + self.place,
            "专题专栏",
        )
        parts = ['<div class="nav"><div class="w1200"><ul>']
        for k, sec in enumerate(sections):
            parts.append(f'<li><a href="{"/" if k == 0 else f"/sec/{k}/index.html"}">{sec}</a><div class="sub">')
            for j in range(k, len(cols), len(sections)):
                parts.append(f'<a href="{self.column_path(j + 1, cols[j])}">{_esc(cols[j].name)}</a>')
            for m in range(4):
                parts.append(f'<a href="/sec/{k}/{m}/index.html">{_SERVICES[(k * 4 + m) % len(_SERVICES)]}</a>')
            parts.append("</div></li>")
        parts.append(
            '</ul><div class="search"><form action="/search/" method="get"><input name="q" '
            'placeholder="请输入关键字"><button type="submit">搜索</button></form></div></div></div>'
        )
        return "".join(parts)

    def _submenu(self) -> str:
        parts = ['<div class="gk-menu"><h3>信息公开目录</h3><ul class="tree">']
        for k, name in enumerate(_GK_MENU):
            parts.append(
                f'<li class="lv{1 + k % 3}"><a href="/zfxxgk/fdzdgknr/{k:03d}/index.html" '
                f'title="{name}">{name}</a></li>'
            )
        parts.append("</ul></div>")
        return "".join(parts)

    def _sidebar(self) -> str:
        rng = random.Random(f"side|{self.site.name}")
        parts = ['<div class="side-box hot"><h3>热点信息</h3><ul>']
        for k, d in enumerate(_sidebar_dates(self.today)):
            title = _title(rng, "动态要闻", self.place, d.year)
            parts.append(
                f'<li><a href="/hot/{k}.html" title="{_esc(title)}">{_esc(title)}</a><em>{self.fmt_date(d)}</em></li>'
            )
        parts.append('</ul></div><div class="side-box ztzl"><h3>专题专栏</h3><ul>')
        for k, s in enumerate(_SPECIALS):
            parts.append(f'<li><a href="/ztzl/{k}/index.html"><img src="/images/zt{k}.jpg" alt="{s}">{s}</a></li>')
        parts.append('</ul></div><div class="side-box fw-grid"><h3>政务服务</h3><ul>')
        for k, s in enumerate(_SERVICES):
            parts.append(f'<li><a href="/zwfw/{k}/" target="_blank">{s}</a></li>')
        parts.append("</ul></div>")
        return "".join(parts)

    def _footer(self) -> str:
        site, n = self.site, _stable_int("icp", self.site.name)
        prov = _PROVINCES[n % len(_PROVINCES)]
        parts = ['<div class="friend-links w1200">']
        for g, group in enumerate(("国家部委网站", "省级政府网站", "市县政府网站", "其他网站")):
            parts.append(f'<select onchange="window.open(this.value)"><option>{group}</option>')
            for k in range(20):
                parts.append(f'<option value="/links/{g}/{k}/">{group[:2]}链接{k + 1}</option>')
            parts.append("</select>")
        parts.append("</div>")
        start = 2003 + n % 12
        parts.append(
            f'<div class="footer"><p><a href="/about/">关于本网</a> | <a href="/sitemap/">网站地图</a> | '
            f'<a href="/contact/">联系我们</a> | <a href="/statement/">使用帮助</a></p>'
            f"<p>主办：{_esc(site.unit)}　承办：{_esc(self.place)}大数据中心</p>"
            f"<p>版权所有 © {start}-{self.today.year} {_esc(site.name)}　联系电话：{_phone(site)}</p>"
            f'<p><a href="/beian/" target="_blank">'
            f"{prov}ICP备{n % 90000000 + 10000000}号-1</a>"
            f"　{prov}公网安备 {n % 10**14:014d}号　网站标识码：{_site_code(site)}</p>"
            f"<p>地址：{_esc(self.place)}行政中心{n % 20 + 1}号楼　邮编：{n % 900000 + 100000}"
            f"　建议使用1366×768分辨率浏览</p></div>"
        )
        return "".join(parts)

    def _frame(self) -> _Frame:
        site = self.site
        meta = (
            f'<meta charset="{self.charset}">'
            if not self.gbk
            else '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        )
        css = "\n".join(_CSS_RULES)
        head = (
            '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n' + meta + "\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="SiteName" content="{_esc(site.name)}">\n'
            f'<meta name="SiteDomain" content="{self.base}">\n'
            f'<meta name="SiteIDCode" content="{_site_code(site)}">\n'
            f'<style type="text/css">\n{css}\n</style>\n<title>'
        )
        top = (
            f'<div class="top-bar"><div class="w1200"><span class="today">{_today_line(self.today)}</span>'
            '<span class="links"><a href="javascript:addFavorite()">加入收藏</a><a href="/m/">手机版</a>'
            '<a href="javascript:void(0)" id="wza">无障碍</a>'
            '<a href="javascript:void(0)" id="elder">长者模式</a>'
            '<a href="/en/">English</a></span></div></div>'
            f'<div class="banner"><div class="w1200"><h1>{_esc(site.name)}</h1></div></div>'
        )
        if site.template in ("table", "gbk_asp"):
            mid = (
                "</title>\n</head>\n<body>\n"
                + top
                + self._nav()
                + '<table class="w1200 layout" width="1200" border="0" cellspacing="0" '
                'cellpadding="0" align="center">'
                '<tr><td class="main-left" width="860" valign="top">'
            )
            tail_open = '</td><td width="20"></td><td class="main-right" width="320" valign="top">'
            tail_close = "</td></tr></table>"
        else:
            mid = "</title>\n</head>\n<body>\n" + top + self._nav() + '<div class="main w1200"><div class="main-left">'
            tail_open, tail_close = '</div><div class="main-right">', "</div></div>"
        mid += self._submenu()
        tail = (
            tail_open
            + self._sidebar()
            + tail_close
            + self._footer()
            + "\n<script>\n"
            + _STAT_JS % (_site_code(site), self.si + 1)
            + "</script>\n</body>\n</html>\n"
        )
        return _Frame(head, mid, tail)

    # ---- column content -------------------------------------------------------------------------
    def title(self, text: str) -> str:
        return f"{_esc(text)}_{_esc(self.site.name)}"

    def location(self, col: ColumnSpec) -> str:
        return (
            f'<div class="location">当前位置：<a href="/">首页</a> &gt; <a href="/sec/2/index.html">'
            f"政府信息公开</a> &gt; <span>{_esc(col.name)}</span></div>"
        )

    def pager(self, j: int, total: int) -> str:
        pages = max(1, (total + LIST_SIZE - 1) // LIST_SIZE)
        return (
            f'<div class="pages">共{total}条 第1/{pages}页 <span>首页</span><span>上一页</span>'
            f'<a href="index_1.html">下一页</a><a href="index_{pages - 1}.html">尾页</a></div>'
        )

    def list_html(self, j: int, col: ColumnSpec, items: list[_Item]) -> str:
        t = self.site.template
        esc = _esc
        if t == "trs":
            lis = "".join(
                f'<li><a href="{self.item_href(j, it)}" target="_blank" title="{esc(it.title)}">'
                f"{esc(it.title)}</a><span>{it.date.isoformat()}</span></li>\n"
                for it in items
            )
            return f'<ul class="list">\n{lis}</ul>'
        if t == "hanweb":
            recs = "".join(
                f'<record><![CDATA[\n<li><a href="{self.item_href(j, it)}" target="_blank" '
                f'title="{esc(it.title)}">{esc(it.title)}</a><span>{it.date.isoformat()}</span></li>\n]]></record>\n'
                for it in items
            )
            unit = 10000 + _stable_int("unit", self.site.name) % 90000
            return (
                f'<div class="default_pgContainer" id="{j}"><script type="text/xml"><datastore>\n'
                f'<nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&webid={self.si + 1}'
                f'&path=/&columnid={j}&unitid={unit}&webname=&permissiontype=0"></a>]]></nextgroup>\n'
                f"<recordset>\n{recs}</recordset>\n</datastore></script></div>\n"
                '<script language="javascript" src="/module/jslib/jquery/jpage/jquery.jpage.js"></script>\n'
                f"<script>$(document).ready(function(){{$('#{j}').jpage({{dataStore:dataStore,perPage:{LIST_SIZE},"
                "proxyUrl:'/module/web/jpage/dataproxy.jsp',groupSize:3,barPosition:'bottom'});});</script>"
            )
        if t == "table":
            rows = "".join(
                f'<tr><td class="bt"><a href="{self.item_href(j, it)}" target="_blank">'
                f"{esc(it.title)}</a></td>"
                f'<td class="rq" width="130" align="right">{_cn_date_padded(it.date)}</td></tr>\n'
                for it in items
            )
            return (
                '<table class="list-table" width="100%" border="0" cellspacing="0" cellpadding="0">\n'
                + rows
                + "</table>"
            )
        if t == "gbk_asp":
            rows = "".join(
                f'<tr><td height="25" class="listA">·<a href="{self.item_href(j, it)}" target="_blank">'
                f'{esc(it.title)}</a> <font color="#999999">[{it.date.isoformat()}]</font></td></tr>\n'
                for it in items
            )
            return f'<table id="ArticleList" width="100%" border="0" cellspacing="0" cellpadding="0">\n{rows}</table>'
        if t == "dl":
            dls = "".join(
                f'<dl><dt><a href="{self.item_href(j, it)}" target="_blank" title="{esc(it.title)}">'
                f'{esc(it.title)}</a></dt><dd class="summary">为深入贯彻落实相关工作部署，'
                f"{esc(self.place)}有关部门近日{esc(it.title[:12])}……</dd>"
                f'<dd class="date">发布时间：{it.date.isoformat()}</dd></dl>\n'
                for it in items
            )
            return f'<div class="news-list">\n{dls}</div>'
        raise ValueError(t)

    def day_first_table(self, j: int, items: list[_Item]) -> str:
        """A table whose dates are written day first (20/11/2026), as on an English-language sub-site, and whose
        article addresses carry no date."""
        rows = "".join(
            f'<tr><td class="bt"><a href="content_{it.doc_id}.html" target="_blank">{_esc(it.title)}</a></td>'
            f'<td class="rq">{it.date.day:02d}/{it.date.month:02d}/{it.date.year}</td></tr>\n'
            for it in items
        )
        return f'<table class="jyxx" width="100%">\n<tbody>\n{rows}</tbody></table>'

    def column_body(self, j: int, col: ColumnSpec, items: list[_Item] | None) -> str:
        """Breadcrumb + main list (or empty/js placeholder) + pager: the column-specific HTML."""
        parts = [self.location(col), f'<div class="list-title"><h2>{_esc(col.name)}</h2></div>']
        if col.mode == "js":
            parts.append(
                f'<div id="list-container" class="list-box" data-column="{j}"></div>\n<script>\n'
                f"fetch('/api/js/{j}/list.json').then(function(r){{return r.json();}}).then(function(d){{"
                "var h='';(d.data.list||[]).forEach(function(x){h+='<li><a href=\"'+x.url+'\">'+x.title+"
                "'</a><span>'+x.publishTime.substr(0,10)+'</span></li>';});"
                "document.getElementById('list-container').innerHTML='<ul class=\"list\">'+h+'</ul>';});\n"
                "</script>"
            )
        elif not items:
            parts.append('<div class="no-data">暂无信息</div>')
        elif col.mode == "day_first":
            parts.append(self.day_first_table(j, items))
        else:
            parts.append(self.list_html(j, col, items))
            parts.append(self.pager(j, LIST_SIZE * 7 + j))
        return "".join(parts)

    def json_body(self, j: int, items: list[_Item]) -> bytes:
        data = {
            "code": 200,
            "msg": "success",
            "serverTime": f"{self.today.isoformat()} 10:00:00",
            "data": {
                "total": len(items) * 7 if items else 0,
                "pageNo": 1,
                "pageSize": LIST_SIZE,
                "list": [
                    {
                        "id": it.doc_id,
                        "title": it.title,
                        "url": self.item_href(j, it),
                        "publishTime": f"{it.date.isoformat()} {it.hhmm}:00",
                        "source": self.site.unit,
                    }
                    for it in items
                ],
            },
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    def homepage_body(self, news: list[_Item], blocks: list[tuple[int, ColumnSpec, list[_Item]]]) -> str:
        parts = ['<div class="home-news"><h2>要闻</h2><ul class="yw-list">']
        for it in news:
            parts.append(
                f'<li><a href="/news/{it.date:%Y%m}/{it.doc_id}.html">{_esc(it.title)}</a>'
                f"<span>{self.fmt_date(it.date)}</span></li>"
            )
        parts.append("</ul></div>")
        for j, col, items in blocks:
            parts.append(
                f'<div class="home-block"><h3><a href="{self.column_path(j, col)}">{_esc(col.name)}'
                '</a><a class="more" href="' + self.column_path(j, col) + '">更多&gt;&gt;</a></h3><ul>'
            )
            for it in items:
                parts.append(
                    f'<li><a href="{self.item_href(j, it)}">{_esc(it.title)}</a>'
                    f"<span>{self.fmt_date(it.date)}</span></li>"
                )
            parts.append("</ul></div>")
        if self.site.hacked:
            parts.append(_HACKED_BLOCK)
        return "".join(parts)

    def encode(self, s: str) -> bytes:
        return s.encode("gbk", "xmlcharrefreplace") if self.gbk else s.encode()


# --------------------------------------------------------------------------------------------------
# server

_CT_HTML = "text/html; charset=utf-8"
_CT_GBK = "text/html; charset=gb2312"
_CT_JSON = "application/json; charset=utf-8"
_ERROR_BODY = (
    b"<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body>"
    b"<h1>Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>"
)
MESSAGE_BOX_PATH = "/hdjl/ldxx/index.html"
# A 领导信箱's messages: (title, asked N days ago, answered N days ago or None, status).
_MESSAGES = (
    ("关于小区周边夜间施工噪音扰民的反映", 1, None, "办理中"),
    ("咨询城乡居民医保缴费时间", 3, 2, "已回复"),
    ("村道路面破损严重何时维修", 9, None, "办理中"),
    ("关于老旧小区加装电梯补贴政策的咨询", 12, 4, "已回复"),
    ("建议增设学校门口交通信号灯", 20, 17, "已回复"),
    ("农村宅基地审批进度查询", 120, None, "未回复"),
)
_NOT_FOUND = b"<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>"
_PLAIN_PAGE = ("<html><head><meta charset=\"utf-8\"><title>{name}</title></head><body><h1>{name}</h1>"
               "<p>本栏目内容正在整理中，欢迎提出意见建议。</p></body></html>")
# What hacked county sites were found carrying: an off-screen block of gambling links, and a misused word.
_HACKED_BLOCK = (
    '<div style="position:absolute;left:-9999px;top:-9999px"><a href="http://127.0.0.1:9/bet">澳门葡京娱乐城</a>'
    '<a href="http://127.0.0.1:9/casino">真人百家乐 线上赌场</a></div>'
    "<p class=\"notice\">我县召开专题会议，部署迎峰渡夏电力保障工作。</p>"
)


class _Route:
    __slots__ = ("body", "build", "content_type", "etag", "status", "tag")

    def __init__(self, build: Any, content_type: str, status: int = 200, etag: bool = False) -> None:
        self.build, self.content_type, self.status, self.etag = build, content_type, status, etag
        self.body: tuple[bytes, ...] | None = None  # parts of the response body
        self.tag = ""


def _raise_nofile_limit() -> None:
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):  # pragma: no cover - best effort
        pass


class Fleet:
    """Serves a list of :class:`SiteSpec` on loopback, one port per site."""

    def __init__(
        self, sites: list[SiteSpec], today: datetime.date, host: str = "127.0.0.1",
        accounts: list[AccountSpec] | None = None, bridges: int = 1, port: int = 0,
    ) -> None:
        self.first_port = port  # the first site's port when free (the demo's, for the README); 0: any free one
        self.accounts = list(accounts or [])
        self.bridge_ports: list[int] = []  # feed bridges serving the accounts, account k on bridge k % bridges
        self._bridges = bridges if self.accounts else 0
        self.sites = list(sites)
        self.today = today
        self.host = host
        self.requests_served = 0
        self.ports: list[int] = []
        self._socks: list[socket.socket] = []  # listening sockets (owned by aiohttp once started)
        self._dead: list[socket.socket] = []  # bound, never listening: connections are refused
        self._routes: dict[tuple[int, str], _Route] = {}
        self._renderers: list[_Renderer | None] = []
        self._runner: web.ServerRunner | None = None
        self._site_index: dict[int, int] = {}  # port → site index
        # a text file: one line per request, "<unix time> <port> <path> <user agent>" (the agent may hold spaces)
        self.request_log: Any = None

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        _raise_nofile_limit()
        for si, site in enumerate(self.sites):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if not site.down:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self.host, self.first_port if si == 0 else 0))
            except OSError:  # the wished-for port is taken: any free one
                s.bind((self.host, 0))
            self.ports.append(s.getsockname()[1])
            self._site_index[self.ports[-1]] = len(self.ports) - 1
            (self._dead if site.down else self._socks).append(s)
        for _ in range(self._bridges):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.host, 0))
            self.bridge_ports.append(s.getsockname()[1])
            self._socks.append(s)
        for k, account in enumerate(self.accounts):
            self._routes[(self.bridge_ports[k % self._bridges], _feed_path(k, account))] = _Route(
                lambda k=k: (_feed_body(self.accounts[k], k, self.today),),
                _FEED_CT.get(self.accounts[k].fmt, _CT_HTML))
            if account.menu == "ok":
                for path in _menu_paths(k):
                    self._routes[(self.bridge_ports[k % self._bridges], path)] = _Route(
                        lambda: (_MENU_PAGE,), _CT_HTML)
        for si, site in enumerate(self.sites):
            base = f"http://{self.host}:{self.ports[si]}"
            self._renderers.append(None if site.down else _Renderer(site, si, self.today, base))
            if not site.down:
                self._add_routes(si)
        server = web.Server(self._handle, access_log=None)
        self._runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        for s in self._socks:
            await web.SockSite(self._runner, s, backlog=1024).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for s in self._socks + self._dead:
            s.close()
        self._socks.clear()
        self._dead.clear()

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- routes ---------------------------------------------------------------------------------
    def _column_items(self, si: int, j: int) -> list[_Item]:
        site = self.sites[si]
        col = site.columns[j - 1]
        if col.newest is None or col.mode == "empty":
            return []
        return _items(site, j, col.newest, col.category)

    def _add_routes(self, si: int) -> None:
        site, r, port = self.sites[si], self._renderers[si], self.ports[si]
        assert r is not None
        ct = _CT_GBK if r.gbk else _CT_HTML
        self._routes[(port, "/")] = _Route(lambda: self._build_home(si), ct)
        if site.template == "gbk_asp":
            self._routes[(port, "/index.asp")] = self._routes[(port, "/")]
        if site.message_box:
            self._routes[(port, MESSAGE_BOX_PATH)] = _Route(lambda: (_message_box(site, self.today),), _CT_HTML)
        for j, col in enumerate(site.columns, start=1):
            path = r.column_path(j, col)
            if col.mode == "error":
                route = _Route(lambda: (_ERROR_BODY,), _CT_HTML, status=500)
            elif col.mode == "js":
                route = _Route(lambda j=j: self._build_column(si, j), ct, etag=col.etag)
                self._routes[(port, f"/api/js/{j}/list.json")] = _Route(
                    lambda j=j: (r.json_body(j, self._column_items(si, j)),), _CT_JSON
                )
            elif site.template == "json":
                route = _Route(lambda j=j: (r.json_body(j, self._column_items(si, j)),), _CT_JSON, etag=col.etag)
            else:
                route = _Route(lambda j=j: self._build_column(si, j), ct, etag=col.etag)
            self._routes[(port, path)] = route

    def _build_column(self, si: int, j: int) -> bytes:
        r = self._renderers[si]
        assert r is not None
        col = self.sites[si].columns[j - 1]
        # only the column-specific parts are new bytes; the site frame's bytes are shared by all its pages
        h, m, t = r.frame_bytes
        return (h, r.encode(r.title(col.name)), m, r.encode(r.column_body(j, col, self._column_items(si, j))), t)

    def _build_home(self, si: int) -> bytes:
        site, r = self.sites[si], self._renderers[si]
        assert r is not None
        newest = site.homepage_newest or max(
            (c.newest for c in site.columns if c.newest and c.mode in ("ok", "js")), default=self.today
        )
        news = _items(site, 0, newest, "动态要闻", n=8)
        blocks = [
            (j, c, self._column_items(si, j)[:5]) for j, c in enumerate(site.columns[:8], start=1) if c.mode == "ok"
        ]
        h, m, t = r.frame_bytes
        return (h, r.encode(_esc(site.name)), m, r.encode(r.homepage_body(news, blocks)), t)

    def prerender(self) -> None:
        """Render every page now (call after start()) so that no request pays for a first render."""
        for route in self._routes.values():
            if route.body is None:
                self._render(route)

    @staticmethod
    def _render(route: _Route) -> None:
        route.body = route.build()
        if route.etag:
            hsh = hashlib.blake2b(digest_size=8)
            for part in route.body:
                hsh.update(part)
            route.tag = '"' + hsh.hexdigest() + '"'

    def update_column(self, site_index: int, column_index: int, **changes: Any) -> None:
        """Change a column at runtime (e.g. ``newest=`` a later date, ``mode=``); caches are refreshed.

        ``column_index`` is 0-based.  Changing ``mode`` may change the column's URL path for some templates.
        """
        site = self.sites[site_index]
        cols = list(site.columns)
        cols[column_index] = dataclasses.replace(cols[column_index], **changes)
        self.sites[site_index] = dataclasses.replace(site, columns=tuple(cols))
        if self._renderers and self._renderers[site_index] is not None:
            port = self.ports[site_index]
            for key in [k for k in self._routes if k[0] == port]:
                del self._routes[key]
            r = self._renderers[site_index]
            assert r is not None
            r.site = self.sites[site_index]
            r.frame = r._frame()
            r.frame_bytes = (r.encode(r.frame.head), r.encode(r.frame.mid), r.encode(r.frame.tail))
            self._add_routes(site_index)

    # ---- request handling (hot path) -------------------------------------------------------------
    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests_served += 1
        port = request.transport.get_extra_info("sockname")[1] if request.transport else 0
        if self.request_log is not None:
            agent = request.headers.get("User-Agent", "")
            self.request_log.write(f"{time.time():.3f} {port} {request.raw_path} {agent}\n")
        route = self._routes.get((port, request.raw_path))
        if route is None:
            si = self._site_index.get(port)
            site = self.sites[si] if si is not None else None
            if site is None or request.raw_path in site.broken:
                return web.Response(body=_NOT_FOUND, status=404, headers={"Content-Type": _CT_HTML})
            body = _PLAIN_PAGE.format(name=_esc(site.name)).encode()
            return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})
        parts = route.body
        if parts is None:
            self._render(route)
            parts = route.body
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        if route.etag:
            tag = route.tag
            if request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers={"ETag": tag})
            return web.Response(
                body=body, status=route.status, headers={"Content-Type": route.content_type, "ETag": tag}
            )
        return web.Response(body=body, status=route.status, headers={"Content-Type": route.content_type})

    # ---- inventory ------------------------------------------------------------------------------
    def url(self, site_index: int, path: str = "/") -> str:
        return f"http://{self.host}:{self.ports[site_index]}{path}"

    def account_url(self, k: int) -> str:
        return f"http://{self.host}:{self.bridge_ports[k % self._bridges]}{_feed_path(k, self.accounts[k])}"

    def update_account(self, k: int, **changes: Any) -> None:
        """Change an account at runtime (``newest=``, ``fmt=``); its feed is rendered again on the next request."""
        old = self.accounts[k]
        self.accounts[k] = dataclasses.replace(old, **changes)
        port = self.bridge_ports[k % self._bridges]
        del self._routes[(port, _feed_path(k, old))]
        self._routes[(port, _feed_path(k, self.accounts[k]))] = _Route(
            lambda: (_feed_body(self.accounts[k], k, self.today),), _FEED_CT.get(self.accounts[k].fmt, _CT_HTML))

    def _account_entries(self, unit_ids: dict[str, str], units: list[dict]) -> list[dict]:
        out = []
        for k, account in enumerate(self.accounts):
            if account.unit not in unit_ids:
                unit_ids[account.unit] = uid = f"u{len(unit_ids) + 1}"
                units.append({"id": uid, "name": account.unit,
                              "contacts": [{"name": "值班员", "phone": "13800000000"}]})
            kind = "rss" if account.fmt == "fault" else account.fmt
            source: dict[str, Any] = {"kind": kind, "url": self.account_url(k)}
            if kind == "json":
                source["mapping"] = dict(_JSON_MAPPING)
            entry = {"id": f"a{k + 1}", "unit": unit_ids[account.unit], "platform": account.platform,
                     "name": account.name, "source": source}
            if account.menu:
                port = self.bridge_ports[k % self._bridges]
                entry["service_menu"] = [f"http://{self.host}:{port}{path}" for path in _menu_paths(k)]
            if account.attested_days is not None:
                attested = self.today - datetime.timedelta(days=account.attested_days)
                entry["interaction"] = {"present": True, "attested_by": "县政务公开办",
                                        "attested_at": attested.isoformat()}
            out.append(entry)
        return out

    def _reading(self, si: int, j: int, col: ColumnSpec) -> dict[str, Any]:
        """A script-built column's way of being read in the inventory (see ``ColumnSpec.read``), or a day_first
        column's override (``ColumnSpec.fixed``)."""
        if col.fixed:
            return {"list": DAY_FIRST_OVERRIDE.rows, "date": DAY_FIRST_OVERRIDE.date,
                    "date_format": DAY_FIRST_OVERRIDE.date_format}
        if col.read == "browser":
            return {"render": "browser"}
        if col.read == "json":
            return {"source": {"kind": "json", "url": self.url(si, f"/api/js/{j}/list.json"),
                               "mapping": {"items": "data.list", "title": "title", "url": "url",
                                           "date": "publishTime"}}}
        return {}

    def inventory(self) -> dict:
        if len(self.ports) != len(self.sites):
            raise RuntimeError("Fleet.inventory() needs a started fleet")
        unit_ids: dict[str, str] = {}
        units: list[dict] = []
        for site in self.sites:
            if site.unit not in unit_ids:
                uid = f"u{len(unit_ids) + 1}"
                unit_ids[site.unit] = uid
                units.append(
                    {
                        "id": uid,
                        "name": site.unit,
                        "contacts": [{"name": "值班员", "phone": f"138{_stable_int(site.unit) % 10**8:08d}"}],
                    }
                )
        sites: list[dict] = []
        for si, site in enumerate(self.sites):
            sid = f"s{si + 1}"
            cols = []
            for j, col in enumerate(site.columns, start=1):
                path = _column_path(site.template, j, col)
                cols.append(
                    {
                        "id": f"{sid}-c{j}",
                        "name": col.name,
                        "url": self.url(si, path),
                        "category": col.category,
                        **self._reading(si, j, col),
                    }
                )
            sites.append(
                {
                    "id": sid,
                    "name": site.name,
                    "unit": unit_ids[site.unit],
                    "homepage": self.url(si, "/"),
                    "columns": cols,
                    **({"messages": [{"name": "领导信箱", "url": self.url(si, MESSAGE_BOX_PATH)}]}
                       if site.message_box else {}),
                }
            )
        if self.accounts:
            return {"units": units, "sites": sites, "accounts": self._account_entries(unit_ids, units)}
        return {"units": units, "sites": sites}

    def write_inventory(self, path: pathlib.Path, **settings: Any) -> None:
        """Write the inventory as YAML (ruamel.yaml safe dump, allow_unicode) or, for a ``.json`` path, as
        JSON, with optional ``settings:``.

        ruamel's pure-Python emitter needs ~8 s for 30,000 columns, so big inventories (the benchmarks)
        have their fixed-schema part emitted directly (JSON-quoted scalars are valid YAML); ``settings``
        always go through ruamel.  Both forms load to the same data.
        """
        if pathlib.Path(path).suffix == ".json":
            inv = self.inventory()
            if settings:
                inv = {"settings": dict(settings), **inv}
            pathlib.Path(path).write_text(json.dumps(inv, ensure_ascii=False), encoding="utf-8")
            return
        from ruamel.yaml import YAML

        yaml = YAML(typ="safe", pure=True)
        yaml.allow_unicode = True
        yaml.default_flow_style = False
        yaml.width = 4096
        inv = self.inventory()
        n_cols = sum(len(s["columns"]) for s in inv["sites"])
        with pathlib.Path(path).open("w", encoding="utf-8") as fh:
            if settings:
                yaml.dump({"settings": dict(settings)}, fh)
            if n_cols < _FAST_YAML_MIN_COLUMNS or "accounts" in inv:
                yaml.dump(inv, fh)
            else:
                fh.write(_inventory_yaml(inv))


_FAST_YAML_MIN_COLUMNS = 5000


def _inventory_yaml(inv: dict) -> str:
    """Block-style YAML for the inventory schema; every scalar is JSON-quoted."""
    q = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731
    out = ["units:\n"]
    for u in inv["units"]:
        out.append(f"- id: {q(u['id'])}\n  name: {q(u['name'])}\n  contacts:\n")
        out.extend(f"  - name: {q(c['name'])}\n    phone: {q(c['phone'])}\n" for c in u["contacts"])
    out.append("sites:\n")
    for s in inv["sites"]:
        out.append(
            f"- id: {q(s['id'])}\n  name: {q(s['name'])}\n  unit: {q(s['unit'])}\n"
            f"  homepage: {q(s['homepage'])}\n  columns:\n"
        )
        out.extend(
            f"  - id: {q(c['id'])}\n    name: {q(c['name'])}\n    url: {q(c['url'])}\n"
            f"    category: {q(c['category'])}\n"
            for c in s["columns"]
        )
    return "".join(out)


def _message_box(site: SiteSpec, today: datetime.date) -> bytes:
    """A 领导信箱 list page in the common table layout (标题 | 留言时间 | 回复时间 | 状态)."""
    rows = []
    for k, (title, asked, answered, status) in enumerate(_MESSAGES):
        day = today - datetime.timedelta(days=asked)
        reply = (today - datetime.timedelta(days=answered)).isoformat() if answered is not None else ""
        rows.append(f'<tr><td><a href="/hdjl/ldxx/{day:%Y%m}/t{day:%Y%m%d}_{k}.html">{title}</a></td>'
                    f"<td>{day.isoformat()}</td><td>{reply}</td><td>{status}</td></tr>")
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>领导信箱 - {_esc(site.name)}</title></head>'
            f'<body><h2>领导信箱</h2><table class="xx-list"><tr><th>标题</th><th>留言时间</th><th>回复时间</th>'
            f'<th>状态</th></tr>{"".join(rows)}</table><p>{_esc(site.unit)} 版权所有</p></body></html>').encode()


def _column_path(template: str, j: int, col: ColumnSpec) -> str:
    """URL path of column ``j`` (1-based) in a site of ``template``."""
    if col.mode == "js":
        return f"/col/col{j}/index.html" if template == "hanweb" else f"/col/{j}/index.html"
    return {
        "trs": f"/col/{j}/index.html",
        "hanweb": f"/col/col{j}/index.html",
        "table": f"/channel/{j}/list.html",
        "gbk_asp": f"/list.asp?classid={j}",
        "dl": f"/col/{j}/list.shtml",
        "json": f"/api/column/{j}/list?pageNo=1&pageSize={LIST_SIZE}",
    }[template]


# --------------------------------------------------------------------------------------------------
# new-media feeds (what RSSHub / wewe-rss serve), one route per account on a bridge port

_FEED_CT = {"rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8",
            "jsonfeed": "application/feed+json; charset=utf-8", "json": _CT_JSON, "fault": _CT_HTML}
_JSON_MAPPING = {"items": "data.list", "title": "title", "url": "link", "date": "publish_time"}
_BRIDGE_ERROR = (
    "<!DOCTYPE html><html><head><title>RSSHub</title></head><body><div class=\"error\">"
    "<h1>Looks like something went wrong in building the response</h1>"
    "<p>Error: 微信公众号登录状态已失效，cookie 已过期，请重新扫码登录</p>"
    "<p>Route: /wechat/mp/{k} · Node version: v22 · Git Hash: 4f2e1a9</p></div></body></html>"
)


_MENU_PAGE = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>办事服务</title></head>"
              "<body><h1>办事服务</h1><ul><li>社保查询</li><li>公积金查询</li></ul></body></html>").encode()


def _menu_paths(k: int) -> list[str]:
    """The service menu's links on the account's bridge: served when ``menu`` is "ok", 404 when "dead"."""
    return [f"/menu/{k}/{name}.html" for name in ("bszn", "shebao", "gjj")]


def _feed_path(k: int, account: AccountSpec) -> str:
    return {"rss": f"/weibo/user/{k}", "atom": f"/toutiao/user/{k}.atom", "jsonfeed": f"/douyin/user/{k}.json",
            "json": f"/api/mp/{k}/articles", "fault": f"/wechat/mp/{k}"}[account.fmt]


def _posts(account: AccountSpec, k: int) -> list[tuple[datetime.datetime, str, str, bool]]:
    """(time, title, url, repost) newest first; the newest is at 10:00 Shanghai time on ``account.newest``."""
    rng = random.Random(f"{account.name}|{k}|{account.newest.isoformat()}")
    place = _place_of(account.unit)
    tz = datetime.timezone(datetime.timedelta(hours=8))
    d = account.newest
    out = []
    for n in range(account.posts):
        at = datetime.datetime(d.year, d.month, d.day, 10 - n % 3, 7 * n % 60, tzinfo=tz)
        if n < account.reposts:
            title = f"转发微博 - 转发 @{place}气象: {place}气象台{d.month}月{d.day}日天气预报：多云转小雨，气温8～15℃"
        else:
            title = _title(rng, "动态要闻", place, d.year)
        out.append((at, title, f"https://mp.example.cn/s/{k}-{n}", n < account.reposts))
        d -= datetime.timedelta(days=rng.randint(1, 4))
    return out


def _feed_body(account: AccountSpec, k: int, today: datetime.date) -> bytes:
    if account.fmt == "fault":
        return _BRIDGE_ERROR.replace("{k}", str(k)).encode()
    posts = _posts(account, k)
    if account.fmt == "jsonfeed":
        return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": account.name, "items": [
            {"id": u, "url": u, "title": t, "date_published": at.isoformat()} for at, t, u, _ in posts]},
            ensure_ascii=False).encode()
    if account.fmt == "json":
        return json.dumps({"code": 0, "msg": "success", "data": {"total": len(posts), "list": [
            {"title": t, "link": u, "publish_time": int(at.timestamp() * 1000), "is_original": n % 3 != 2}
            for n, (at, t, u, _) in enumerate(posts)]}}, ensure_ascii=False).encode()
    if account.fmt == "atom":
        entries = "".join(
            f"<entry><title>{_esc(t)}</title><link href=\"{u}\"/><id>{u}</id><updated>{at.isoformat()}</updated>"
            f"<author><name>{_esc(account.name)}</name></author></entry>" for at, t, u, _ in posts)
        return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">"
                f"<title>{_esc(account.name)} 的头条主页</title><id>urn:toutiao:{k}</id>"
                f"<updated>{posts[0][0].isoformat() if posts else ''}</updated>{entries}</feed>").encode()
    items = "".join(
        f"<item><title><![CDATA[{t}]]></title><description><![CDATA[{_weibo_html(t, repost)}]]></description>"
        f"<pubDate>{at.strftime('%a, %d %b %Y %H:%M:%S +0800')}</pubDate><guid>{u}</guid><link>{u}</link></item>"
        for at, t, u, repost in posts)
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>"
            f"<title><![CDATA[{account.name}的微博]]></title><link>https://weibo.com/{k}</link>"
            f"<description>{_esc(account.name)}的微博 - Powered by RSSHub</description>{items}"
            "</channel></rss>").encode()


def _weibo_html(title: str, repost: bool) -> str:
    """A post's description as RSSHub renders Weibo: a repost quotes the other account in a blockquote."""
    if not repost:
        return f"<p>{title}</p>"
    own, quoted = title.split(" - 转发 ", 1)
    who, text = quoted.split(": ", 1)
    return (f"{own}<br><blockquote> - 转发 <a href=\"https://weibo.com/n/{who[1:]}\" target=\"_blank\">{who}</a>:"
            f"&ensp;{text}</blockquote>")


def demo_accounts(today: datetime.date) -> list[AccountSpec]:
    """Accounts in every state: fresh, near the 2-week deadline, stale, and a broken bridge (unknown); one
    living on reposted weather forecasts, one whose service menu is all dead, one whose interaction
    attestation is stale."""
    d = lambda n: today - datetime.timedelta(days=n)  # noqa: E731
    A = AccountSpec
    return [
        A("青溪发布", "青溪县人民政府办公室", "微博", d(1), "rss", posts=20, reposts=12, menu="ok", attested_days=30),
        A("云岭政务", "云岭县人民政府办公室", "今日头条", d(12), "atom", attested_days=200),
        A("白石教育", "安阳岭县教育局", "抖音", d(30), "jsonfeed"),
        A("金川发布", "金川县人民政府办公室", "微信公众号", d(0), "json", menu="dead", attested_days=10),
        A("青溪县人民政府", "青溪县人民政府办公室", "微信公众号", d(2), "fault"),
    ]


def bench_accounts(n: int, today: datetime.date, seed: int = 1) -> list[AccountSpec]:
    """``n`` accounts over the four feed formats; ~80% fresh, 10% near the deadline, 8% stale, 2% broken bridges."""
    rng = random.Random(seed)
    platforms = ("微信公众号", "微博", "抖音", "今日头条", "快手")
    out = []
    for k in range(n):
        place = rng.choice(_PLACE_A) + rng.choice(_PLACE_B) + "县"
        y = rng.random()
        age = rng.randint(0, 9) if y < 0.8 else rng.randint(10, 13) if y < 0.9 else rng.randint(15, 60)
        fmt = "fault" if y > 0.98 else FEED_FORMATS[k % 4]
        out.append(AccountSpec(f"{place}发布{k}", f"{place}人民政府办公室", platforms[k % len(platforms)],
                               today - datetime.timedelta(days=age), fmt))
    return out


# --------------------------------------------------------------------------------------------------
# fleets


def demo_fleet(today: datetime.date) -> list[SiteSpec]:
    """Six sites (one per template) plus one site that is down; ages relative to ``today``.

    Fresh columns, columns inside the yellow lead (动态要闻 14-day rule with 4-day lead: newest 11–13 days
    ago; 通知公告 6-month rule with 30-day lead: ≈5 months 10 days ago), stale ones, an empty column, a
    script-built column read three ways (as fetched: unknown; through the browser; from its JSON source), an
    HTTP 500 column; one hacked homepage (hidden gambling links, a misused
    word), two broken links on another, and a 领导信箱 with late, overdue and 3-month-old messages.
    """
    d = lambda n: today - datetime.timedelta(days=n)  # noqa: E731
    yellow_notice = _months_ago(today, 5) - datetime.timedelta(days=10)
    stale_personnel = _months_ago(today, 14)
    C = ColumnSpec
    return [
        SiteSpec(
            "青溪县人民政府网站",
            "青溪县人民政府办公室",
            "trs",
            (
                C("工作动态", "动态要闻", d(1), etag=True),
                C("通知公告", "通知公告", yellow_notice),
                C("政策文件", "政策文件", d(20)),
                C("人事信息", "人事信息", stale_personnel),
                C("规划计划", "规划计划", d(60)),
                C("视频新闻", "动态要闻", d(5), mode="js", read="browser"),
                C("公示公告", "通知公告", d(16), mode="js", read="json"),
                C("外事动态", "动态要闻", d(4), mode="day_first", fixed=True),
            ),
            homepage_newest=d(0),
            message_box=True,
        ),
        SiteSpec(
            "云岭县人民政府网站",
            "云岭县人民政府办公室",
            "hanweb",
            (
                C("部门动态", "动态要闻", d(12)),
                C("通知公告", "通知公告", d(3), etag=True),
                C("政策解读", "政策文件", d(45)),
                C("人事任免", "人事信息", d(100)),
                C("招考录用", "人事信息", None, mode="empty"),
            ),
            homepage_newest=d(1),
            hacked=True,
        ),
        SiteSpec(
            "白石县人民政府网站",
            "白石县人民政府办公室",
            "table",
            (
                C("乡镇动态", "动态要闻", d(40)),
                C("通知公告", "通知公告", d(10)),
                C("规范性文件", "政策文件", d(30)),
                C("图片新闻", "动态要闻", d(2), mode="js"),
                C("发展规划", "规划计划", d(200)),
            ),
            broken=("/zfxxgk/fdzdgknr/003/index.html", "/about/"),
        ),
        SiteSpec(
            "金川县人民政府网站",
            "金川县人民政府办公室",
            "gbk_asp",
            (
                C("工作动态", "动态要闻", d(2)),
                C("公示公告", "通知公告", yellow_notice),
                C("政府文件", "政策文件", d(90)),
                C("人事信息", "人事信息", stale_personnel),
                C("年度计划", "规划计划", d(30), mode="error"),
            ),
        ),
        SiteSpec(
            "安阳岭县教育局网站",
            "安阳岭县教育局",
            "dl",
            (
                C("要闻动态", "动态要闻", d(13)),
                C("通知公告", "通知公告", d(1)),
                C("政策文件", "政策文件", d(7)),
                C("人事信息", "人事信息", d(20)),
                C("规划计划", "规划计划", d(300)),
            ),
        ),
        SiteSpec(
            "永泉县人民政府网站",
            "永泉县人民政府办公室",
            "json",
            (
                C("政务要闻", "动态要闻", d(0), etag=True),
                C("通知公告", "通知公告", d(25)),
                C("政策文件", "政策文件", d(14)),
                C("人事信息", "人事信息", d(60)),
                C("规划计划", "规划计划", d(150)),
            ),
        ),
        SiteSpec(
            "宁塘县卫生健康委员会网站",
            "宁塘县卫生健康委员会",
            "trs",
            (
                C("工作动态", "动态要闻", d(3)),
                C("通知公告", "通知公告", d(20)),
            ),
            down=True,
        ),
    ]


# fresh / yellow / stale age ranges in days per category (relative to common rules: 动态要闻 14 d,
# 通知公告 and 政策文件 6 months, 人事信息 and 规划计划 1 year)
_AGES = {
    "动态要闻": ((0, 9), (10, 13), (15, 90)),
    "通知公告": ((0, 140), (151, 179), (185, 400)),
    "政策文件": ((0, 140), (151, 179), (185, 500)),
    "人事信息": ((0, 320), (336, 364), (370, 800)),
    "规划计划": ((0, 320), (336, 364), (370, 900)),
}
_CAT_WEIGHTS = (40, 25, 15, 10, 10)


def bench_fleet(sites: int, columns: int, today: datetime.date, seed: int = 1) -> list[SiteSpec]:
    """``sites`` sites × ``columns`` columns each, deterministic for a seed.

    Templates rotate across sites; ~1% of sites are down; columns are mostly ``ok`` (≈75% fresh, 10% in
    the yellow lead, 15% stale) with ~1% each of empty, js and error; ~10% serve ETags.
    """
    rng = random.Random(seed)
    n_units = max(1, sites // 3)
    places: list[str] = []
    seen: set[str] = set()
    while len(places) < n_units:
        p = rng.choice(_PLACE_A) + rng.choice(_PLACE_B) + rng.choice("县县县区市")
        if len(seen) >= len(_PLACE_A) * len(_PLACE_B) * 3 - 10:
            p = f"第{len(places) + 1}{p}"
        if p not in seen:
            seen.add(p)
            places.append(p)
    out: list[SiteSpec] = []
    per_unit: dict[str, int] = {}
    names: set[str] = set()
    for i in range(sites):
        u = i * n_units // sites
        place = places[u]
        unit = f"{place}人民政府办公室"
        k = per_unit[unit] = per_unit.get(unit, -1) + 1
        name = f"{place}人民政府网站" if k == 0 else f"{place}{_DEPTS[(i * 7 + k) % len(_DEPTS)]}网站"
        while name in names:
            name = f"{place}{rng.choice(_DEPTS)}网站" if rng.random() < 0.9 else f"{name[:-2]}{i}网站"
        names.add(name)
        used: set[str] = set()
        cols: list[ColumnSpec] = []
        for _ in range(columns):
            cat = rng.choices(CATEGORIES, weights=_CAT_WEIGHTS)[0]
            base = rng.choice(_COLUMN_NAMES[cat])
            cname = base
            n = 0
            while cname in used:
                n += 1
                cname = f"{rng.choice(_DEPT_SHORT)}{base}" if n < 5 else f"{base}{n}"
            used.add(cname)
            x = rng.random()
            mode = "ok"
            if x < 0.01:
                mode = "empty"
            elif x < 0.02:
                mode = "js"
            elif x < 0.03:
                mode = "error"
            y = rng.random()
            fresh, yellow, stale = _AGES[cat]
            lo, hi = fresh if y < 0.75 else yellow if y < 0.85 else stale
            newest = None if mode == "empty" else today - datetime.timedelta(days=rng.randint(lo, hi))
            cols.append(ColumnSpec(cname, cat, newest, mode, etag=rng.random() < 0.1))
        out.append(
            SiteSpec(
                name,
                unit,
                TEMPLATES[(i + seed) % len(TEMPLATES)],
                tuple(cols),
                homepage_newest=today - datetime.timedelta(days=rng.randint(0, 3)),
                down=rng.random() < 0.01,
            )
        )
    return out


# --------------------------------------------------------------------------------------------------
# CLI


async def _serve(args: argparse.Namespace) -> int:
    today = datetime.date.fromisoformat(args.today) if args.today else datetime.date.today()
    specs = demo_fleet(today) if args.demo else bench_fleet(args.sites, args.columns, today, args.seed)
    accounts = demo_accounts(today) if args.demo else bench_accounts(args.accounts, today, args.seed)
    fleet = Fleet(specs, today, host=args.host, accounts=accounts, bridges=args.bridges)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await fleet.start()
    if args.request_log:
        fleet.request_log = open(args.request_log, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 (line by line)
    try:
        if not args.no_prerender:
            fleet.prerender()
        if args.inventory:
            fleet.write_inventory(pathlib.Path(args.inventory))
        n_cols = sum(len(s.columns) for s in specs)
        sys.stdout.write(f"READY {len(specs)} {n_cols}\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await fleet.stop()
        if fleet.request_log is not None:
            fleet.request_log.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m monitor.demo.fleet",
                                 description="Serve a loopback fleet of gov sites.")
    ap.add_argument("--sites", type=int, default=6)
    ap.add_argument("--columns", type=int, default=5, help="columns per site")
    ap.add_argument("--inventory", help="write the govwatch inventory here (YAML, or JSON for a .json path)")
    ap.add_argument("--today", help="the fleet's today, YYYY-MM-DD (default: the real today)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--accounts", type=int, default=0, help="new-media accounts served by feed bridges")
    ap.add_argument("--bridges", type=int, default=1, help="feed bridge ports serving the accounts")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--no-prerender", action="store_true", help="render pages on first request instead")
    ap.add_argument("--demo", action="store_true", help="serve demo_fleet() instead of bench_fleet()")
    ap.add_argument("--request-log", help="append one line per request here: <unix time> <port> <path> <user agent>")
    args = ap.parse_args(argv)
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    sys.exit(main())
