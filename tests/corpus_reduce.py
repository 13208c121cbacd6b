"""Reduce a real column page to what the list-page extractor reads, so the project keeps no one else's prose.

Kept exactly as published: the markup, every attribute, class and URL, the encoding (a GBK page stays
GBK bytes), every date and number, and every word the extractor or a reader of dates keys on (置顶,
发布时间, 提交时间, 回复时间, 暂无信息, 更多, 下一页, column words such as 通知公告 …). Other Chinese prose
becomes generated filler of the same length: each run of Chinese characters maps to the same filler
everywhere on the page (seeded by the page's hash), so a heading still matches its column name in
<title>. Script bodies become stubs that keep their tell-tale calls (document.write, jpage, $.ajax,
new Vue, innerHTML, createPageHTML …); style bodies become blank. Both keep their length in characters,
so a list that starts after 100 KB of navigation still does.

Usage:
    python tests/corpus_reduce.py ORIGINAL [-o OUT]          # reduce one page
    python tests/corpus_reduce.py --check [--originals DIR]   # every corpus page: extractor output equal?
    python tests/corpus_reduce.py --verify                    # every corpus page holds no original prose

``--check`` needs the original pages: each label's source is ``owner/repo@commit:path``; the original
is read from DIR/<page name> if present, else from a git mirror of the repository under
$CORPUS_MIRRORS (default /work/.mirror/owner+repo/repo).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "fixtures" / "real"

# --- What is kept -----------------------------------------------------------------------------

# Words the extractor, the messages reader or a date reader keys on, and the common column words
# (headings are matched against <title>). Kept wherever they occur, longest first.
_WORDS = """
置顶 顶 发布时间 发布日期 发文日期 成文日期 印发日期 更新时间 更新日期 公开日期 公布日期 发表时间
生成日期 时间 日期 提交时间 回复时间 留言时间 来信时间 写信时间 提问时间 咨询时间 投诉时间 答复时间
回应时间 办结时间 处理时间 反馈时间 受理时间 截止 结束 开始 有效期 有效 生效 失效 废止 至 止 今天
昨天 前天 星期 周 上午 下午 刚刚 半小时前 秒前 分钟前 小时前 天前 周前 状态 办理情况 处理情况 回复情况 答复情况
是否回复 已回复 未回复 待回复 已答复 未答复 待答复 已回应 未回应 已办结 未办结 办结 已处理 未处理
待处理 处理中 办理中 受理中 已受理 待受理 不予受理 不受理 已转办 转办中 正在办理 审核中 已反馈
已解决 已完成 已公开 已回信 无效留言 无效信件 重复留言 重复来信 已退回 不予处理 回复 答复 回应 反馈
处理 回信 留言 来信 写信 提问 咨询 投诉 提交 发信 诉求 来电 信件 登记 信箱 受理 满意 评价 暂无 没有
无相关 信息 数据 内容 记录 相关 文章 新闻 找到 更多 详细 详情 查看 阅读全文 点击查看 我要写信
我要留言 信件查询 下一页 上一页 下页 上页 后一页 前一页 首页 尾页 末页 跳转 转到 第 共 页 条 每页
热点 热门 排行 推荐 最新 友情链接 链接 专题 点击 浏览 阅读 访问 次数 请开启 请启用 请打开 浏览器
脚本 当前位置 您的位置 你的位置 位置 栏目 列表 网站地图 联系我们 通知 公告 公示 通报 动态 要闻 政策
文件 法规 规章 解读 图片 视频 工作 政务 公开 信息公开 互动 办事 服务 概况 简介 机构 领导 年 月 日
号 期 时 分 秒
"""
_PROTECTED_WORDS = sorted(set(_WORDS.split()), key=len, reverse=True)
_CN_NUM = "〇零一二三四五六七八九十○Ｏ"
_PROTECTED = re.compile(
    rf"[{_CN_NUM}]{{2,4}}\s*年(?:\s*[{_CN_NUM}]{{1,3}}\s*月(?:\s*[{_CN_NUM}]{{1,3}}\s*日)?)?"
    rf"|[{_CN_NUM}]{{1,3}}\s*月\s*[{_CN_NUM}]{{1,3}}\s*日"
    r"|" + "|".join(map(re.escape, _PROTECTED_WORDS))
)
# Chinese characters that are prose unless protected: CJK ideographs, extension A, compatibility ones, 〇.
_HAN = re.compile("[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

# Filler: common GB2312 characters that appear in no protected word and are no numeral, so filler can
# neither form a word the extractor reads nor a date.
_POOL_SOURCE = (
    "的是了我不人在他有这个上们来到说和地也子就道要出对你那得而着以可过天下自能后都会看好之然作"
    "还学没成想经心同现样话起把面去长很它实家些走手者种本事见身行定开其老头从向如道理各山明高物"
    "主法体外水正心力电美东西南北方部门里边前用把给让当并才再又于与及或且而但因为所若虽如果然后"
    "花草树木风云雨雪江河湖海石田土金银铜铁光明春夏秋冬红黄蓝绿青白黑紫松竹梅兰菊桃李杏桑柳杨"
    "鸟鱼虫马牛羊猪狗鸡鸭鹅龙虎豹熊鹿兔猫鼠象狮狼狐蛇龟鹤雁燕鹰雀鸽蝶蜂蚁虾蟹贝珠玉宝石灯火烟"
    "桥路街巷城村镇乡园林亭台楼阁殿堂院宫寺庙塔墙窗户床桌椅柜箱盒杯碗盘锅壶瓶伞帽衣裤鞋袜带包"
    "琴棋书画诗词歌曲舞剧笔墨纸砚茶酒米面饭菜汤果瓜豆麦稻谷粮盐糖油醋姜葱蒜椒韭芹萝卜茄芋藕莲"
    "勤俭温良恭让宽厚朴素清静安宁和顺平康乐喜悦欢笑甜香暖凉寒热轻重快慢深浅远近宽窄厚薄粗细软硬"
)


def _pool() -> str:
    banned = set("".join(_PROTECTED_WORDS)) | set(_CN_NUM) | set("百千万亿两")
    seen: dict[str, None] = {}
    for ch in _POOL_SOURCE:
        if ch not in banned and _HAN.fullmatch(ch):
            seen[ch] = None
    return "".join(seen)


POOL = _pool()
_POOL_SET = frozenset(POOL)

# Attributes holding URLs: kept exactly, Chinese included.
_URL_ATTRS = frozenset(
    {
        "href",
        "src",
        "action",
        "background",
        "data-src",
        "data-url",
        "data-href",
        "lowsrc",
        "longdesc",
        "codebase",
        "cite",
        "poster",
        "formaction",
        "data-original",
    }
)
# The tell-tale calls that make a page look script-built; a script line holding one is kept.
_TELL = re.compile(
    r"document\.write|writeln|innerHTML|outerHTML|insertAdjacentHTML|jpage|dataproxy|datastore|ajax|getJSON|"
    r"\$\.get|\$\.post|fetch\(|\.load\(|axios|XMLHttpRequest|new Vue|Vue\.|createApp|v-for|template|"
    r"createPageHTML|countPage|currentPage|pageIndex|pageSize|pageNum|laypage|pagination|\.html\(|\.append\(|"
    r"(?:19|20)\d{2}[-/.年]\d{1,2}"
)
_LONG_LINE = 400  # a kept minified line is cut down to windows around its tell-tale calls
_WINDOW = 160

# --- Tokenizing -------------------------------------------------------------------------------

# Tags as an HTML tokenizer reads them: a quote opens a quoted value only right after "=", so a stray quote
# in a broken tag (</ahref="http:>) does not swallow the text that follows.
_TAG_BODY = r"""(?:=\s*"[^"]*"|=\s*'[^']*'|[^>])*>"""
_TOKEN = re.compile(
    r"(?P<comment><!--.*?(?:-->|$))"
    r"|(?P<raw><(?P<rawtag>script|style|textarea|title|xmp)(?=[\s/>])" + _TAG_BODY + ")"
    r"|(?P<tag></?[A-Za-z!?][^\s/>]*" + _TAG_BODY + ")",
    re.S | re.I,
)
_ATTR = re.compile(r"""([^\s=/>"']+)(\s*=\s*)("[^"]*"|'[^']*'|[^\s>"']+)""")
_TYPE = re.compile(r"""\btype\s*=\s*["']?([\w/+.-]+)""", re.I)
_NAME = re.compile(r"""\bname\s*=\s*["']?([\w-]+)""", re.I)


