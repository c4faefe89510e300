/// The dashboard's page (docs/web.md): plain HTML, its script and style served beside it by the
/// same process; nothing loaded from elsewhere (the CSP allows only this origin).
enum DashboardPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>algotrader</title>
    <link rel="stylesheet" href="/app.css">
    <script src="/app.js" defer></script>
    </head>
    <body>
    <header>
      <h1>algotrader</h1>
      <span id="live" class="live off">offline</span>
      <span id="who"></span>
      <button id="logout" type="button" hidden>Log out</button>
    </header>
    <main>
      <form id="login-form" class="card" autocomplete="on">
        <h2>Log in</h2>
        <label>Username <input id="username" name="username" autocomplete="username" required></label>
        <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
        <button type="submit">Log in</button>
      </form>
      <div id="app" hidden>
        <nav>
          <a href="#overview" id="nav-overview">Overview</a>
          <a href="#strategies" id="nav-strategies">Strategies</a>
          <a href="#positions" id="nav-positions">Positions</a>
          <a href="#orders" id="nav-orders">Orders</a>
          <a href="#halts" id="nav-halts">Halts</a>
        </nav>
        <p id="message" role="status"></p>
        <section id="overview" class="view">
          <h2>Today</h2>
          <div class="scroll"><table id="pnl-table"><thead><tr><th>Strategy</th><th>Trades</th><th>Gross</th><th>Charges</th><th>Net</th></tr></thead><tbody></tbody></table></div>
          <h2>Equity (net, today)</h2>
          <div id="equity" class="chart"></div>
          <h2>Live events</h2>
          <ol id="events"></ol>
        </section>
        <section id="strategies" class="view" hidden>
          <h2>Strategies</h2>
          <div class="scroll"><table id="strategies-table"><thead><tr><th>Name</th><th>Type</th><th>State</th><th>Parameters</th><th></th></tr></thead><tbody></tbody></table></div>
        </section>
        <section id="positions" class="view" hidden>
          <h2>Open positions</h2>
          <p class="act-only"><button id="flatten-all" type="button" class="danger">Flatten all my positions</button></p>
          <div class="scroll"><table id="positions-table"><thead><tr><th>Symbol</th><th>Qty</th><th>Avg</th><th>Last</th><th>Unrealized</th><th>Realized</th><th></th></tr></thead><tbody></tbody></table></div>
        </section>
        <section id="orders" class="view" hidden>
          <h2>Orders</h2>
          <form id="order-filters" class="filters">
            <label>Status <select id="filter-status"><option value="">any</option><option>PENDING</option><option>OPEN</option><option>PARTIALLY_FILLED</option><option>FILLED</option><option>CANCELLED</option><option>REJECTED</option></select></label>
            <label>From <input id="filter-from" type="date"></label>
            <label>To <input id="filter-to" type="date"></label>
            <button type="submit">Filter</button>
          </form>
          <div class="scroll"><table id="orders-table"><thead><tr><th>Time (IST)</th><th>Symbol</th><th>Side</th><th>Type</th><th>Qty</th><th>Filled</th><th>Price</th><th>Avg</th><th>Status</th><th>Reason</th><th></th></tr></thead><tbody></tbody></table></div>
        </section>
        <section id="halts" class="view" hidden>
          <h2>Halts in force</h2>
          <div class="scroll"><table id="halts-table"><thead><tr><th>Scope</th><th>Reason</th><th>Source</th><th></th></tr></thead><tbody></tbody></table></div>
          <form id="halt-form" class="filters act-only">
            <label>Reason <input id="halt-reason" maxlength="500" placeholder="why"></label>
            <button type="submit" class="danger">Halt my trading</button>
          </form>
        </section>
      </div>
    </main>
    </body>
    </html>
    """#
}
