"""Homepage availability: the pure core (classes, window, debounce, certificates, defacement) and the check run
through the real monitor on loopback servers (WAF pages, TLS with generated certificates, a redirect loop, a slow
site, a site down half the time, a defaced homepage, govwatch's own network cut off)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import sqlite3
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ruamel.yaml import YAML

from monitor import config
from monitor.checks.availability import (
    AvailabilityCheck,
    Baseline,
    CertFacts,
    Kind,
    SiteRef,
    Window,
    availability_findings,
    cert_problems,
    classify,
    debounce,
    examine_page,
    host_matches,
    read_certificate,
    share_cut_off,
)
from monitor.daemon import Monitor
from monitor.evaluate import TZ
from monitor.findings import GOVWATCH, Finding, Status
from monitor.metrics import Metrics
from monitor.model import FetchError, FetchResult, State
from monitor.records import HealthProbeRecord
from monitor.service import monitoring
from tests.conftest import Endpoint
from tests.test_alerts_delivery import wait_for

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=TZ)
SITE_NAME = "青溪县人民政府"

# ---------------------------------------------------------------- realistic pages

RUISHU_412 = """<!DOCTYPE html>
<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta http-equiv="Expires" content="0"><meta http-equiv="Cache-Control" content="no-cache">
<meta http-equiv="Pragma" content="no-cache">
<meta id="9DhefwqGPrzGxEp9hPaoag" content="OQ5VZQ3Jg8ZTmqNkQ1xYyLXr6L7eGvP0aHnB2cK9sDfW" r='m'>
<!--[if lt IE 9]><script r='m'>document.createElement("section")</script><![endif]-->
<script type="text/javascript" r='m'>$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.nsd=17359;$_ts.cd="qqqqrrAlqGqEqaqlqql\
EqGqqqGqlqGqEqGqaqGqq";</script>
<script type="text/javascript" charset="utf-8" src="/4QbVtADbnLVIc/c.FxJzG50F.dfe1675.js" r='m'></script>
</head><body></body></html>"""

CLOUDFLARE_403 = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta name="robots" content="noindex,nofollow">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta http-equiv="refresh" content="390"></head>
<body class="no-js"><div class="main-wrapper" role="main"><div class="main-content"><noscript>
<div id="challenge-error-title"><div class="h2"><span id="challenge-error-text">Enable JavaScript and cookies to
continue</span></div></div></noscript></div></div>
<script>(function(){window._cf_chl_opt={cvId: '3',cZone: "www.qingxi.gov.cn",cType: 'managed',cRay: '8a1b2c3d4e5f6a7b',
cH: 'kX9t.1ZcM3', cUPMDTk: "\\/?__cf_chl_tk=Qw2.iA-1732500000-0-gaNycGzNC2U"};
var cpo = document.createElement('script');
cpo.src = '/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=8a1b2c3d4e5f6a7b';
window._cf_chl_opt.cOgUHash = location.hash === '' && location.href.indexOf('#') !== -1 ? '#' : location.hash;
document.getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>"""

JIASULE_521 = ("<script>document.cookie=('_')+('_')+('j')+('s')+('l')+('_')+('c')+('l')+('e')+('a')+('r')+('a')+"
               "('n')+('c')+('e')+('_')+('s')+('=')+(-~[]+'')+(1+[0]-(1))+(-~[]+[]+[])+'.'+(~~{}+[])+"
               "'|-1|'+';max-age=3600;path=/';location.href=location.pathname+location.search</script>")

WZWS_200 = """<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
<title></title></head><body><script type="text/javascript">var dynamicurl="/WZWSREL2luZGV4Lmh0bWw=";
var wzwsquestion="U@9Ug";var wzwsfactor="5373";var wzwsmethod="post";var wzwsparams="";var wzwstemplate="2";
function wzwschallengex(confusion){var tmp=0;for(var i=0;i<confusion.length;i++){tmp+=confusion.charCodeAt(i);}
return tmp*wzwsfactor+111111;}var hash=wzwschallengex(wzwsquestion);document.cookie="wzws_cid="+hash+"; path=/";
location.href=dynamicurl;</script><noscript>请开启浏览器的 JavaScript 后刷新页面</noscript></body></html>"""