def _split(html: str) -> Iterator[tuple[str, str, str]]:
    """(kind, text, name) tokens: text, comment, tag, or a raw element's open tag and body (name: its tag)."""
    pos = 0
    n = len(html)
    while pos < n:
        m = _TOKEN.search(html, pos)
        if m is None:
            yield "text", html[pos:], ""
            return
        if m.start() > pos:
            yield "text", html[pos : m.start()], ""
        if m.group("comment") is not None:
            yield "comment", m.group("comment"), ""
            pos = m.end()
        elif m.group("raw") is not None:
            name = m.group("rawtag").lower()
            close = re.compile(rf"</{name}\s*>", re.I).search(html, m.end())
            end = close.start() if close else n
            yield "open", m.group("raw"), name
            yield "body", html[m.end() : end], name
            if close:
                yield "tag", close.group(0), ""
            pos = close.end() if close else n
        else:
            yield "tag", m.group("tag"), ""
            pos = m.end()


# --- Filling ----------------------------------------------------------------------------------


class _Filler:
    """Maps each run of Chinese prose to deterministic filler of the same length."""

    def __init__(self, seed: str, known: set[str] | None = None) -> None:
        self.seed = seed
        self.memo: dict[str, str] = {}
        self.known = sorted(known or (), key=len, reverse=True)  # runs seen in the page's text

    def run(self, text: str) -> str:
        filled = self.memo.get(text)
        if filled is None:
            out: list[str] = []
            counter = 0
            while len(out) < len(text):
                digest = hashlib.sha256(f"{self.seed}|{text}|{counter}".encode()).digest()
                out.extend(POOL[b % len(POOL)] for b in digest)
                counter += 1
            filled = self.memo[text] = "".join(out[: len(text)])
        return filled

    def phrase(self, text: str) -> str:
        """A run of a page title or column name: the runs also seen in the page keep their own filler."""
        out, i = [], 0
        while i < len(text):
            for k in self.known:
                if len(k) >= 2 and text.startswith(k, i):
                    out.append(self.run(k))
                    i += len(k)
                    break
            else:
                j = i + 1
                while j < len(text) and not any(text.startswith(k, j) for k in self.known if len(k) >= 2):
                    j += 1
                out.append(self.run(text[i:j]))
                i = j
        return "".join(out)


