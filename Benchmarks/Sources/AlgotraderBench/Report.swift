import Foundation

/// One line of the results table.
struct ResultRow {
    var number: String
    var measure: String
    var result: String
    var baseline: String
    var ratio: String
    var target: String
    var met: Bool?
}

/// The table printed to the terminal and written, with the machine's description, to
/// docs/performance.md.
struct Report {
    let smoke: Bool
    var rows: [ResultRow] = []
    var notes: [String] = []

    mutating func add(_ more: [ResultRow]) { rows += more }

    static func shell(_ command: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try? process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var machine: [(String, String)] {
        [
            ("date", Self.shell("date -u +%Y-%m-%dT%H:%M:%SZ")),
            ("commit", Self.shell("git rev-parse --short HEAD") + (Self.shell("git status --porcelain -- Sources").isEmpty ? "" : " (with uncommitted changes)")),
            ("cores", String(ProcessInfo.processInfo.activeProcessorCount)),
            ("cpu", Self.shell("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-")),
            ("memory", Self.shell("free -h | awk '/Mem:/ {print $2}'")),
            ("swift", Self.shell("swift --version 2>&1 | head -1")),
            ("postgresql", Self.shell("psql --version")),
            ("libzmq", Self.shell("pkg-config --modversion libzmq")),
        ]
    }

    func table() -> String {
        let header = ["#", "measure", "result", "baseline (same run)", "ratio", "target", "met"]
        let body = rows.map { [$0.number, $0.measure, $0.result, $0.baseline, $0.ratio, $0.target, $0.met.map { $0 ? "yes" : "NO" } ?? "-"] }
        let widths = header.indices.map { i in ([header] + body).map { $0[i].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: " | ")
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "-+-")] + body.map(line)).joined(separator: "\n")
    }

    func markdown() -> String {
        var out = "# Performance\n\n"
        out += smoke ? "**Smoke run** (small sizes; the numbers mean little).\n\n" : ""
        out += "Measured by `make bench` (Benchmarks/), which builds in release mode and measures each figure beside its\n"
        out += "baseline in the same run. Timings are never asserted in tests.\n\n"
        out += machine.map { "- \($0.0): \($0.1)" }.joined(separator: "\n") + "\n\n"
        out += "| # | measure | result | baseline (same run) | ratio | target | met |\n|---|---|---|---|---|---|---|\n"
        for row in rows {
            out += "| \(row.number) | \(row.measure) | \(row.result) | \(row.baseline) | \(row.ratio) | \(row.target) | \(row.met.map { $0 ? "yes" : "**no**" } ?? "-") |\n"
        }
        if !notes.isEmpty { out += "\n" + notes.map { "- " + $0 }.joined(separator: "\n") + "\n" }
        // The analysis (what bounds each row, what was tried) lives beside the harness and is
        // carried into every report.
        if let analysis = try? String(contentsOfFile: "Benchmarks/ANALYSIS.md", encoding: .utf8) {
            out += "\n" + analysis
        }
        return out
    }
}

/// `1234567.8` -> `1,234,568` (or with `decimals` fractional digits), locale-independent.
func formatted(_ value: Double, decimals: Int = 0) -> String {
    let text = String(format: "%.\(decimals)f", value)
    let parts = text.split(separator: ".", maxSplits: 1)
    var integer = String(parts[0])
    let negative = integer.hasPrefix("-")
    if negative { integer.removeFirst() }
    var grouped = ""
    for (i, ch) in integer.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { grouped.append(",") }
        grouped.append(ch)
    }
    return (negative ? "-" : "") + String(grouped.reversed()) + (parts.count > 1 ? "." + parts[1] : "")
}