SAFEDOG_200 = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"/>
<title>网站防火墙</title></head><body><div id="wrap"><div id="header"><h1><a href="http://www.safedog.cn"
title="安全狗">安全狗</a></h1></div><div id="main"><div class="box">
<h3>您的请求带有不合法参数，已被网站管理员设置拦截！</h3>
<p>可能原因：您提交的内容包含危险的攻击请求</p><p>如何解决：</p><ul><li>1）检查提交内容；</li>
<li>2）如网站托管，请联系空间提供商；</li><li>3）普通网站访客，请联系网站管理员；</li></ul></div></div>
<div id="footer"><p>网站防火墙 <a href="http://www.safedog.cn">www.safedog.cn</a></p></div></div></body></html>"""

CLOUDFLARE_521 = """<!DOCTYPE html><html lang="en-US"><head><title>www.qingxi.gov.cn | 521: Web server is down</title>
</head><body><div id="cf-wrapper"><div id="cf-error-details" class="p-0"><header class="mx-auto pt-10">
<h1 class="inline-block">Web server is down</h1><span class="code-label">Error code 521</span></header>
<p>The web server is not returning a connection. As a result, the web page is not displaying.</p>
<p>Cloudflare Ray ID: <strong>8a1b2c3d4e5f6a7b</strong></p></div></div></body></html>"""

PARKED = """<html><head><title>qingxi.gov.cn</title></head><body><h1>该域名正在出售</h1>
<p>This domain is for sale. 联系 QQ 12345678 购买此域名。</p>
<script src="//sedoparking.com/frmpark.js"></script></body></html>"""


def homepage(name: str = SITE_NAME, items: int = 80) -> str:
    """A county government portal: navigation, news and notice lists, a search box script with cookies, a footer."""
    news = "\n".join(f'<li><a href="/art/2026/11/{i}/art_{1000 + i}.html" title="{name}召开第{i}次常务会议">'
                     f'{name}召开第{i}次常务会议，研究部署安全生产和冬季保供工作</a>'
                     f'<span>2026-11-{(i % 25) + 1:02d}</span></li>'
                     for i in range(items))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{name}门户网站</title>
<script>function doSearch(){{document.cookie="searchword="+encodeURIComponent(q.value);
location.href="/search/index.html?q="+q.value;}}</script></head><body>
<div class="top">今天是2026年11月25日 星期三 <a href="/wza/">无障碍</a> <a href="/yhzx/">安全验证登录</a></div>
<div class="nav"><a href="/">首页</a><a href="/zwgk/">政务公开</a><a href="/zwfw/">政务服务</a>
<a href="/hdjl/">互动交流</a></div>
<div class="news"><h2>政务要闻</h2><ul>{news}</ul></div>
<div class="footer">主办单位：{name}办公室 电话：0571-88888888 ICP备05012345号 政府网站标识码 3301220001</div>
</body></html>"""


def fetched(text: str, status: int = 200) -> FetchResult:
    error = FetchError.HTTP_STATUS if status >= 400 else None
    return FetchResult("http://127.0.0.1/", "http://127.0.0.1/", 12.0, status=status, text=text, error=error,
                       body_bytes=len(text.encode()))


# ---------------------------------------------------------------- the pure core


@pytest.mark.parametrize(("page", "status", "waf"), [
    (RUISHU_412, 412, "瑞数"),
    (CLOUDFLARE_403, 403, "Cloudflare"),
    (CLOUDFLARE_403, 503, "Cloudflare"),
    (JIASULE_521, 521, None),
    (WZWS_200, 200, "360网站卫士"),
    (SAFEDOG_200, 200, "安全狗"),
    ("", 412, None),  # 瑞数 answers 412 even when its page is cut short
    ("<html><body>Too Many Requests</body></html>", 429, None),
])
def test_waf_pages_are_blocked_never_down(page: str, status: int, waf: str | None) -> None:
    outcome = classify(fetched(page, status))
    assert outcome.kind is Kind.BLOCKED and not outcome.failed
    assert outcome.waf == waf