def prose_runs(text: str) -> Iterator[tuple[int, int]]:
    """Spans of Chinese characters that are prose: not inside a protected word or a Chinese-numeral date."""
    protected = [m.span() for m in _PROTECTED.finditer(text)]
    k = 0
    for m in _HAN.finditer(text):
        start, end = m.span()
        pos = start
        while k < len(protected) and protected[k][1] <= pos:
            k += 1
        j = k
        while pos < end:
            while j < len(protected) and protected[j][1] <= pos:
                j += 1
            if j < len(protected) and protected[j][0] < end:
                ps, pe = protected[j]
                if ps > pos:
                    yield pos, ps
                pos = max(pos, pe)
            else:
                yield pos, end
                pos = end


def _fill(text: str, fill: Callable[[str], str]) -> str:
    out, last = [], 0
    for s, e in prose_runs(text):
        out.append(text[last:s])
        out.append(fill(text[s:e]))
        last = e
    out.append(text[last:])
    return "".join(out)


def _fill_tag(tag: str, filler: _Filler, column_name: bool) -> str:
    """Fill a tag's prose: attribute values but URLs, and Chinese attribute names (连接内容类型="…") or
    value-less attributes, which some site builders write."""

    def attr(m: re.Match[str]) -> str:
        name, eq, value = m.groups()
        name = _fill(name, filler.run)
        if name.lower() in _URL_ATTRS or not _HAN.search(value):
            return f"{name}{eq}{value}"
        fill = filler.phrase if column_name and name.lower() == "content" else filler.run
        return f"{name}{eq}{_fill(value, fill)}"

    out, last = [], 0
    for m in _ATTR.finditer(tag):
        out.append(_fill(tag[last : m.start()], filler.run))
        out.append(attr(m))
        last = m.end()
    out.append(_fill(tag[last:], filler.run))
    return "".join(out)


