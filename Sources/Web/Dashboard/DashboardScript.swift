/// The dashboard's script: plain JavaScript, no build step and no library. It calls the JSON
/// API with the session's token, builds every table with DOM calls (text, never HTML, from the
/// data), and refreshes the page in view when the stream brings a fill or an order event.
/// Controls are drawn only for roles that may use them: an investor gets none.
enum DashboardScript {
    static let js = #"""
    "use strict";
    const state = { token: sessionStorage.getItem("algotrader.token"), me: null, ws: null, view: "overview", refresh: null };
    const $ = (selector) => document.querySelector(selector);

    function el(tag, attributes, ...children) {
      const node = document.createElement(tag);
      for (const [name, value] of Object.entries(attributes || {})) {
        if (name === "class") node.className = value;
        else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
        else node.setAttribute(name, value);
      }
      for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child == null ? "" : String(child)));
      return node;
    }

    function say(text) { $("#message").textContent = text || ""; }
    const canAct = () => state.me && state.me.role !== "investor";
    const isAdmin = () => state.me && state.me.role === "admin";
    const money = (v) => v == null ? "" : Number(v).toFixed(2);
    const signed = (v) => el("td", { class: "num " + (Number(v) > 0 ? "gain" : Number(v) < 0 ? "loss" : "") }, money(v));
    const ist = (t) => t ? new Date(t).toLocaleString("en-IN", { timeZone: "Asia/Kolkata", hour12: false }) : "";
    const todayIST = () => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Kolkata" }).format(new Date());

    async function api(method, path, body) {
      const headers = { "Authorization": "Bearer " + state.token };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const response = await fetch("/api/v1" + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      if (response.status === 401) { signedOut("Your session ended: log in again."); throw new Error("session ended"); }
      const text = await response.text();
      const json = (response.headers.get("content-type") || "").includes("json");
      const data = text && json ? JSON.parse(text) : text;
      if (!response.ok) throw new Error((data && data.error && data.error.message) || response.statusText);
      return data;
    }

    async function act(method, path, body, done) {
      try { const answer = await api(method, path, body); say(""); if (done) done(answer); await show(state.view); }
      catch (error) { say(error.message); }
    }

    function button(label, action, onclick, danger) {
      return el("button", { type: "button", class: danger ? "danger" : "secondary", "data-action": action, onclick }, label);
    }

    function fill(tbody, rows) { tbody.replaceChildren(...rows); }

    async function renderOverview() {
      const days = await api("GET", "/pnl/daily?from=" + todayIST());
      const totals = { trades: 0, gross: 0, charges: 0, net: 0 };
      const rows = days.map((d) => {
        totals.trades += d.trades || 0; totals.gross += d.gross_pnl || 0; totals.charges += d.charges || 0; totals.net += d.net_pnl || 0;
        return el("tr", {}, el("td", {}, d.name), el("td", { class: "num" }, d.trades), signed(d.gross_pnl), el("td", { class: "num" }, money(d.charges)), signed(d.net_pnl));
      });
      rows.push(el("tr", { class: "total" }, el("td", {}, "All"), el("td", { class: "num" }, totals.trades), signed(totals.gross),
                   el("td", { class: "num" }, money(totals.charges)), signed(totals.net)));
      fill($("#pnl-table tbody"), rows);
      $("#equity").innerHTML = await api("GET", "/equity.svg");  // made by the server from numbers only
    }

    async function renderStrategies() {
      const strategies = await api("GET", "/strategies?limit=1000");
      fill($("#strategies-table tbody"), strategies.map((s) => el("tr", { "data-strategy": s.strategy_id },
        el("td", {}, s.name), el("td", {}, s.strategy_type),
        el("td", { class: "state" }, (s.is_active ? "on" : "off") + (s.is_running ? ", running" : ", stopped")),
        el("td", { class: "params" }, JSON.stringify(s.parameters)),
        el("td", {}, canAct() ? (s.is_active
          ? button("Stop", "stop", () => act("POST", "/strategies/" + s.strategy_id + "/stop"))
          : button("Start", "start", () => act("POST", "/strategies/" + s.strategy_id + "/start"))) : ""))));
    }

    async function renderPositions() {
      const positions = await api("GET", "/positions?limit=1000");
      fill($("#positions-table tbody"), positions.map((p) => el("tr", { "data-position": p.position_id },
        el("td", {}, p.symbol + " " + p.exchange), el("td", { class: "num" }, p.quantity), el("td", { class: "num" }, money(p.average_price)),
        el("td", { class: "num" }, money(p.current_price)), signed(p.unrealized_pnl), signed(p.realized_pnl),
        el("td", {}, canAct() && p.strategy_id ? button("Flatten", "flatten", () => act("POST", "/flatten", { scope: "strategy", id: p.strategy_id }), true) : ""))));
    }

    async function renderOrders() {
      const query = new URLSearchParams({ limit: "200" });
      if ($("#filter-status").value) query.set("status", $("#filter-status").value);
      if ($("#filter-from").value) query.set("from", $("#filter-from").value + "T00:00:00+05:30");
      if ($("#filter-to").value) query.set("to", $("#filter-to").value + "T00:00:00+05:30");
      const orders = await api("GET", "/orders?" + query);
      const working = ["PENDING", "OPEN", "PARTIALLY_FILLED"];
      fill($("#orders-table tbody"), orders.map((o) => el("tr", { "data-order": o.order_id || "", "data-status": o.status },
        el("td", {}, ist(o.ts)), el("td", {}, o.symbol), el("td", {}, o.transaction_type), el("td", {}, o.order_type),
        el("td", { class: "num" }, o.quantity), el("td", { class: "num" }, o.filled_quantity), el("td", { class: "num" }, money(o.price)),
        el("td", { class: "num" }, money(o.average_price)), el("td", { class: "status" }, o.status), el("td", { class: "reason" }, o.reason || ""),
        el("td", {}, canAct() && o.order_id && working.includes(o.status)
          ? button("Cancel", "cancel", () => act("POST", "/orders/" + encodeURIComponent(o.order_id) + "/cancel"), true) : ""))));
    }

    async function renderHalts() {
      state.me = await api("GET", "/me");
      fill($("#halts-table tbody"), state.me.halts.map((h) => {
        const scope = h.strategy_id ? { scope: "strategy", id: h.strategy_id } : h.user_id ? { scope: "user", id: h.user_id } : { scope: "engine" };
        return el("tr", {}, el("td", {}, scope.scope + (scope.id ? " " + scope.id : "")), el("td", { class: "reason" }, h.reason), el("td", {}, h.source),
          el("td", {}, isAdmin() ? button("Resume", "resume", () => act("POST", "/resume", scope)) : ""));
      }));
    }

    const views = { overview: renderOverview, strategies: renderStrategies, positions: renderPositions, orders: renderOrders, halts: renderHalts };

    async function show(view) {
      if (!views[view]) view = "overview";
      state.view = view;
      for (const section of document.querySelectorAll("section.view")) section.hidden = section.id !== view;
      for (const link of document.querySelectorAll("nav a")) link.classList.toggle("current", link.id === "nav-" + view);
      try { await views[view](); } catch (error) { say(error.message); }
    }

    function note(event) {
      const text = event.event === "fill"
        ? `${ist(event.ts)} fill ${event.transaction_type} ${event.fill_quantity} ${event.symbol} at ${event.fill_price}`
        : `${ist(event.ts)} order ${event.symbol} ${event.status}${event.reason ? ": " + event.reason : ""}`;
      const list = $("#events");
      list.prepend(el("li", { class: "event " + event.event }, text));
      while (list.children.length > 50) list.lastChild.remove();
    }

    function stream() {
      if (state.ws) state.ws.close();
      const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/stream");
      state.ws = ws;
      ws.onopen = () => ws.send(JSON.stringify({ token: state.token }));
      ws.onmessage = (message) => {
        const event = JSON.parse(message.data);
        if (event.event === "hello") { $("#live").textContent = "live"; $("#live").className = "live on"; return; }
        if (event.event === "error") { say(event.error.message); return; }
        note(event);
        // Many events arrive together in a busy second: at most one refresh each 250 ms while
        // they keep coming (a refresh only after the last would wait out a whole busy session).
        if (!state.refresh) state.refresh = setTimeout(() => { state.refresh = null; show(state.view); }, 250);
      };
      ws.onclose = () => {
        $("#live").textContent = "offline"; $("#live").className = "live off";
        if (state.ws === ws && state.token) setTimeout(() => { if (state.ws === ws && state.token) stream(); }, 3000);
      };
    }

    async function signedIn() {
      state.me = await api("GET", "/me");
      $("#who").textContent = state.me.username + " (" + state.me.role + ")";
      document.body.classList.toggle("investor", !canAct());
      for (const node of document.querySelectorAll(".act-only")) node.hidden = !canAct();
      $("#login-form").hidden = true; $("#app").hidden = false; $("#logout").hidden = false;
      stream();
      await show((location.hash || "#overview").slice(1));
    }

    function signedOut(message) {
      state.token = null; state.me = null;
      sessionStorage.removeItem("algotrader.token");
      if (state.ws) { const ws = state.ws; state.ws = null; ws.close(); }
      $("#app").hidden = true; $("#login-form").hidden = false; $("#logout").hidden = true; $("#who").textContent = "";
      $("#login-form").querySelector("h2").textContent = message || "Log in";
    }

    document.addEventListener("DOMContentLoaded", () => {
      $("#login-form").addEventListener("submit", async (e) => {
        e.preventDefault();
        const response = await fetch("/api/v1/session", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ username: $("#username").value, password: $("#password").value }) });
        const answer = await response.json();
        if (response.status !== 201) { $("#login-form").querySelector("h2").textContent = answer.error.message; return; }
        state.token = answer.token;
        sessionStorage.setItem("algotrader.token", state.token);
        $("#password").value = "";
        await signedIn();
      });
      $("#logout").addEventListener("click", async () => { try { await api("DELETE", "/session"); } catch (e) {} signedOut(); });
      $("#order-filters").addEventListener("submit", (e) => { e.preventDefault(); show("orders"); });
      $("#flatten-all").addEventListener("click", () => act("POST", "/flatten", { scope: "user" }));
      $("#halt-form").addEventListener("submit", (e) => {
        e.preventDefault();
        act("POST", "/halt", { scope: "user", reason: $("#halt-reason").value || "halted from the dashboard" });
      });
      window.addEventListener("hashchange", () => { if (state.token) show(location.hash.slice(1)); });
      if (state.token) signedIn().catch(() => signedOut());
    });
    """#
}
