"""Hidden links and injected spam (暗链) in one page.

An element is *hidden* by an inline style, a simple ``<style>`` rule (``.cls`` / ``#id`` / ``tag.cls``),
the ``hidden`` attribute, a zero-size iframe or a tiny marquee, or by text coloured like its
background. Hidden alone is not 暗链: menus and tabs hide same-site links all the time. A hidden
region is reported when it links to a non-government external site or carries spam words. Visible
text blocks dense with spam words (the tail of a hacked notice) are reported too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.checks.page.external import DEFAULT_ALLOW, absolute, css_path, host_kind
from monitor.checks.page.words import Dictionaries

__all__ = ["HiddenFinding", "find_hidden"]

MAX_NODES = 20000
MAX_LINKS = 5000
MAX_DEPTH = 40
SPAM_DENSITY = 0.15  # share of a visible text block made of spam words
_RULE = re.compile(r"([^{}@]+)\{([^{}]*)\}")
_SIMPLE_SEL = re.compile(r"^[a-z0-9]*([.#][\w-]+)$", re.I)
_NUM = re.compile(r"^(-?\d+(?:\.\d+)?)(px|pt|em|rem|%)?$")
_NAMED = {"white": "#ffffff", "black": "#000000", "red": "#ff0000", "blue": "#0000ff", "green": "#008000"}


@dataclass(frozen=True, slots=True)
class HiddenFinding:
    kind: str  # hidden_link | hidden_iframe | hidden_text | spam_block | spam_link
    url: str | None
    text: str
    where: str
    style: str  # how it is hidden ("" for visible spam)
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "url": self.url, "text": self.text, "where": self.where, "style": self.style,
                "reason": self.reason}


def _decls(style: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in style.split(";"):
        if ":" in part:
            k, v = part.split(":", 1)
            out[k.strip().lower()] = v.replace("!important", "").strip().lower()
    return out


def _px(value: str | None) -> float | None:
    if not value:
        return None
    m = _NUM.match(value.strip().split()[0])
    if not m:
        return None
    n = float(m.group(1))
    return n * 16 if m.group(2) in ("em", "rem") else n


def _colour(value: str | None) -> str | None:
    if not value:
        return None
    for tok in re.findall(r"#[0-9a-f]{3,6}\b|rgba?\([^)]*\)|[a-z]+", value.lower()):
        tok = tok.replace(" ", "")
        if re.fullmatch(r"#[0-9a-f]{3}", tok):
            return "#" + "".join(c * 2 for c in tok[1:])
        if tok.startswith("#"):
            return tok
        m = re.fullmatch(r"rgba?\((\d+),(\d+),(\d+)(?:,[\d.]+)?\)", tok)
        if m:
            return "#" + "".join(f"{int(x):02x}" for x in m.groups())
        if tok in _NAMED:
            return _NAMED[tok]
    return None


def _hiding_decls(d: dict[str, str]) -> str | None:
    if d.get("display") == "none":
        return "display:none"
    if d.get("visibility") in ("hidden", "collapse"):
        return "visibility:hidden"
    if d.get("opacity") in ("0", "0.0"):
        return "opacity:0"
    if d.get("position") in ("absolute", "fixed"):
        for side in ("left", "top", "right"):
            n = _px(d.get(side))
            if n is not None and n <= -500:
                return f"position:{d['position']}; {side}:{d[side]}"
    n = _px(d.get("text-indent"))
    if n is not None and n <= -500:
        return f"text-indent:{d['text-indent']}"
    n = _px(d.get("font-size"))
    if n is not None and n <= 1:
        return f"font-size:{d['font-size']}"
    w, h = _px(d.get("width")), _px(d.get("height"))
    if d.get("overflow") == "hidden" and ((w is not None and w <= 1) or (h is not None and h <= 1)):
        return f"width:{d.get('width', 'auto')}; height:{d.get('height', 'auto')}; overflow:hidden"
    return None


def _style_rules(tree: LexborHTMLParser) -> dict[str, str]:
    """``.cls``/``#id`` → hiding style, from the page's ``<style>`` blocks."""
    rules: dict[str, str] = {}
    for style in tree.css("style"):
        css = re.sub(r"/\*.*?\*/", "", style.text(), flags=re.S)
        for selectors, body in _RULE.findall(css):
            how = _hiding_decls(_decls(body))
            if how is None:
                continue
            for sel in selectors.split(","):
                m = _SIMPLE_SEL.match(sel.strip())
                if m:
                    rules[m.group(1)] = how
    return rules


def _hiding(node: LexborNode, rules: dict[str, str]) -> str | None:
    attrs = node.attributes
    if "hidden" in attrs:
        return "hidden 属性"
    how = _hiding_decls(_decls(attrs.get("style") or ""))
    if how:
        return how
    keys = [f".{c}" for c in (attrs.get("class") or "").split()]
    if attrs.get("id"):
        keys.append(f"#{attrs['id']}")
    for k in keys:
        if k in rules:
            return f"{k} {{{rules[k]}}}"
    tag = node.tag
    if tag in ("iframe", "frame", "marquee"):
        d = _decls(attrs.get("style") or "")
        w, h = _px(attrs.get("width") or d.get("width")), _px(attrs.get("height") or d.get("height"))
        limit = 1 if tag != "marquee" else 5
        if (w is not None and w <= limit) or (h is not None and h <= limit):
            return f"{tag} width={attrs.get('width') or d.get('width')} height={attrs.get('height') or d.get('height')}"
    return None