@pytest.mark.parametrize(("page", "status", "error"), [
    (CLOUDFLARE_521, 521, "http_5xx"),  # Cloudflare saying the origin is down is down
    ("<html><body><h1>503 Service Temporarily Unavailable</h1><hr><center>nginx</center></body></html>", 503,
     "http_5xx"),
    ("<html><body><h1>404 Not Found</h1></body></html>", 404, "http_4xx"),
])
def test_server_errors_are_down(page: str, status: int, error: str) -> None:
    outcome = classify(fetched(page, status))
    assert outcome.kind is Kind.DOWN and outcome.failed and outcome.error == error


def test_a_real_homepage_with_cookie_scripts_and_security_words_is_ok() -> None:
    assert classify(fetched(homepage())).kind is Kind.OK


@pytest.mark.parametrize(("error", "cert_read", "kind", "cls"), [
    (FetchError.TIMEOUT, False, Kind.DOWN, "timeout"),
    (FetchError.CONNECT, False, Kind.DOWN, "connect"),
    (FetchError.TOO_MANY_REDIRECTS, False, Kind.DOWN, "redirect_loop"),
    (FetchError.DNS, False, Kind.DNS, "dns"),
    (FetchError.TLS, True, Kind.TLS, "tls"),  # the server answers; its certificate is the problem
    (FetchError.TLS, False, Kind.DOWN, "tls_handshake"),  # no handshake at all
])
def test_failure_classes(error: FetchError, cert_read: bool, kind: Kind, cls: str) -> None:
    outcome = classify(FetchResult("u", "u", 1.0, error=error, detail="x"), cert_read=cert_read)
    assert (outcome.kind, outcome.error) == (kind, cls)
    assert outcome.failed == (kind in (Kind.DOWN, Kind.DNS))


def test_debounce_needs_n_failures_to_go_down_and_m_successes_to_come_back() -> None:
    F, S = True, False
    assert debounce([F, F], 3, 2) == (False, 2)
    assert debounce([F, F, F], 3, 2) == (True, 3)
    assert debounce([F, F, F, S], 3, 2) == (True, 1)  # one success does not clear it
    assert debounce([F, F, F, S, S], 3, 2) == (False, 2)
    assert debounce([F, S] * 20, 3, 2)[0] is False  # flapping never reaches three in a row
    assert debounce([F, F, S, F, F, S, F], 3, 2)[0] is False


def probes(pattern: str, start: dt.datetime = T0, step: dt.timedelta = dt.timedelta(minutes=10)) -> Window:
    """A window from a pattern: '.' ok, 'x' timeout, 'd' DNS failure, 'b' blocked."""
    window = Window(dt.timedelta(days=1))
    errors = {".": (True, None), "x": (False, "timeout"), "d": (False, "dns"), "b": (True, "blocked")}
    for i, c in enumerate(pattern):
        ok, error = errors[c]
        window.add(HealthProbeRecord("s1", start + i * step, ok, error), start + i * step)
    return window


SITE = SiteRef("s1", SITE_NAME, "u1", "http://127.0.0.1/")


def findings_of(window: Window, expected: int = 144) -> dict[tuple[str, str], Finding]:
    found = availability_findings(SITE, window, expected, 0.03, 0.05, 3, 2, 1)
    return {(f.check, f.key): f for f in found}


def test_ratio_counts_against_the_full_window_and_turns_yellow_then_red() -> None:
    assert findings_of(probes("x")) == {}  # one failure in a young window is not 100 %
    assert findings_of(probes(".x" * 4)) == {}  # 4 of 144: 2.8 %
    yellow = findings_of(probes(".x" * 5))[("availability", "ratio")]  # 5 of 144: 3.5 %
    assert yellow.severity is State.YELLOW and yellow.evidence["failures"] == 5
    red = findings_of(probes(".x" * 8))[("availability", "ratio")]  # 8 of 144: 5.6 %
    assert red.severity is State.RED and "站点无法访问" in red.title
    assert ("availability", "down") not in findings_of(probes(".x" * 8))  # never three in a row
    assert findings_of(probes("b" * 30)) == {}  # a WAF is no failure
    window = probes("x" * 30)
    window.add(HealthProbeRecord("s1", T0 + dt.timedelta(days=2), True), T0 + dt.timedelta(days=2))
    assert len(window.probes) == 1 and findings_of(window) == {}  # old failures leave the window


