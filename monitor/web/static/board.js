// govwatch wall view: live updates over server-sent events, no framework.
// The server renders the wall; on a change this fetches the same page again and swaps its #wall in place
// (one renderer for the first view and every update; the page is parsed inert, its scripts never run).
"use strict";
(() => {
  const live = document.getElementById("live");
  const changed = new Set();
  let pending = null;
  let opened = false;

  async function refresh() {
    pending = null;
    try {
      const response = await fetch(location.pathname + location.search, { cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const wall = fresh.getElementById("wall");
      if (!wall) throw new Error("no #wall in the page");
      for (const id of ["total", "now"]) {
        document.getElementById(id).textContent = fresh.getElementById(id).textContent;
      }
      for (const tr of wall.querySelectorAll("tr[data-id], tr[data-unit], tr[data-site]")) {
        if (changed.has(tr.dataset.id) || changed.has("unit:" + tr.dataset.unit) || changed.has("site:" + tr.dataset.site)) {
          tr.classList.add("flash");
        }
      }
      document.getElementById("wall").replaceWith(document.adoptNode(wall));
      changed.clear();
      if (source.readyState === EventSource.OPEN) setLive(true, "实时更新");
      document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
    } catch (err) {
      setLive(false, "数据刷新失败，稍后重试");
      schedule(5000);
    }
  }

  function schedule(delay) {
    if (pending === null) pending = setTimeout(refresh, delay);  // bursts of changes → one refresh
  }

  function setLive(on, text) {
    live.className = "live " + (on ? "on" : "off");
    live.textContent = text;
    document.body.dataset.live = on ? "1" : "0";
  }

  const source = new EventSource("/events");
  source.onopen = () => {
    setLive(true, "实时更新");
    if (opened) schedule(0);  // after a reconnect: catch up on what was missed
    opened = true;
  };
  source.onerror = () => setLive(false, "连接中断，正在重连");
  source.addEventListener("verdict", (event) => {
    const change = JSON.parse(event.data);
    changed.add(change.id).add("unit:" + change.unit_id).add("site:" + change.site_id);
    schedule(1000);
  });
})();
