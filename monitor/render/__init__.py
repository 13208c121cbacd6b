"""Lists built by script: a column marked ``render: browser`` is read through a headless Chromium.

The browser runs in its own process (``server.py``, Playwright driving the system's Chromium), never in
the daemon's: a browser and one page cost about half a gigabyte, and a page's scripts must not stall the
event loop that runs the deadline timers. The daemon talks to it through ``client.Renderer`` (one JSON line
per request and per reply) and gets back a ``FetchResult`` holding the rendered HTML, which then goes
through the normal list extractor in the parser workers like any fetched page.

It is an optional extra (``pip install 'govwatch[browser]'`` plus Debian's ``chromium``): without it the
daemon runs and each such column is unknown with ``MISSING`` as its reason.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass

MISSING = "需要浏览器渲染组件：pip install 'govwatch[browser]' 并安装 chromium"
CHROMIUM = "/usr/bin/chromium"


@dataclass(frozen=True, slots=True)
class RenderSettings:
    """How the renderer runs (``settings.render`` in the inventory)."""

    chromium: str = CHROMIUM  # the system browser (Debian's wrapper script or /usr/lib/chromium/chromium)
    pages: int = 2  # pages rendered at once; each needs ~100 MB more and a share of the CPU
    timeout_s: float = 30.0  # per page, from navigation to the rendered HTML
    settle_s: float = 5.0  # after "load", wait at most this long for the network to go quiet (its own XHRs)
    max_pages: int = 200  # restart the browser after this many pages
    max_memory_mb: int = 1024  # ... or when its processes' PSS passes this
    max_age_s: float = 3600.0  # ... or when it has run this long
    idle_s: float = 120.0  # stop the renderer process after this long without a page (started again on demand)
    max_chars: int = 5 * 1024 * 1024  # the rendered HTML is cut here (as the fetcher caps a body)
    user_agent: str | None = None  # None: Chromium's own

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def missing(chromium: str = CHROMIUM) -> str | None:
    """Why pages cannot be rendered here (``MISSING`` and what exactly is absent), or None when they can."""
    absent = []
    if importlib.util.find_spec("playwright") is None or importlib.util.find_spec("psutil") is None:
        absent.append("未安装 govwatch[browser]")
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        absent.append(f"未找到 {chromium}")
    return f"{MISSING}（{'，'.join(absent)}）" if absent else None
