import Foundation
import TradingCore

/// The equity curve as an SVG made on the server (no chart library in the browser): the net
/// P&L after each execution as a step line, the zero line, and the extremes and the first and
/// last times (IST) as labels. Every text in it is a number or a time this code formats.
enum EquityChart {
    static let width = 640.0, height = 240.0, margin = 36.0

    /// `points`: (RFC 3339 time, equity) in time order.
    static func svg(_ points: [(time: String, equity: Double)]) -> String {
        var out = #"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 240" role="img" aria-label="equity curve" class="equity-chart">"#
        guard let first = points.first, let last = points.last else {
            out += #"<text x="320" y="120" text-anchor="middle" class="empty">no executions yet in this period</text></svg>"#
            return out
        }
        let values = [0.0] + points.map(\.equity)
        let low = values.min() ?? 0, high = values.max() ?? 0
        let span = high - low == 0 ? 1 : high - low
        func y(_ v: Double) -> Double { margin / 2 + (height - margin) * (1 - (v - low) / span) }
        let step = (width - 2 * margin) / Double(max(points.count, 1))
        var path = "M \(f(margin)) \(f(y(0)))"
        for (i, p) in points.enumerated() {
            let x = margin + step * Double(i + 1)
            path += " H \(f(x)) V \(f(y(p.equity)))"
        }
        let colour = last.equity >= 0 ? "gain" : "loss"
        out += #"<line x1="\#(f(margin))" x2="\#(f(width - margin))" y1="\#(f(y(0)))" y2="\#(f(y(0)))" class="zero"/>"#
        out += #"<path d="\#(path)" class="curve \#(colour)" fill="none"/>"#
        out += #"<text x="4" y="\#(f(y(high) + 4))" class="label">\#(money(high))</text>"#
        out += #"<text x="4" y="\#(f(y(low) + 4))" class="label">\#(money(low))</text>"#
        out += #"<text x="\#(f(margin))" y="\#(f(height - 4))" class="label">\#(ist(first.time))</text>"#
        out += #"<text x="\#(f(width - margin))" y="\#(f(height - 4))" text-anchor="end" class="label">\#(ist(last.time)) · \#(money(last.equity))</text>"#
        return out + "</svg>"
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }
    private static func money(_ v: Double) -> String { String(format: "%.2f", v) }

    /// `HH:MM` IST of an RFC 3339 time (or "" when it does not parse).
    static func ist(_ time: String) -> String {
        guard let stamp = Timestamp.parseRFC3339(time) else { return "" }
        let seconds = stamp.nanosecondsSinceEpoch / Timestamp.nanosecondsPerSecond + 19_800
        let minutes = ((seconds % 86_400) + 86_400) % 86_400 / 60
        return String(format: "%02d:%02d IST", Int(minutes / 60), Int(minutes % 60))
    }
}
