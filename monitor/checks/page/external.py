"""Classify link targets: same site, government, allow-listed, or external (may need an exit notice)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["DEFAULT_ALLOW", "ExternalLink", "absolute", "css_path", "external_links", "host_kind"]

# Central state media commonly linked from government sites without an exit notice (configurable).
DEFAULT_ALLOW: tuple[str, ...] = ("people.com.cn", "xinhuanet.com", "news.cn", "cctv.com", "cntv.cn", "gmw.cn",
                                  "chinadaily.com.cn", "qstheory.cn", "12377.cn", "conac.cn")
_GOV = re.compile(r"(?:^|\.)gov(?:\.[a-z]{2})?$")  # .gov.cn, .gov, .gov.hk, .gov.mo …
_SECOND_LEVEL = {"gov", "com", "net", "org", "edu", "ac"}


@dataclass(frozen=True, slots=True)
class ExternalLink:
    url: str
    text: str
    host: str
    where: str

    def to_json(self) -> dict[str, str]:
        return {"url": self.url, "text": self.text, "host": self.host, "where": self.where}


def _site_key(host: str) -> str:
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) >= 3 and labels[-1] == "cn" and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def host_kind(host: str, page_host: str, allow: tuple[str, ...] = DEFAULT_ALLOW) -> str:
    """``internal`` (same site), ``government`` (.gov.cn, .gov), ``allowed`` or ``external``."""
    host, page_host = host.lower().rstrip("."), page_host.lower().rstrip(".")
    if not host or host == page_host or _site_key(host) == _site_key(page_host):
        return "internal"
    if _GOV.search(host):
        return "government"
    if any(_under(host, d.lower()) for d in allow):
        return "allowed"
    return "external"


def absolute(href: str, base: str) -> str | None:
    href = href.strip()
    if not href or href.startswith("#") or href.split(":", 1)[0].lower() in ("javascript", "mailto", "tel", "data"):
        return None
    url = urljoin(base, href)
    return url if urlsplit(url).scheme in ("http", "https") else None


def css_path(node: LexborNode, depth: int = 4) -> str:
    parts: list[str] = []
    cur: LexborNode | None = node
    while cur is not None and cur.tag not in ("html", "-document", None) and len(parts) < depth:
        tag = cur.tag or "?"
        attrs = cur.attributes
        if attrs.get("id"):
            tag += f"#{attrs['id']}"
        elif (attrs.get("class") or "").split():
            tag += "." + (attrs.get("class") or "").split()[0]
        parts.append(tag)
        cur = cur.parent
    return " > ".join(reversed(parts))


def external_links(tree: LexborHTMLParser, page_url: str, allow: tuple[str, ...] = DEFAULT_ALLOW,
                   limit: int = 2000) -> list[ExternalLink]:
    """Links to non-government sites (one per URL): candidates for an exit notice (退出提示)."""
    page_host = urlsplit(page_url).hostname or ""
    seen: set[str] = set()
    out: list[ExternalLink] = []
    for a in tree.css("a[href]")[:limit]:
        url = absolute(a.attributes.get("href") or "", page_url)
        if url is None or url in seen:
            continue
        host = urlsplit(url).hostname or ""
        if host_kind(host, page_host, allow) == "external":
            seen.add(url)
            out.append(ExternalLink(url, " ".join(a.text().split())[:80], host, css_path(a)))
    return out
