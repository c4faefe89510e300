import ArgumentParser
import Engine
import Foundation

/// When to draw a progress bar: on a terminal only (`auto`), always, or never.
enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never
}

/// A one-line progress bar on standard error for long admin jobs (imports, replays): done and
/// total, percent, rate and time left, redrawn at most ten times a second. Off unless standard
/// error is a terminal (or `--progress always`), so scripts and logs stay clean.
struct ProgressBar {
    let total: Int
    let unit: String
    let enabled: Bool
    private let started = monotonicNanoseconds()
    private var lastDrawn: UInt64 = 0

    init(total: Int, unit: String, mode: ProgressMode) {
        self.total = max(total, 1)
        self.unit = unit
        switch mode {
        case .auto: enabled = isatty(STDERR_FILENO) == 1
        case .always: enabled = true
        case .never: enabled = false
        }
    }

    mutating func update(_ done: Int, force: Bool = false) {
        guard enabled else { return }
        let now = monotonicNanoseconds()
        guard force || now - lastDrawn >= 100_000_000 else { return }
        lastDrawn = now
        FileHandle.standardError.write(Data(("\r" + Self.line(done: done, total: total, unit: unit,
                                                               elapsedNanoseconds: now - started)).utf8))
    }

    /// Draws the final state and ends the line.
    mutating func finish(_ done: Int) {
        guard enabled else { return }
        update(done, force: true)
        FileHandle.standardError.write(Data("\n".utf8))
    }

    /// `[##########----------]  50%  50,000/100,000 rows  41,230 rows/s  1s left`
    static func line(done: Int, total: Int, unit: String, elapsedNanoseconds: UInt64) -> String {
        let fraction = min(1, Double(done) / Double(max(total, 1)))
        let width = 30
        let filled = Int(fraction * Double(width))
        let seconds = Double(elapsedNanoseconds) / 1e9
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let left = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let percent = String(Int(fraction * 100)).leftPadded(3)
        return "[\(bar)] \(percent)%  \(grouped(done))/\(grouped(total)) \(unit)  \(grouped(Int(rate))) \(unit)/s  \(duration(left)) left "
    }

    static func grouped(_ n: Int) -> String {
        let digits = Array(String(n.magnitude))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.up))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(s % 60).leftPadded(2, "0"))s" }
        return "\(s / 3600)h\(String(s % 3600 / 60).leftPadded(2, "0"))m"
    }
}

extension String {
    func leftPadded(_ width: Int, _ pad: Character = " ") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
