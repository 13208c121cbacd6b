"""Script-built list pages as county sites serve them: an empty list box filled in by a script from a JSON API."""

from __future__ import annotations

import json
from datetime import date, timedelta

TITLES = (
    "关于印发《青溪县2027年优化营商环境工作要点》的通知",
    "青溪县人民政府办公室关于做好冬春季森林防火工作的通知",
    "关于开展2026年度安全生产专项检查的通知",
    "青溪县关于公布第二批县级非物质文化遗产代表性项目名录的通知",
    "关于调整青溪县城区公交线路的公告",
    "青溪县2026年第三季度政府信息公开工作情况通报",
    "关于征求《青溪县生活垃圾分类管理办法（征求意见稿）》意见的公告",
)


def notices(newest: date) -> list[tuple[str, str]]:
    """The column's items, newest first, the first dated ``newest`` and the others every 5 to 13 days before."""
    out, day = [], newest
    for i, title in enumerate(TITLES):
        out.append((title, day.isoformat()))
        day -= timedelta(days=5 + 4 * (i % 3))
    return out


def script_built_page(api: str, charset: str = "utf-8") -> str:
    """A county site's 通知公告 column whose list is filled in by a script from a JSON API (as 大汉/VSB-style sites
    do): header with today's date, navigation, a sidebar of hot items, a logo, a web font and a video."""
    return f"""<!DOCTYPE html><html><head><meta charset="{charset}"><title>通知公告_青溪县人民政府</title>
<meta name="ColumnName" content="通知公告">
<style>@font-face {{font-family: fzxbs; src: url(/fonts/fzxbs.woff2);}} h2 {{font-family: fzxbs;}}</style>
</head><body>
<div class="top"><img src="/images/logo.png" alt="青溪县人民政府"><span>今天是2026年11月25日 星期三</span></div>
<div class="nav"><a href="/">首页</a><a href="/zwgk/">政务公开</a><a href="/zwfw/">政务服务</a>
<a href="/hdjl/">互动交流</a></div>
<div class="side"><h3>热点信息</h3><ul>
<li><a href="/art/2025/3/1/art_1_1.html">青溪县召开2025年全县经济工作会议</a><span>2025-03-01</span></li>
<li><a href="/art/2025/2/1/art_1_2.html">县领导开展春节前走访慰问活动</a><span>2025-02-01</span></li>
</ul></div>
<div class="main"><div class="location">当前位置：首页 &gt; 政务公开 &gt; 通知公告</div>
<h2>通知公告</h2><video src="/media/intro.mp4" autoplay muted></video>
<ul class="list" id="list-box"></ul><div id="pager"></div></div>
<div class="footer">主办单位：青溪县人民政府办公室 浙ICP备05012345号</div>
<script>
var xhr = new XMLHttpRequest();
xhr.open('GET', '{api}?pageNo=1&pageSize=20');
xhr.onload = function () {{
  var d = JSON.parse(xhr.responseText), h = '';
  d.data.records.forEach(function (r) {{
    h += '<li><a href="' + r.link + '" target="_blank">' + r.docTitle + '</a><span>' + r.pubDate.substr(0, 10)
       + '</span></li>';
  }});
  document.getElementById('list-box').innerHTML = h;
  document.getElementById('pager').innerHTML = '共 ' + d.data.total + ' 条 第 1 页';
}};
xhr.send();
</script></body></html>"""


def api_body(items: list[tuple[str, str]]) -> bytes:
    records = [{"docId": 9000 + i, "docTitle": t, "pubDate": f"{d} 09:30:00",
                "link": f"/art/{d[:4]}/{int(d[5:7])}/{int(d[8:])}/art_{9000 + i}.html"}
               for i, (t, d) in enumerate(items)]
    return json.dumps({"code": 0, "data": {"total": len(items), "records": records}}, ensure_ascii=False).encode()