def _same_colour(node: LexborNode) -> str | None:
    """Text colour equal to the nearest background colour, on the node or its ancestors."""
    fg = bg = None
    cur: LexborNode | None = node
    for _ in range(MAX_DEPTH):
        if cur is None or cur.tag in ("-document", None):
            break
        d = _decls(cur.attributes.get("style") or "")
        if fg is None:
            fg = _colour(d.get("color")) or (_colour(cur.attributes.get("color")) if cur.tag == "font" else None)
        if bg is None:
            bg = _colour(d.get("background-color") or d.get("background")) or _colour(cur.attributes.get("bgcolor"))
        if fg and bg:
            return f"color:{fg} 与背景色相同" if fg == bg else None
        cur = cur.parent
    return None


def _text(node: LexborNode, limit: int = 80) -> str:
    return " ".join(node.text(separator=" ").split())[:limit]


def find_hidden(html: str | LexborHTMLParser, page_url: str, dicts: Dictionaries,
                allow: tuple[str, ...] = DEFAULT_ALLOW) -> list[HiddenFinding]:
    tree = html if isinstance(html, LexborHTMLParser) else LexborHTMLParser(html)
    body = tree.body
    if body is None:
        return []
    for node in body.css("script, noscript, template"):
        node.decompose()
    rules = _style_rules(tree)
    page_host = urlsplit(page_url).hostname or ""
    out: list[HiddenFinding] = []
    done: set[int] = set()  # nodes inside a reported region

    def external(url: str | None) -> bool:
        return url is not None and host_kind(urlsplit(url).hostname or "", page_host, allow) == "external"

    def spam(text: str) -> list[str]:
        return sorted({m.entry.word for m in dicts.sensitive_words(text)})

    def region(container: LexborNode, how: str) -> None:
        text = " ".join(container.text(separator=" ").split())
        words = spam(text)
        links = [container] if container.tag == "a" else list(container.css("a[href]"))
        kind = "hidden_link"
        if container.tag in ("iframe", "frame"):
            links, kind = [container], "hidden_iframe"
        found = False
        for a in links:
            url = absolute(a.attributes.get("href") or a.attributes.get("src") or "", page_url)
            anchor = _text(a)
            a_spam = spam(anchor)
            if external(url) or a_spam or words:
                why = "隐藏的外部非政府链接" if external(url) else "隐藏链接"
                if a_spam or words:
                    why += "，含垃圾词：" + "、".join(a_spam or words)
                out.append(HiddenFinding(kind, url, anchor, css_path(a), how, why))
                found = True
        if words and not found:
            out.append(HiddenFinding("hidden_text", None, text[:120], css_path(container), how,
                                     "隐藏文字含垃圾词：" + "、".join(words)))
        for n in container.traverse():
            done.add(n.mem_id)

    def hidden_ancestor(node: LexborNode) -> bool:
        cur = node.parent
        for _ in range(MAX_DEPTH):
            if cur is None or cur.tag in ("body", "html", "-document", None):
                return False
            if cur.mem_id in hidden_ids:
                return True
            cur = cur.parent
        return False

    nodes = [n for n in body.traverse() if n.tag and not n.tag.startswith("-")][:MAX_NODES]
    hows = {n.mem_id: how for n in nodes if (how := _hiding(n, rules))}
    hidden_ids = set(hows)
    for n in nodes:
        if n.mem_id in hows and not hidden_ancestor(n):
            region(n, hows[n.mem_id])
    for a in body.css("a[href]")[:MAX_LINKS]:
        if a.mem_id in done:
            continue
        how = _same_colour(a)
        if how:
            region(a, how)
            continue
        url = absolute(a.attributes.get("href") or "", page_url)
        words = spam(_text(a))
        if words and external(url):
            out.append(HiddenFinding("spam_link", url, _text(a), css_path(a), "",
                                     "外部链接文字含垃圾词：" + "、".join(words)))
    for i, t in enumerate(body.traverse(include_text=True)):
        if i >= 2 * MAX_NODES:
            break
        if t.tag != "-text" or t.parent is None or t.parent.mem_id in done:
            continue
        text = " ".join((t.text_content or "").split())
        if len(text) < 8:
            continue
        matches = dicts.sensitive_words(text)
        words = sorted({m.entry.word for m in matches})
        if len(words) >= 2 and sum(m.end - m.start for m in matches) / len(text) >= SPAM_DENSITY:
            out.append(HiddenFinding("spam_block", None, text[:120], css_path(t.parent), "",
                                     "成段垃圾信息（色情/博彩词）：" + "、".join(words)))
    return out
