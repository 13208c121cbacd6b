// govwatch wall view: live updates over server-sent events, no framework, no innerHTML with data.
"use strict";
(() => {
  const STATES = ["red", "yellow", "unknown", "green"];
  const LISTS = [["red", "超期未更新", "超期天数"], ["yellow", "临近期限", "剩余天数"], ["unknown", "无法判断（请核查）", "说明"]];
  const HEAD = ["状态", "责任单位", "网站", "栏目", "类别", "最新信息日期"];
  const live = document.getElementById("live");
  const changed = new Set();
  let pending = null;
  let opened = false;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(child == null ? "" : String(child)));
    }
    return node;
  }

  function link(href, text) { return el("a", { href }, text); }

  function row(r, state) {
    const last = state === "red" ? `${r.days_overdue} 天` : state === "yellow" ? `${r.days_left} 天` : r.detail;
    const tr = el("tr", { "data-id": r.id },
      el("td", { class: "state" }, el("span", { class: r.state }, r.state_label)),
      el("td", {}, link("/unit/" + encodeURIComponent(r.unit_id), r.unit)),
      el("td", {}, r.site),
      el("td", {}, link("/target/" + encodeURIComponent(r.id), r.column)),
      el("td", {}, r.category),
      el("td", { class: "num" }, r.newest_date || "—"),
      el("td", state === "unknown" ? {} : { class: "num" }, last));
    if (changed.has(r.id)) tr.classList.add("flash");
    return tr;
  }

  function render(rows) {
    const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const r of rows) counts[r.state] = (counts[r.state] || 0) + 1;
    for (const s of STATES) document.querySelector(`[data-count="${s}"]`).textContent = String(counts[s]);
    document.getElementById("total").textContent = String(rows.length);
    const sections = [];
    for (const [state, title, last] of LISTS) {
      const selected = rows.filter((r) => r.state === state);
      if (!selected.length) continue;
      const table = el("table", { id: `${state}-list` }, el("tr", {}, ...[...HEAD, last].map((h) => el("th", {}, h))));
      for (const r of selected) table.append(row(r, state));
      sections.push(el("section", { "data-list": state }, el("h2", {}, `${title}（${selected.length}）`), table));
    }
    document.getElementById("lists").replaceChildren(...sections);
    document.getElementById("now").textContent = new Date().toLocaleString("sv-SE", { timeZone: "Asia/Shanghai" });
    changed.clear();
  }

  async function refresh() {
    pending = null;
    try {
      const response = await fetch("/api/columns" + location.search, { cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      render(await response.json());
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
    changed.add(JSON.parse(event.data).id);
    schedule(500);
  });
})();
