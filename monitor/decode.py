"""Turn an HTML body into text, robustly for Chinese government pages.

Those sites often serve GBK bodies behind a wrong (``charset=utf-8``, ``ISO-8859-1``) or missing
header, declare ``gb2312`` while using GBK-only characters (镕, 喆, 堃), or carry so little Chinese
that statistical detectors guess cp1250. ``decode_html`` therefore tries, in order:

1. **BOM** (UTF-8/16/32): an explicit byte-level signature beats any label.
2. **Strict UTF-8**, whatever the header says: a GBK byte sequence is almost never valid UTF-8,
   while "UTF-8 body behind a gbk label" and "GBK body behind a utf-8 label" are both common lies.
   Pure-ASCII bodies end here too (identical in every ASCII-compatible charset).
3. **A GB label** (gb2312, gbk, gb18030, x-gbk, cp936 …) in the header or in a ``<meta>`` tag of
   the first 4 KB → **gb18030**, the superset, so GBK-only characters behind a gb2312 label
   survive. A few stray invalid bytes are replaced rather than giving up on the declared family.
4. **Another explicit label** (header first, then meta), if the body decodes strictly with it
   (big5, iso-8859-1 …).
5. **Strict gb18030** if it decodes and yields CJK ideographs and no private-use characters: it
   catches unlabelled or mislabelled GBK pages, including ASCII-heavy ones with only a few Chinese
   characters where detectors fail.
6. **charset-normalizer** ``from_bytes(...).best()`` for everything else.
7. **UTF-8 with replacement** as the last resort.

``DecodeError`` is raised only if even that fails, which in practice never happens.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

__all__ = ["DecodeError", "decode_html"]

_GB_LABELS = frozenset(
    {
        "gb2312",
        "gbk",
        "gb18030",
        "x-gbk",
        "cp936",
        "ms936",
        "windows-936",
        "euc-cn",
        "gb-2312-80",
        "csgb2312",
        "chinese",
        "iso-ir-58",
        "x-euc-cn",
    }
)
_UTF8_LABELS = frozenset({"utf-8", "utf8", "unicode-1-1-utf-8"})
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: same first two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_SCAN_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


class DecodeError(ValueError):
    """No charset could decode the body."""


def _norm(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower().replace("_", "-")
    return label or None


def _meta_charset(body: bytes) -> str | None:
    m = _META_CHARSET.search(body, 0, _META_SCAN_BYTES)
    return _norm(m.group(1).decode("ascii")) if m else None


def _strict(body: bytes, label: str) -> tuple[str, str] | None:
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    try:
        return body.decode(name), name
    except (UnicodeDecodeError, ValueError):
        return None


def _labelled(body: bytes, header: str | None, meta: str | None) -> tuple[str, str] | None:
    if header in _GB_LABELS or meta in _GB_LABELS:  # step 3
        return body.decode("gb18030", errors="replace"), "gb18030"
    for label in (header, meta):  # step 4 (strict UTF-8 already failed in step 2)
        if label and label not in _UTF8_LABELS and (hit := _strict(body, label)):
            return hit
    return None


def _detect(body: bytes) -> tuple[str, str] | None:
    try:
        text = body.decode("gb18030")  # step 5
    except UnicodeDecodeError:
        pass
    else:
        if _CJK.search(text) and not _PRIVATE_USE.search(text):
            return text, "gb18030"
    best = from_bytes(body).best()  # step 6
    if best is not None and best.encoding:
        return str(best), codecs.lookup(best.encoding).name
    return None


def decode_html(body: bytes, header_charset: str | None) -> tuple[str, str]:
    """Decode an HTML body; return ``(text, charset actually used)``. See the module docstring."""
    for bom, name in _BOMS:  # step 1
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace"), name
    try:
        return body.decode("utf-8"), "utf-8"  # step 2
    except UnicodeDecodeError:
        pass
    hit = _labelled(body, _norm(header_charset), _meta_charset(body)) or _detect(body)
    if hit is not None:
        return hit
    try:
        return body.decode("utf-8", errors="replace"), "utf-8"  # step 7
    except Exception as exc:  # pragma: no cover - practically unreachable
        raise DecodeError(f"cannot decode {len(body)} bytes") from exc