def _is_column_meta(tag: str) -> bool:
    m = _NAME.search(tag)
    return tag[:5].lower() == "<meta" and bool(m) and m.group(1).lower() in {"columnname", "sitename", "title"}


def _stub_script(body: str, filler: _Filler) -> str:
    kept = []
    for line in body.splitlines():
        if not _TELL.search(line):
            continue
        if len(line) > _LONG_LINE:
            spans = [(max(0, m.start() - 20), m.end() + _WINDOW) for m in _TELL.finditer(line)]
            merged: list[list[int]] = []
            for s, e in spans:
                if merged and s <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], e)
                else:
                    merged.append([s, e])
            line = " ; ".join(line[s:e] for s, e in merged)
        kept.append(_fill(line.strip(), filler.run))
    stub = "\n".join(kept)
    if len(stub) > len(body):  # windows around many calls of a short minified line
        stub = stub[: len(body)]
    return (stub + " " * (len(body) - len(stub))) if stub else " " * len(body)


def _markup_body(script_open: str, body: str) -> bool:
    """Script bodies that are markup or data, not code: jpage data islands, HTML templates, JSON-LD."""
    m = _TYPE.search(script_open)
    kind = m.group(1).lower() if m else ""
    markup = {"text/xml", "text/html", "text/template", "application/ld+json"}
    return "<datastore>" in body.lower() or kind in markup or kind.startswith("text/x-")


def reduce_text(html: str, seed: str) -> str:
    """The reduced page, as text. ``seed`` makes the filler deterministic (the original's hash)."""
    tokens = list(_split(html))
    known: set[str] = set()
    for kind, text, name in tokens:
        if kind == "text" or (kind == "body" and name in ("textarea", "xmp")):
            known.update(text[s:e] for s, e in prose_runs(text))
    filler = _Filler(seed, known)
    return _reduce_tokens(tokens, filler)


def _reduce_tokens(tokens: list[tuple[str, str, str]], filler: _Filler) -> str:
    out = []
    script_open = ""
    for kind, text, name in tokens:
        if kind == "text":
            out.append(_fill(text, filler.run))
        elif kind == "comment":
            inner = text[4:-3] if text.endswith("-->") else text[4:]
            tail = "-->" if text.endswith("-->") else ""
            out.append("<!--" + _reduce_tokens(list(_split(inner)), filler) + tail)
        elif kind == "tag":
            out.append(_fill_tag(text, filler, _is_column_meta(text)))
        elif kind == "open":
            script_open = text
            out.append(_fill_tag(text, filler, False))
        elif name == "title":
            out.append(_fill(text, filler.phrase))
        elif name in ("textarea", "xmp"):
            out.append(_fill(text, filler.run))
        elif name == "style":
            out.append(" " * len(text))
        elif _markup_body(script_open, text):
            out.append(_reduce_tokens(list(_split(text)), filler))
        else:
            out.append(_stub_script(text, filler))
    return "".join(out)


def decode(raw: bytes) -> tuple[str, str]:
    """The page's text and the codec that writes it back to the same bytes (UTF-8, else GB18030)."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("gb18030"), "gb18030"


def reduce_page(raw: bytes) -> bytes:
    """Reduce one page's bytes; the encoding stays as it was."""
    text, codec = decode(raw)
    seed = hashlib.sha256(raw).hexdigest()[:16]
    return reduce_text(text, seed).encode(codec)


# --- Checks -----------------------------------------------------------------------------------


def original_prose(raw: bytes) -> list[str]:
    """Chinese characters a reduced page must not hold: prose outside protected words and not filler.

    Empty for every page this script wrote; a page committed without reduction fails at once.
    """
    text, _ = decode(raw)
    bad: list[str] = []
    _prose_in(list(_split(text)), bad)
    return bad


