"""All one-page checks together: hidden links, soft 404, external links, wrong and sensitive words."""

from __future__ import annotations

from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser

from monitor.checks.page import soft404
from monitor.checks.page.external import DEFAULT_ALLOW, ExternalLink, external_links
from monitor.checks.page.hidden import HiddenFinding, find_hidden
from monitor.checks.page.words import Dictionaries, WordFinding

__all__ = ["PageReport", "check_html", "page_text"]


@dataclass(frozen=True, slots=True)
class PageReport:
    url: str
    soft404: soft404.Soft404
    hidden: list[HiddenFinding] = field(default_factory=list)
    external: list[ExternalLink] = field(default_factory=list)
    words: list[WordFinding] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "soft404": self.soft404.to_json(),
            "hidden": [f.to_json() for f in self.hidden],
            "external": [f.to_json() for f in self.external],
            "words": [f.to_json() for f in self.words],
            "counts": {"hidden": len(self.hidden), "external": len(self.external), "words": len(self.words)},
        }


def page_text(tree: LexborHTMLParser) -> str:
    """The page's readable text (title and body, without scripts and styles), one line per text node."""
    title = tree.css_first("title")
    body = tree.body
    parts = [title.text()] if title else []
    if body is not None:
        for node in body.css("script, style, noscript, template"):
            node.decompose()
        parts.append(body.text(separator="\n"))
    return "\n".join(parts)


def check_html(html: str, url: str, dicts: Dictionaries, *, site_id: str | None = None,
               allow: tuple[str, ...] = DEFAULT_ALLOW, tree: LexborHTMLParser | None = None) -> PageReport:
    """``tree``: the page already parsed by the caller, read here without changing it (the other checks
    remove nodes and parse their own copies)."""
    return PageReport(
        url=url,
        soft404=soft404.detect(html),
        hidden=find_hidden(html, url, dicts, allow),
        external=external_links(tree or LexborHTMLParser(html), url, allow),
        words=dicts.scan(page_text(LexborHTMLParser(html)), url, site_id),
    )