def test_down_now_and_dns() -> None:
    down = findings_of(probes("...xxx"))[("availability", "down")]
    assert down.severity is State.YELLOW and down.title == "站点当前无法访问" and down.evidence["streak"] == 3
    assert ("availability", "down") in findings_of(probes("...xxx."))  # held until two successes
    assert ("availability", "down") not in findings_of(probes("...xxx.."))
    dns = findings_of(probes("...ddd"))
    assert ("dns", "dns") in dns and ("availability", "down") not in dns


def test_share_of_sites_failing_in_one_round() -> None:
    now = T0
    latest = {f"s{i}": (now - dt.timedelta(minutes=i), i < 4) for i in range(6)}
    assert share_cut_off(latest, now, 600, 0.5, 5) == (True, 4, 6)
    assert share_cut_off(dict(list(latest.items())[:3]), now, 600, 0.5, 5)[0] is False  # too few sites to say
    latest = {f"s{i}": (now - dt.timedelta(minutes=30), True) for i in range(6)} | {"s9": (now, False)}
    assert share_cut_off(latest, now, 600, 0.5, 5)[0] is False  # old failures are another round


def facts(**kw: Any) -> CertFacts:
    base = {"subject": "www.qingxi.gov.cn", "issuer": "GeoTrust CN RSA CA G1",
            "not_before": T0 - dt.timedelta(days=300), "not_after": T0 + dt.timedelta(days=65),
            "dns_names": ("www.qingxi.gov.cn", "qingxi.gov.cn")}
    return CertFacts(**(base | kw))


def test_certificate_problems() -> None:
    warn = dt.timedelta(days=30)
    assert cert_problems(facts(), "www.qingxi.gov.cn", T0, warn) == []
    (soon,) = cert_problems(facts(not_after=T0 + dt.timedelta(days=8)), "www.qingxi.gov.cn", T0, warn)
    assert (soon.key, soon.severity) == ("expiring", State.YELLOW) and "剩余 8 天" in soon.detail
    expired = cert_problems(facts(not_after=T0 - dt.timedelta(days=3), verify_code=10,
                                  verify_message="certificate has expired"), "www.qingxi.gov.cn", T0, warn)
    assert [(p.key, p.severity) for p in expired] == [("expired", State.RED)]
    assert [p.key for p in cert_problems(facts(verify_code=62), "zwfw.qingxi.gov.cn", T0, warn)] == ["name"]
    assert [p.key for p in cert_problems(facts(verify_code=20), "www.qingxi.gov.cn", T0, warn)] == ["chain"]
    assert [p.key for p in cert_problems(facts(verify_code=18), "www.qingxi.gov.cn", T0, warn)] == ["self_signed"]
    revoked = cert_problems(facts(verify_code=23, verify_message="certificate revoked"), "www.qingxi.gov.cn", T0, warn)
    assert [p.key for p in revoked] == ["verify"] and "certificate revoked" in revoked[0].detail


def test_host_names() -> None:
    wildcard = facts(dns_names=("*.qingxi.gov.cn",))
    assert host_matches("www.qingxi.gov.cn", wildcard) and host_matches("WWW.Qingxi.gov.cn.", wildcard)
    assert not host_matches("qingxi.gov.cn", wildcard) and not host_matches("a.b.qingxi.gov.cn", wildcard)
    assert not host_matches("www.qingxi.gov.cn.evil.com", wildcard)
    assert host_matches("127.0.0.1", facts(dns_names=(), ip_addresses=("127.0.0.1",)))
    assert not host_matches("127.0.0.1", facts())
    assert host_matches("www.qingxi.gov.cn", facts(dns_names=()))  # no SAN: the subject CN


