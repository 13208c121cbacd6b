import codecs

import pytest

from monitor.decode import decode_html

TITLE = "关于朱镕基、陶喆与王堃的通知"  # 镕 喆 堃 are in GBK but not in GB2312


def page(charset_meta: str | None, body: str) -> str:
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    return f"<html><head>{meta}<title>t</title></head><body>{body}</body></html>"


def test_gbk_behind_utf8_header() -> None:
    raw = page(None, "中华人民共和国国务院 政务公开").encode("gbk")
    text, cs = decode_html(raw, "utf-8")
    assert "中华人民共和国国务院 政务公开" in text
    assert cs == "gb18030"


def test_gbk_without_header() -> None:
    raw = page(None, "通知公告 2024年5月31日 发布").encode("gbk")
    text, cs = decode_html(raw, None)
    assert "通知公告 2024年5月31日 发布" in text
    assert cs == "gb18030"


def test_gb2312_meta_keeps_gbk_only_chars() -> None:
    raw = page("gb2312", TITLE).encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")
    text, cs = decode_html(raw, None)
    assert TITLE in text
    assert cs == "gb18030"


def test_http_equiv_meta_gbk_with_latin1_header() -> None:
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=GBK">'
        f"</head><body>{TITLE}</body></html>"
    )
    text, cs = decode_html(html.encode("gbk"), "ISO-8859-1")
    assert TITLE in text
    assert cs == "gb18030"


def test_utf8_behind_wrong_gbk_header() -> None:
    raw = page("gbk", TITLE).encode("utf-8")
    text, cs = decode_html(raw, "gbk")
    assert TITLE in text
    assert cs == "utf-8"


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_bom(bom: bytes, codec: str) -> None:
    raw = bom + page(None, TITLE).encode(codec)
    text, cs = decode_html(raw, "gbk")
    assert text.startswith("<html>")
    assert TITLE in text
    assert cs == codec


def test_big5_label() -> None:
    body = "臺灣省政府公報 繁體中文內容"
    raw = page("big5", body).encode("big5")
    text, cs = decode_html(raw, None)
    assert body in text
    assert cs == "big5"
    text, cs = decode_html(raw, "big5")
    assert body in text


def test_ascii_heavy_gbk_page() -> None:
    filler = "".join(
        f'<script>var nav{i} = "/col/col{i}/index.html"; function f{i}() {{ return {i}; }}</script>\n'
        f'<li><a href="/art/2024/{i}.html">link {i}</a></li>\n'
        for i in range(200)
    )
    raw = f"<html><head></head><body>{filler}<a href='/'>首页</a></body></html>".encode("gbk")
    assert len(raw) > 10_000
    for header in (None, "utf-8"):
        text, cs = decode_html(raw, header)
        assert "首页" in text
        assert cs == "gb18030"


def test_latin1_label_without_cjk() -> None:
    raw = "<p>Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e</p>".encode("latin-1")
    text, _ = decode_html(raw, "iso-8859-1")
    assert "Café crème brûlée" in text


def test_empty_body() -> None:
    assert decode_html(b"", None) == ("", "utf-8")
    assert decode_html(b"", "gbk") == ("", "utf-8")


def test_unknown_label_falls_through() -> None:
    raw = page(None, TITLE).encode("gbk")
    text, cs = decode_html(raw, "x-no-such-charset")
    assert TITLE in text
    assert cs == "gb18030"


def test_garbage_never_raises() -> None:
    raw = bytes(range(256)) * 4
    text, cs = decode_html(raw, None)
    assert isinstance(text, str)
    assert cs