def _prose_in(tokens: list[tuple[str, str, str]], bad: list[str]) -> None:
    script_open = ""
    for kind, chunk, name in tokens:
        if kind == "comment":
            _prose_in(list(_split(chunk[4:])), bad)
            continue
        if kind in ("tag", "open"):
            script_open = chunk if kind == "open" else script_open
            chunk = _ATTR.sub(lambda m: "" if m.group(1).lower() in _URL_ATTRS else m.group(0), chunk)
        elif kind == "body" and name == "style":
            if chunk.strip():
                bad.append("<style> body kept")
            continue
        elif kind == "body" and name == "script" and _markup_body(script_open, chunk):
            _prose_in(list(_split(chunk)), bad)
            continue
        for s, e in prose_runs(chunk):
            if any(ch not in _POOL_SET for ch in chunk[s:e]):
                bad.append(chunk[s:e])


def _source_bytes(source: str, originals: Path | None, name: str) -> bytes | None:
    if originals is not None and (originals / name).exists():
        return (originals / name).read_bytes()
    m = re.fullmatch(r"([^/]+)/([^@]+)@([0-9a-f]{7,40}):(.+)", source)
    if m is None:
        return None
    owner, repo, commit, path = m.groups()
    base = Path(os.environ.get("CORPUS_MIRRORS", "/work/.mirror")) / f"{owner}+{repo}" / "repo"
    git_dir = base / ".git" if (base / ".git").is_dir() else base
    if not git_dir.is_dir():
        return None
    shown = subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"], capture_output=True, check=False
    )
    return shown.stdout if shown.returncode == 0 else None


def _reading(raw: bytes, label: dict) -> tuple:
    from monitor.extract.listpage import extract_list

    text, _ = decode(raw)
    res = extract_list(text, label["url"], date.fromisoformat(label["today"]))
    # An item without a real link is named by a hash of its (filled) title: compare URLs without fragments.
    items = tuple((i.url.split("#", 1)[0], i.date, i.pinned) for i in res.items)
    return res.newest_date, res.reason, res.signature, items


def _htmldate(raw: bytes) -> tuple:
    from htmldate import find_date

    text, _ = decode(raw)
    return tuple(
        find_date(text, extensive_search=ext, original_date=False, outputformat="%Y-%m-%d") for ext in (True, False)
    )


def check(originals: Path | None) -> int:
    """Compare the extractor (and htmldate) on every reduced page and its original; print differences."""
    import logging

    logging.disable(logging.CRITICAL)
    labels = json.loads((REAL / "labels.json").read_text(encoding="utf-8"))
    differ = missing = 0
    for name, label in labels.items():
        raw = _source_bytes(label["source"], originals, name)
        if raw is None:
            print(f"{name}: original not available ({label['source']})")
            missing += 1
            continue
        reduced = (REAL / name).read_bytes()
        if reduce_page(raw) != reduced:
            print(f"{name}: the committed page is not this script's reduction of its source")
            differ += 1
        a, b = _reading(raw, label), _reading(reduced, label)
        if a != b:
            differ += 1
            print(f"{name}: extractor differs: original {a[:3]} {len(a[3])} items, reduced {b[:3]} {len(b[3])} items")
        ha, hb = _htmldate(raw), _htmldate(reduced)
        if ha != hb:
            print(f"{name}: htmldate differs (not fatal): original {ha}, reduced {hb}")
    print(f"{len(labels)} pages, {differ} differing, {missing} originals missing")
    return 1 if differ or missing else 0


def verify() -> int:
    labels = json.loads((REAL / "labels.json").read_text(encoding="utf-8"))
    bad = 0
    for name in labels:
        found = original_prose((REAL / name).read_bytes())
        if found:
            bad += 1
            print(f"{name}: not reduced: {found[:5]}")
    print(f"{len(labels)} pages, {bad} not reduced")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", nargs="?", type=Path, help="an original page to reduce")
    parser.add_argument("-o", "--out", type=Path, help="where to write the reduced page (default: stdout)")
    parser.add_argument("--check", action="store_true", help="extractor equal on every page and its original")
    parser.add_argument("--verify", action="store_true", help="every corpus page holds no original prose")
    parser.add_argument("--originals", type=Path, help="a directory of original pages named like the corpus")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.check:
        return check(args.originals)
    if args.verify:
        return verify()
    if args.page is None:
        parser.error("give a page, --check or --verify")
    reduced = reduce_page(args.page.read_bytes())
    if args.out:
        args.out.write_bytes(reduced)
    else:
        sys.stdout.buffer.write(reduced)
    return 0


if __name__ == "__main__":
    sys.exit(main())