def test_homepage_shrunk_to_a_twentieth_renamed_or_parked_is_defaced() -> None:
    page = homepage()
    baseline = Baseline()
    for _ in range(4):
        assert examine_page(page, len(page.encode()), SITE_NAME, baseline, 0.1).reasons == ()
    assert baseline.usual == len(page.encode()) and baseline.name_seen
    small = "<html><body><h1>维护中</h1><p>" + SITE_NAME + "</p></body></html>"
    small = small + " " * (len(page.encode()) // 20 - len(small.encode()))
    shrunk = examine_page(small, len(page.encode()) // 20, SITE_NAME, baseline, 0.1)
    assert len(shrunk.reasons) == 1 and "不到平常" in shrunk.reasons[0]
    other = homepage("某某娱乐城")
    renamed = examine_page(other, len(other.encode()), SITE_NAME, baseline, 0.1)
    assert renamed.reasons == (f"页面不再包含网站名称「{SITE_NAME}」",)
    hacked = "<html><head><title>Hacked By Sh3ll Team</title></head><body>" + page + "</body></html>"
    assert "篡改标记" in examine_page(hacked, len(hacked.encode()), SITE_NAME, baseline, 0.1).reasons[0]
    fresh = Baseline()
    assert "停放" in examine_page(PARKED, len(PARKED.encode()), SITE_NAME, fresh, 0.1).reasons[0]
    assert baseline.usual == len(page.encode())  # suspect pages never become the usual size
    # the name check uses the site's core name: "青溪县人民政府门户网站" in the inventory, "青溪县人民政府" on the page
    named = Baseline()
    examine_page(page, len(page.encode()), "青溪县人民政府门户网站", named, 0.1)
    assert named.name_seen


# ---------------------------------------------------------------- certificates for the TLS servers


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Issuer:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str = "govwatch test root CA", parent: Issuer | None = None) -> Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    signer = parent or Issuer(key, None)  # type: ignore[arg-type]
    builder = (x509.CertificateBuilder().subject_name(_name(cn))
               .issuer_name(parent.cert.subject if parent else _name(cn))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(_now() - dt.timedelta(days=1)).not_valid_after(_now() + dt.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None if parent is None else 0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if parent is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), critical=False)
    return Issuer(key, builder.sign(signer.key, hashes.SHA256()))


def server_context(tmp: Path, label: str, issuer: Issuer, *, names: tuple[str, ...] = (), ips: tuple[str, ...] = (),
                   days: tuple[float, float] = (-30, 365)) -> ssl.SSLContext:
    """A leaf certificate valid from ``days[0]`` to ``days[1]`` days from now, served alone (no chain)."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (x509.CertificateBuilder().subject_name(_name(names[0] if names else ips[0]))
            .issuer_name(issuer.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() + dt.timedelta(days=days[0])).not_valid_after(_now() + dt.timedelta(days=days[1]))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
            .sign(issuer.key, hashes.SHA256()))
    cert_file, key_file = tmp / f"{label}.pem", tmp / f"{label}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


# ---------------------------------------------------------------- loopback sites


@dataclass
class Sites:
    """Loopback sites: a plain http server with behaviours by path, and https servers by label."""

    base: str = ""
    tls: dict[str, str] = field(default_factory=dict)
    pages: dict[str, tuple[int, str]] = field(default_factory=dict)
    down: dict[str, str] = field(default_factory=dict)  # path → "close" (drop the connection) or "500"
    slow_s: float = 3.0
    runners: list[web.AppRunner] = field(default_factory=list)

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> str:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
        self.runners.append(runner)
        return f"{'https' if ssl_context else 'http'}://127.0.0.1:{runner.addresses[0][1]}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/loop/":
            raise web.HTTPFound("/loop/")
        if path == "/slow/":
            await asyncio.sleep(self.slow_s)
        if self.down.get(path) == "500":
            return web.Response(status=500, text="<h1>500 Internal Server Error</h1>", content_type="text/html")
        if self.down.get(path) == "close":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        status, body = self.pages.get(path, (200, homepage()))
        return web.Response(status=status, text=body, content_type="text/html")


@pytest.fixture
async def sites() -> AsyncIterator[Sites]:
    s = Sites()
    s.base = await s.start()
    yield s
    for runner in s.runners:
        await runner.cleanup()


def inventory(tmp: Path, homepages: dict[str, str], receiver: str | None = None,
              **availability: Any) -> config.Inventory:
    settings: dict[str, Any] = {
        "store": str(tmp / "govwatch.sqlite3"),
        "fetch": {"timeout": "5s", "per_host_interval": "0s", **availability.pop("fetch", {})},
        "availability": {"timeout": "5s", **availability},
        "alerts": {"group_window": "0s", "repeat_at": None, "send_timeout": "2s", "max_backoff": "1s"},
    }
    unit = {"id": "u1", "name": "青溪县人民政府办公室",
            "receivers": [{"id": "group", "url": receiver}] if receiver else []}
    data = {"settings": settings, "units": [unit],
            "sites": [{"id": sid, "name": SITE_NAME, "unit": "u1", "homepage": url, "check_homepage": False}
                      for sid, url in homepages.items()]}
    path = tmp / "inventory.yaml"
    YAML().dump(data, path)
    return config.load(path)


def only_availability(monitor: Monitor, inv: config.Inventory) -> AvailabilityCheck:
    monitor.check_runner._build = lambda inventory: [AvailabilityCheck(inventory)]
    monitor.check_runner.configure(inv)
    (check,) = monitor.check_runner.checks
    return check


class Clock:
    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, minutes: float = 10) -> None:
        self.now += dt.timedelta(minutes=minutes)


def open_findings(monitor: Monitor, subject: str) -> dict[tuple[str, str], Finding]:
    return {(k.finding.check, k.finding.key): k.finding for (check, subj), by_uid in monitor.findings.items()
            if subj == subject for k in by_uid.values() if k.status is Status.OPEN}


def stored_probes(tmp: Path, subject: str) -> list[tuple[int, str | None, int | None]]:
    with sqlite3.connect(tmp / "govwatch.sqlite3") as db:
        return db.execute("SELECT ok, error, status FROM health_probes WHERE subject ="
                          " (SELECT key FROM subjects WHERE name = ?) ORDER BY at", (subject,)).fetchall()


async def rounds(monitor: Monitor, clock: Clock, n: int) -> None:
    for _ in range(n):
        clock.tick()
        await monitor.check_once()


# ---------------------------------------------------------------- the check through the real monitor


async def test_certificates_expired_wrong_name_incomplete_chain_and_expiring(tmp_path: Path, sites: Sites) -> None:
    root = make_ca()
    intermediate = make_ca("govwatch test intermediate CA", parent=root)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(root.cert.public_bytes(serialization.Encoding.PEM))
    urls = {
        "expired": await sites.start(server_context(tmp_path, "expired", root, ips=("127.0.0.1",), days=(-400, -3))),
        "wrongname": await sites.start(server_context(tmp_path, "wrong", root, names=("www.qingxi.gov.cn",))),
        "chain": await sites.start(server_context(tmp_path, "chain", intermediate, ips=("127.0.0.1",))),
        "soon": await sites.start(server_context(tmp_path, "soon", root, ips=("127.0.0.1",), days=(-300, 8.5))),
    }
    inv = inventory(tmp_path, {sid: url + "/" for sid, url in urls.items()}, fetch={"ca_file": str(ca_file)})
    metrics = Metrics()
    async with monitoring(inv, metrics=metrics) as monitor:
        check = only_availability(monitor, inv)
        await monitor.check_once()
        tls = {sid: {key: f.severity for (c, key), f in open_findings(monitor, sid).items() if c == "tls"}
               for sid in urls}
        assert tls == {"expired": {"expired": State.RED}, "wrongname": {"name": State.RED},
                       "chain": {"chain": State.RED}, "soon": {"expiring": State.YELLOW}}
        for sid in urls:  # a certificate problem is not the site being down
            assert not [k for k in open_findings(monitor, sid) if k[0] in ("availability", "dns")]
        soon = open_findings(monitor, "soon")[("tls", "expiring")]
        assert soon.title == "网站证书即将到期" and "剩余 8 天" in soon.detail
        assert round(check.cert_days["soon"][1]) == 8 and check.cert_days["expired"][1] < -2
        scrape = metrics.scrape().decode()
        assert 'govwatch_tls_cert_days_left{site="soon",unit="u1"} 8.' in scrape
        assert 'govwatch_tls_cert_days_left{site="expired",unit="u1"} -3.' in scrape
        assert 'govwatch_findings_open{check="tls",severity="red",site="expired",unit="u1"} 1.0' in scrape
    assert stored_probes(tmp_path, "expired") == [(1, "tls", None)]  # the server answered; not a failure
    assert stored_probes(tmp_path, "soon") == [(1, None, 200)]
    unverified = await read_certificate(urls["wrongname"] + "/", 5)  # without the test CA: untrusted too
    assert unverified is not None and unverified.verify_code == 20  # unable to get local issuer certificate


async def test_waf_challenges_are_blocked_never_down(tmp_path: Path, sites: Sites) -> None:
    sites.pages["/ruishu/"] = (412, RUISHU_412)
    sites.pages["/cf/"] = (403, CLOUDFLARE_403)
    inv = inventory(tmp_path, {"ruishu": sites.base + "/ruishu/", "cf": sites.base + "/cf/"})
    clock = Clock()
    async with monitoring(inv) as monitor:
        monitor.clock = clock
        only_availability(monitor, inv)
        await rounds(monitor, clock, 2)
        assert open_findings(monitor, "ruishu") == {}  # two challenges in a row: not yet
        await rounds(monitor, clock, 30)
        for sid, waf in (("ruishu", "瑞数"), ("cf", "Cloudflare")):
            found = open_findings(monitor, sid)
            assert set(found) == {("blocked", "waf")}, found  # never availability, down or a ratio
            assert found[("blocked", "waf")].severity is State.YELLOW and waf in found[("blocked", "waf")].detail
        sites.pages["/cf/"] = (200, homepage())  # whitelisted
        await rounds(monitor, clock, 2)
        assert open_findings(monitor, "cf") == {}
    assert set(stored_probes(tmp_path, "ruishu")) == {(1, "blocked", 412)}


async def test_redirect_loop_and_slow_site_are_down_after_three_failures(tmp_path: Path, sites: Sites) -> None:
    sites.slow_s = 2.0
    inv = inventory(tmp_path, {"loop": sites.base + "/loop/", "slow": sites.base + "/slow/"}, timeout="1s")
    clock = Clock()
    async with monitoring(inv) as monitor:
        monitor.clock = clock
        only_availability(monitor, inv)
        await rounds(monitor, clock, 2)
        assert open_findings(monitor, "loop") == {} and open_findings(monitor, "slow") == {}
        await rounds(monitor, clock, 1)
        loop, slow = open_findings(monitor, "loop"), open_findings(monitor, "slow")
        assert set(loop) == {("availability", "down")} and "重定向循环" in loop[("availability", "down")].detail
        assert set(slow) == {("availability", "down")} and "超时" in slow[("availability", "down")].detail
    assert [e for _, e, _ in stored_probes(tmp_path, "slow")] == ["timeout"] * 3
    assert [e for _, e, _ in stored_probes(tmp_path, "loop")] == ["redirect_loop"] * 3


async def test_site_down_half_the_time_climbs_to_yellow_then_red_and_survives_a_restart(
        tmp_path: Path, sites: Sites, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, {"flaky": sites.base + "/flaky/"}, endpoint.url("json", "group"),
                    window="1d")  # 144 probes a day
    clock = Clock()
    probe = iter(range(100))

    async def flaky(monitor: Monitor, n: int) -> None:
        """Up, dropped connection, up, HTTP 500, …"""
        for _ in range(n):
            i = next(probe)
            sites.down["/flaky/"] = ("", "close", "", "500")[i % 4]
            await rounds(monitor, clock, 1)

    async with monitoring(inv) as monitor:
        monitor.clock = clock
        only_availability(monitor, inv)
        await flaky(monitor, 8)  # 4 failures: 2.8 %
        assert open_findings(monitor, "flaky") == {}
        await flaky(monitor, 2)  # 5 failures: 3.5 %
        (ratio,) = open_findings(monitor, "flaky").values()
        assert (ratio.key, ratio.severity) == ("ratio", State.YELLOW)
        assert ratio.evidence["by_error"] == {"connect": 3, "http_5xx": 2}
        await wait_for(lambda: len(endpoint.messages("group")) == 1)  # the unit hears it
    errors = [e for _, e, _ in stored_probes(tmp_path, "flaky")]
    assert errors == [None, "connect", None, "http_5xx"] * 2 + [None, "connect"]
    async with monitoring(inv) as monitor:  # a restart reads the window back from the store
        monitor.clock = clock
        only_availability(monitor, inv)
        await flaky(monitor, 4)  # 7 failures: 4.9 %
        assert open_findings(monitor, "flaky")[("availability", "ratio")].severity is State.YELLOW
        await flaky(monitor, 2)  # 8 failures: 5.6 %
        found = open_findings(monitor, "flaky")
        assert set(found) == {("availability", "ratio")}  # debounce holds: never three failures in a row
        assert found[("availability", "ratio")].severity is State.RED
        (known,) = monitor.findings[("availability", "flaky")].values()  # one finding, yellow then red
        assert known.first_seen == T0 + dt.timedelta(minutes=100)
        await wait_for(lambda: len(endpoint.messages("group")) == 2)  # and hears it again when it turns red
    messages = [m["body"]["message"] for m in endpoint.messages("group")]
    assert "首页近1天无法访问比例已达3%" in messages[0] and "站点无法访问" in messages[1]


async def test_homepage_suddenly_a_twentieth_of_its_size_is_defaced(tmp_path: Path, sites: Sites) -> None:
    page = homepage()
    sites.pages["/"] = (200, page)
    inv = inventory(tmp_path, {"s1": sites.base + "/"})
    clock = Clock()
    async with monitoring(inv) as monitor:
        monitor.clock = clock
        only_availability(monitor, inv)
        await rounds(monitor, clock, 4)
        assert open_findings(monitor, "s1") == {}
        stub = f"<html><body><h1>{SITE_NAME}</h1><p>网站升级中</p></body></html>"
        sites.pages["/"] = (200, stub + "<!-- -->" * ((len(page.encode()) // 20 - len(stub.encode())) // 8))
        await rounds(monitor, clock, 1)
        defaced = open_findings(monitor, "s1")
        assert set(defaced) == {("defaced", "homepage")}
        assert defaced[("defaced", "homepage")].severity is State.RED and "不到平常" in defaced[
            ("defaced", "homepage")].detail
    async with monitoring(inv) as monitor:  # after a restart the baseline comes back with the finding
        monitor.clock = clock
        only_availability(monitor, inv)
        await rounds(monitor, clock, 1)
        assert set(open_findings(monitor, "s1")) == {("defaced", "homepage")}
        sites.pages["/"] = (200, page)
        await rounds(monitor, clock, 1)
        assert open_findings(monitor, "s1") == {}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_govwatch_cut_off_changes_no_site(tmp_path: Path, sites: Sites) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/"
    inv = inventory(tmp_path, {"a": dead, "b": sites.base + "/"}, canaries=[f"http://127.0.0.1:{closed_port()}/"])
    clock = Clock()
    async with monitoring(inv) as monitor:
        monitor.clock = clock
        only_availability(monitor, inv)
        await rounds(monitor, clock, 5)
        (net,) = open_findings(monitor, GOVWATCH).values()
        assert (net.check, net.title, net.severity) == ("availability", "监测系统自身网络中断", State.RED)
        assert open_findings(monitor, "a") == {}  # unknown: no site-down finding
        assert stored_probes(tmp_path, "a") == []  # and nothing counts against it
        assert len(stored_probes(tmp_path, "b")) == 5
        await monitor.reload(inventory(tmp_path, {"a": dead, "b": sites.base + "/"}, canaries=[sites.base + "/"]))
        await rounds(monitor, clock, 3)  # the canary answers: the dead site's failures are its own
        assert open_findings(monitor, GOVWATCH) == {}
        assert set(open_findings(monitor, "a")) == {("availability", "down")}
        assert [ok for ok, _, _ in stored_probes(tmp_path, "a")] == [0, 0, 0]


async def test_many_sites_failing_at_once_without_canaries_is_govwatch_cut_off(tmp_path: Path) -> None:
    dead = {f"s{i}": f"http://127.0.0.1:{closed_port()}/" for i in range(6)}
    inv = inventory(tmp_path, dead)
    clock = Clock()
    async with monitoring(inv) as monitor:
        monitor.clock = clock
        only_availability(monitor, inv)
        await rounds(monitor, clock, 4)
        assert set(open_findings(monitor, GOVWATCH)) == {("availability", "network")}
        assert not [sid for sid in dead if open_findings(monitor, sid)]
