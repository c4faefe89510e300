/// The dashboard's style sheet: readable on a phone's width (tables scroll sideways, the
/// navigation wraps) and on a desktop.
enum DashboardStyle {
    static let css = #"""
    :root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f6f7f9; --card: #fff; --gain: #137333; --loss: #b3261e; --accent: #1a56db; }
    * { box-sizing: border-box; }
    [hidden] { display: none !important; }  /* a display rule (.filters) must not show what is hidden */
    body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
    header { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; padding: .6rem 1rem; background: var(--card); border-bottom: 1px solid var(--line); }
    header h1 { font-size: 1.15rem; margin: 0 auto 0 0; }
    main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
    nav { display: flex; flex-wrap: wrap; gap: .4rem; margin-bottom: .75rem; }
    nav a { padding: .4rem .75rem; border: 1px solid var(--line); border-radius: 6px; color: var(--fg); text-decoration: none; background: var(--card); }
    nav a.current { border-color: var(--accent); color: var(--accent); font-weight: 600; }
    .card, section.view { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; }
    #login-form { max-width: 360px; margin: 2rem auto; display: grid; gap: .6rem; }
    label { display: grid; gap: .2rem; color: var(--muted); font-size: .9rem; }
    input, select, button { font: inherit; padding: .4rem .6rem; border: 1px solid var(--line); border-radius: 6px; background: #fff; color: var(--fg); }
    button { cursor: pointer; background: var(--accent); border-color: var(--accent); color: #fff; }
    button.secondary { background: #fff; color: var(--accent); }
    button.danger { background: var(--loss); border-color: var(--loss); }
    h2 { font-size: 1.05rem; margin: 1rem 0 .5rem; }
    h2:first-child { margin-top: 0; }
    .scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
    table { border-collapse: collapse; width: 100%; min-width: 480px; }
    th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
    td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
    td.reason { white-space: normal; min-width: 12rem; color: var(--muted); }
    td.params { white-space: normal; font-family: ui-monospace, monospace; font-size: .85rem; }
    .gain { color: var(--gain); } .loss { color: var(--loss); }
    tr.total td { font-weight: 600; }
    .filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin: .5rem 0; }
    .live { font-size: .8rem; padding: .15rem .5rem; border-radius: 999px; border: 1px solid var(--line); }
    .live.on { color: var(--gain); border-color: var(--gain); }
    .live.off { color: var(--muted); }
    #message { min-height: 1.2rem; color: var(--loss); margin: .25rem 0; }
    #events { max-height: 14rem; overflow-y: auto; padding-left: 1.4rem; font-size: .88rem; color: var(--muted); }
    .chart svg { width: 100%; height: auto; max-height: 260px; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
    .equity-chart .zero { stroke: var(--line); stroke-dasharray: 4 3; }
    .equity-chart .curve { stroke-width: 2; } .equity-chart .curve.gain { stroke: var(--gain); } .equity-chart .curve.loss { stroke: var(--loss); }
    .equity-chart .label, .equity-chart .empty { fill: var(--muted); font-size: 11px; }
    @media (max-width: 600px) {
      main { padding: .5rem; }
      section.view { padding: .6rem; }
      nav a { flex: 1 1 30%; text-align: center; }
      table { font-size: .88rem; }
    }
    """#
}
