// The Strop node console: one page, client-side views, no framework. Talks to /ui/api/.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { user: null, role: null, csrf: "", range: "hour", sig: null, timer: null };
  const views = ["login", "overview", "signatures", "reporters", "check", "network"];

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k);
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function say(text, error) {
    const s = $("status");
    s.textContent = text;
    s.className = error ? "status error" : "status";
  }
  async function api(path, options) {
    const o = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    if (o.method === "POST") o.headers["X-CSRF-Token"] = state.csrf;
    const r = await fetch("/ui/api/" + path, o);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401 && path !== "login") { showLogin("Your session ended; log in again."); }
    if (!r.ok) throw new Error((body && body.error) || ("HTTP " + r.status));
    return body;
  }
  function postJson(path, obj) {
    return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(obj) });
  }

  // ---- number formats
  const fmt = {
    int: (v) => Number(v).toLocaleString("en-US"),
    rate: (v) => Number(v).toFixed(2) + "/s",
    pct: (v) => (100 * Number(v)).toFixed(1) + " %",
    ms: (v) => (1000 * Number(v)).toFixed(3) + " ms",
    bytes: (v) => {
      let n = Number(v); const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0;
      while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
      return (i ? n.toFixed(1) : String(n)) + " " + u[i];
    },
    time: (t) => t || "never",
  };

  // ---- views
  function show(view) {
    for (const v of views) $("view-" + v).hidden = v !== view;
    for (const a of document.querySelectorAll("nav a")) {
      if (a.dataset.view === view) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    if (state.timer) { clearInterval(state.timer); state.timer = null; }
    const h = $("h-" + view);
    if (h) { h.setAttribute("tabindex", "-1"); }
    document.title = h.textContent + " - Strop node console";
    if (view === "overview") { loadOverview(); state.timer = setInterval(loadOverview, 10000); }
    if (view === "signatures") loadTop();
    if (view === "reporters") loadReporters();
    if (view === "network") loadNetwork();
  }
  function route() {
    if (!state.user) return showLogin();
    const v = (location.hash || "#overview").slice(1);
    show(views.includes(v) && v !== "login" ? v : "overview");
  }
  function showLogin(message) {
    state.user = null;
    $("nav").hidden = true; $("who").hidden = true;
    for (const v of views) $("view-" + v).hidden = v !== "login";
    if (message) say(message, true);
    $("login-name").focus();
  }
  function loggedIn(me) {
    state.user = me.user; state.role = me.role; state.csrf = me.csrf;
    $("nav").hidden = false; $("who").hidden = false;
    $("who-name").textContent = me.user + " (" + me.role + ")";
    document.body.dataset.role = me.role;
    for (const b of document.querySelectorAll("button.act")) b.disabled = me.role !== "admin";
    route();
  }

  // ---- overview
  const FIGURES = [
    ["messages_checked", "Messages checked", fmt.int],
    ["hit_rate", "Hit rate (spam / checked)", fmt.pct],
    ["signatures_reported", "Signatures reported", fmt.int],
    ["p99_check_seconds", "p99 check latency (at most)", fmt.ms],
    ["stored_signatures", "Stored signatures", fmt.int],
    ["store_used_bytes", "LMDB bytes in use", fmt.bytes],
    ["commit_seconds", "Last writer commit", fmt.ms],
    ["reporters", "Reporters", fmt.int],
  ];
  const CHARTS = [
    ["checks_per_s", "Checks/s", fmt.rate],
    ["reports_per_s", "Reports/s (signatures)", fmt.rate],
    ["hit_rate", "Hit rate", fmt.pct],
    ["p99_check_seconds", "p99 check latency", fmt.ms],
    ["signatures", "Stored signatures", fmt.int],
    ["used_bytes", "LMDB bytes in use", fmt.bytes],
    ["commit_seconds", "Writer commit latency", fmt.ms],
  ];
  function chart(title, rows, col, f) {
    const W = 560, H = 120, L = 4, T = 14, B = 14;
    const box = el("figure", { class: "chart" });
    box.append(el("h3", { text: title }));
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
    s.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }));
    const pts = rows.map((r) => [r[0], r[col]]);
    const last = pts.length ? pts[pts.length - 1][1] : 0;
    const max = Math.max(0, ...pts.map((p) => p[1]));
    if (pts.length > 1) {
      const t0 = pts[0][0], t1 = pts[pts.length - 1][0] || t0 + 1;
      const x = (t) => L + ((W - L) * (t - t0)) / Math.max(1, t1 - t0);
      const y = (v) => H - B - ((H - B - T) * v) / (max || 1);
      const d = pts.map((p, i) => (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1)).join(" ");
      s.append(svg("path", { class: "line", d: d }));
    }
    const top = svg("text", { x: L, y: 10 }); top.textContent = "max " + f(max) + ", now " + f(last);
    s.append(top);
    const bottom = svg("text", { x: L, y: H - 2 }); bottom.textContent = pts.length + " samples";
    s.append(bottom);
    box.append(s);
    return box;
  }
  async function loadOverview() {
    try {
      const o = await api("overview");
      const dl = $("figures"); dl.replaceChildren();
      for (const [k, label, f] of FIGURES) {
        dl.append(el("div", {}, el("dt", { text: label }), el("dd", { id: "fig-" + k, "data-value": String(o.now[k]), text: f(o.now[k]) })));
      }
      const rows = o[state.range];
      const charts = $("charts"); charts.replaceChildren();
      for (const [name, title, f] of CHARTS) {
        const col = o.series_names.indexOf(name) + 1;
        charts.append(chart(title, rows, col, f));
      }
      say("Updated " + new Date().toLocaleTimeString("en-GB"));
    } catch (e) { say("Overview: " + e.message, true); }
  }

  // ---- signatures
  function sigTable(v) {
    const rows = [
      ["Id", v.id], ["Engine", v.engine], ["Stored", v.stored ? "yes" : "no"],
      ["Listed (a check matching it says spam)", v.listed ? "yes" : "no"],
      ["Engine decides verdicts", v.decides ? "yes" : "no"],
      ["Allowed by the operator", v.allowed ? "yes (since " + fmt.time(v.allowed_since) + ")" : "no"],
      ["Confidence", v.confidence], ["Reports", v.reports], ["Revokes", v.revokes],
      ["First seen", fmt.time(v.first_seen)], ["Last seen", fmt.time(v.last_seen)],
      ["Reporters", v.reporters.map((r) => r.name + " (trust " + r.trust + ")").join(", ") || "none"],
      ["Revokers", v.revokers.map((r) => r.name + " (trust " + r.trust + ")").join(", ") || "none"],
    ];
    const t = el("table", { class: "grid", id: "sig-table" });
    for (const [k, val] of rows) t.append(el("tr", {}, el("th", { scope: "row", text: k }), el("td", { text: String(val) })));
    return t;
  }
  async function lookUp(id) {
    try {
      const v = await api("sig?id=" + encodeURIComponent(id));
      state.sig = v.id;
      $("sig-result").replaceChildren(sigTable(v));
      $("sig-actions").hidden = false;
      say("Signature " + v.id + (v.stored ? " found." : " is not stored."));
    } catch (e) { $("sig-result").replaceChildren(); $("sig-actions").hidden = true; say("Look-up: " + e.message, true); }
  }
  async function sigAction(verb) {
    if (!state.sig) return;
    if (verb === "delete" && !window.confirm("Delete " + state.sig + " and all its votes?")) return;
    try {
      const r = await postJson("sig/" + verb, { id: state.sig });
      $("sig-result").replaceChildren(sigTable(r.signature));
      say(verb + " " + r.id + ": " + (r.changed === false ? "nothing changed" : "done"));
    } catch (e) { say(verb + ": " + e.message, true); }
  }
  async function loadTop() {
    try {
      const t = await api("top");
      $("top-note").textContent = t.matches_counted + " listing matches counted, " + t.capacity + " counters.";
      const body = $("top-table").tBodies[0]; body.replaceChildren();
      for (const s of t.signatures) {
        const link = el("a", { href: "#signatures", text: s.id });
        link.addEventListener("click", (ev) => { ev.preventDefault(); $("sig-id").value = s.id; lookUp(s.id); });
        body.append(el("tr", {}, el("td", { class: "id" }, link), el("td", { text: fmt.int(s.matched) }),
          el("td", { text: String(s.confidence) }), el("td", { text: String(s.reporters) }), el("td", { text: String(s.revokers) }),
          el("td", { text: fmt.time(s.first_seen) }), el("td", { text: fmt.time(s.last_seen) })));
      }
      if (!t.signatures.length) body.append(el("tr", {}, el("td", { colspan: "7", text: "No listing match since the node started." })));
    } catch (e) { say("Top signatures: " + e.message, true); }
  }

  // ---- reporters
  async function loadReporters() {
    try {
      const r = await api("reporters");
      const body = $("rep-table").tBodies[0]; body.replaceChildren();
      for (const p of r.reporters) {
        const flags = [p.admin && "admin", p.disabled && "disabled", p.pinned && "pinned",
          p.open_registration ? "open registration" : "vouched", p.peer && "peer"].filter(Boolean).join(", ");
        const votes = p.corroborated + p.contradicted;
        const agree = votes ? (100 * p.corroborated / votes).toFixed(0) + " % of " + votes : "-";
        const id = "trust-" + p.name;
        const input = el("input", { id: id, class: "trust-input", type: "number", min: "0", max: "1", step: "0.05", value: String(p.trust) });
        const set = el("button", { type: "button", class: "act set-trust", text: "Set trust" });
        const tog = el("button", { type: "button", class: "act toggle", text: p.disabled ? "Enable" : "Disable" });
        set.addEventListener("click", () => reporterAction("reporter/trust", { name: p.name, trust: Number(input.value) }));
        tog.addEventListener("click", () => reporterAction("reporter/" + (p.disabled ? "enable" : "disable"), { name: p.name }));
        set.disabled = tog.disabled = state.role !== "admin";
        const actions = el("td", {}, el("label", { for: id, text: "Trust of " + p.name + " ", class: "note" }), input, set, tog);
        body.append(el("tr", { "data-name": p.name }, el("td", { text: p.name }), el("td", { text: Number(p.trust).toFixed(3) }),
          el("td", { text: flags }), el("td", { text: fmt.int(p.reports) }), el("td", { text: fmt.int(p.revokes) }),
          el("td", { text: agree }), el("td", { text: fmt.time(p.last_active) }), actions));
      }
      $("rep-note").textContent = "Trust changes go through the node's admin operations (the fleet's log in fleet mode).";
      // New registrations: open ones not vouched for yet, newest first (RFC 3339 sorts as text).
      const regs = r.reporters.filter((p) => p.open_registration && !p.peer)
        .sort((a, b) => String(b.created || "").localeCompare(String(a.created || "")));
      const rb = $("reg-table").tBodies[0]; rb.replaceChildren();
      for (const p of regs) {
        rb.append(el("tr", { "data-name": p.name }, el("td", { text: p.name }), el("td", { text: fmt.time(p.created) }),
          el("td", { text: Number(p.trust).toFixed(3) }), el("td", { text: fmt.int(p.reports) }),
          el("td", { text: fmt.int(p.revokes) }), el("td", { text: fmt.time(p.last_active) })));
      }
      if (!regs.length) rb.append(el("tr", {}, el("td", { colspan: "6", text: "No open registration awaiting an operator." })));
      say(r.reporters.length + " reporters, " + regs.length + " new registrations.");
    } catch (e) { say("Reporters: " + e.message, true); }
  }
  async function reporterAction(path, body) {
    try { await postJson(path, body); await loadReporters(); say(path + " " + body.name + ": done"); }
    catch (e) { say(path + ": " + e.message, true); }
  }

  // ---- check
  function explain(v, threshold) {
    const out = [];
    if (!v.matches.length) out.push("No stored signature matched this message, so the node knows nothing against it.");
    for (const m of v.matches) {
      const sim = m.engine === "fuzzy/1" ? " with similarity " + (100 * m.similarity).toFixed(0) + " %" : "";
      out.push("The " + m.engine + " signature matched a stored one" + sim + ": " + m.reports + " report(s), " + m.revokes +
        " revoke(s), confidence " + m.confidence + " of 100.");
    }
    out.push("Message confidence " + v.confidence + " against the node's threshold " + threshold + ": " +
      (v.spam ? "at or above it, with a match that may decide, so the verdict is spam." : "the verdict is not spam."));
    return out;
  }
  async function checkMessage(ev) {
    ev.preventDefault();
    const file = $("check-file").files[0];
    const text = file ? await file.text() : $("check-text").value;
    if (!text) { say("Give a message to check.", true); return; }
    try {
      const r = await api("check", { method: "POST", headers: { "Content-Type": "message/rfc822" }, body: text });
      const v = r.verdict;
      const table = el("table", { class: "grid", id: "check-matches" },
        el("thead", {}, el("tr", {}, ...["Engine", "Stored signature", "Similarity", "Reports", "Revokes", "Confidence"].map((h) => el("th", { scope: "col", text: h })))));
      const tb = el("tbody", {});
      for (const m of v.matches) {
        tb.append(el("tr", {}, el("td", { class: "engine", text: m.engine }), el("td", { class: "id", text: m.id }), el("td", { text: String(m.similarity) }),
          el("td", { text: String(m.reports) }), el("td", { text: String(m.revokes) }), el("td", { text: String(m.confidence) })));
      }
      table.append(tb);
      const ul = el("ul", {}); for (const line of explain(v, r.threshold)) ul.append(el("li", { text: line }));
      $("check-result").replaceChildren(
        el("p", { id: "check-verdict", class: "verdict " + (v.spam ? "spam" : "ham"), text: v.spam ? "spam" : "not spam" }),
        el("p", { text: "Confidence " + v.confidence + "; " + r.signatures_computed + " signatures computed from the message." }),
        table, el("h3", { text: "Why" }), ul,
        el("h3", { text: "strop check --json" }), el("pre", { class: "raw", id: "check-json", text: r.strop_check_json }));
      say("Checked: " + (v.spam ? "spam" : "not spam") + ".");
    } catch (e) { say("Check: " + e.message, true); }
  }

  // ---- network
  async function loadNetwork() {
    try {
      const n = await api("network");
      const out = [];
      if (n.mode === "standalone") out.push(el("p", { id: "net-mode", text: "Standalone: this node is neither a fleet member nor federated." }));
      if (n.fleet) {
        const f = n.fleet;
        out.push(el("h3", { text: "Fleet" }), el("p", { id: "net-mode", text: "Fleet member " + f.node_id + ": log " + (f.connected ? "connected" : "NOT connected") +
          ", applied sequence " + f.applied_sequence + " of " + f.head_sequence + " (lag " + f.lag + "), " + f.publish_failures + " publish failures, " + f.gaps + " gaps." }));
        // Every member, from the beats each one announces on the cluster every second.
        const mt = el("table", { id: "fleet-members", class: "grid" }, el("thead", {}, el("tr", {}, ...["Member", "Applied sequence", "Lag (events)", "Last heard"].map((h) => el("th", { scope: "col", text: h })))));
        const mb = el("tbody", {});
        for (const m of f.members || []) {
          mb.append(el("tr", { "data-member": m.id }, el("td", { text: m.id + (m.self ? " (this node)" : "") }), el("td", { text: String(m.applied_sequence) }),
            el("td", { text: String(m.lag) }), el("td", { text: Number(m.age_seconds).toFixed(1) + " s ago" })));
        }
        if (!(f.members || []).length) mb.append(el("tr", {}, el("td", { colspan: "4", text: "No member heard yet (beats arrive every second)." })));
        mt.append(mb); out.push(mt);
      }
      if (n.federation) {
        out.push(el("h3", { text: "Federation: site " + n.federation.site }));
        const t = el("table", { class: "grid" }, el("thead", {}, el("tr", {}, ...["Peer", "URL", "Trust", "Lag (entries)", "Applied", "Last success", "Errors", "Last error"].map((h) => el("th", { scope: "col", text: h })))));
        const tb = el("tbody", {});
        for (const p of n.federation.peers) {
          tb.append(el("tr", {}, el("td", { text: p.name + (p.disabled ? " (disabled)" : "") }), el("td", { text: p.url }), el("td", { text: String(p.trust) }),
            el("td", { text: String(p.lag) }), el("td", { text: String(p.applied) }), el("td", { text: fmt.time(p.last_success) }),
            el("td", { text: String(p.errors) }), el("td", { text: p.last_error || "-" })));
        }
        t.append(tb); out.push(t);
      }
      $("net-result").replaceChildren(...out);
      say("Network status loaded.");
    } catch (e) { say("Network: " + e.message, true); }
  }

  // ---- wiring
  document.addEventListener("DOMContentLoaded", async () => {
    $("login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const me = await postJson("login", { name: $("login-name").value, password: $("login-password").value });
        $("login-password").value = "";
        say("Logged in as " + me.user + ".");
        loggedIn(me);
      } catch (e) { say("Login failed: " + e.message, true); }
    });
    $("logout").addEventListener("click", async () => {
      try { await api("logout", { method: "POST" }); } catch (e) { /* logged out anyway */ }
      showLogin(); say("Logged out.");
    });
    $("sig-form").addEventListener("submit", (ev) => { ev.preventDefault(); lookUp($("sig-id").value.trim()); });
    for (const verb of ["allow", "unallow", "delete"]) $("sig-" + verb).addEventListener("click", () => sigAction(verb));
    $("check-form").addEventListener("submit", checkMessage);
    $("range-hour").addEventListener("click", () => setRange("hour"));
    $("range-day").addEventListener("click", () => setRange("day"));
    window.addEventListener("hashchange", route);
    try {
      const me = await api("me");
      if (me.logged_in) loggedIn(me); else showLogin();
    } catch (e) { showLogin("Cannot reach the node: " + e.message); }
  });
  function setRange(r) {
    state.range = r;
    $("range-hour").setAttribute("aria-pressed", String(r === "hour"));
    $("range-day").setAttribute("aria-pressed", String(r === "day"));
    loadOverview();
  }
})();
