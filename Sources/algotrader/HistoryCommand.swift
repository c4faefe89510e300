import ArgumentParser
import Config
import Crypto
import Engine
import Foundation
import Storage
import TradingCore

/// `algotrader history import|list`: downloaded ticks and bars for backtests (docs/strategies.md,
/// "History"), kept by retention (docs/schema.md, "Migration 15").
struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "Import downloaded ticks or OHLCV bars (CSV) for backtests, and list imports.",
        subcommands: [Import.self, List.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a tick CSV (timestamp,price,qty) or a bar CSV (date,open,high,low,close,volume: Kite Connect's candles) into market_data; idempotent, all or nothing.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The CSV file.") var file: String
        @Option(help: "The symbol of rows without a symbol column.") var symbol: String?
        @Option(help: "The exchange of rows without an exchange column (default NSE).") var exchange: String?
        @Option(help: "A bar file's interval: 1min, 5min, 15min, 30min, 1hour, 1day (or Kite's minute, 5minute, 15minute, 30minute, 60minute, day).")
        var interval: String?
        @Option(help: "Progress bar: auto (on a terminal), always, never.") var progress: ProgressMode = .auto

        func run() throws {
            var barInterval: BarInterval?
            if let interval {
                guard let parsed = HistoryCSVReader.interval(interval) else {
                    throw Admin.fail("--interval '\(interval)' is not one of 1min, 5min, 15min, 30min, 1hour, 1day (or minute, 5minute, 15minute, 30minute, 60minute, day)")
                }
                barInterval = parsed
            }
            guard let data = FileManager.default.contents(atPath: file) else { throw Admin.fail("cannot read '\(file)'", status: ExitStatus.dataError) }
            let config = try Admin.config(options)
            let rows: [HistoryRow]
            let reader: HistoryCSVReader
            var bar: ProgressBar
            do {
                (reader, rows, bar) = try Self.parse(data, symbol: symbol, exchange: exchange, interval: barInterval,
                                                     calendar: SessionCalendar(sessionOpenMinutes: config.sessionOpenMinutes), progress: progress)
            } catch let error as HistoryCSVError {
                throw Admin.fail("\(file): \(error); nothing was imported", status: ExitStatus.dataError)
            }
            let parsed = rows.count
            let sha256 = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            let db = try Admin.connect(config)
            defer { db.close() }
            let store = HistoryImportStore(db)
            let name = URL(fileURLWithPath: file).lastPathComponent
            let outcome: HistoryImportStore.Outcome
            let report = { (sent: Int) in bar.update(parsed + sent) }
            switch reader.layout {
            case .ticks:
                outcome = try store.importTicks(rows.compactMap { if case .tick(let t) = $0 { t } else { nil } }, file: name, sha256: sha256,
                                                actor: Admin.actor, now: SystemClock().now(), progress: report)
            case .bars:
                outcome = try store.importBars(rows.compactMap { if case .bar(let b) = $0 { b } else { nil } }, interval: barInterval ?? .oneMinute,
                                               file: name, sha256: sha256, actor: Admin.actor, progress: report)
            }
            bar.finish(2 * parsed)
            if let importID = outcome.importID {
                try AuditLog.record(db, actor: Admin.actor, action: .historyImported, target: "market_data",
                                    details: JSONObjectWriter.object {
                                        $0.add("import_id", importID)
                                        $0.add("file", name)
                                        $0.add("sha256", sha256)
                                        $0.add("rows", outcome.read)
                                        $0.add("imported", outcome.imported)
                                        $0.add("adopted", outcome.adopted)
                                    })
            }
            let what = reader.layout == .ticks ? "ticks" : "\(barInterval?.rawValue ?? "") bars"
            let present = outcome.read - outcome.imported
            print("imported \(outcome.imported) of \(outcome.read) \(what) from \(file)"
                  + (present > 0 ? "; \(present) were already stored" : "")
                  + (outcome.adopted > 0 ? " (\(outcome.adopted) stored rows now kept as imported history)" : "")
                  + (outcome.importID.map { "; import \($0)" } ?? "; nothing was new"))
        }

        /// Reads every row first: a bad one fails the whole file before anything is sent.
        static func parse(_ data: Data, symbol: String?, exchange: String?, interval: BarInterval?, calendar: SessionCalendar,
                          progress: ProgressMode) throws -> (HistoryCSVReader, [HistoryRow], ProgressBar) {
            let text = String(decoding: data, as: UTF8.self)
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.last?.isEmpty == true { lines.removeLast() }
            guard var header = lines.first else { throw HistoryCSVError(line: 1, "the file is empty") }
            if header.hasPrefix("\u{FEFF}") { header = header.dropFirst() }  // a spreadsheet's byte-order mark
            let reader = try HistoryCSVReader(header: header, symbol: symbol, exchange: exchange, interval: interval, calendar: calendar)
            var bar = ProgressBar(total: 2 * max(lines.count - 1, 1), unit: "rows", mode: progress)
            var rows: [HistoryRow] = []
            rows.reserveCapacity(lines.count)
            // A bar file may repeat a bar only with the same values.
            var seen: [String: (line: Int, bar: Bar)] = [:]
            let latest = SystemClock().now().adding(nanoseconds: Timestamp.nanosecondsPerDay)
            for index in 1..<lines.count {
                if lines[index].isEmpty || lines[index] == "\r" { continue }
                let row = try reader.parse(lines[index], line: index + 1)
                switch row {
                case .tick(let t):
                    guard t.timestamp <= latest else { throw HistoryCSVError(line: index + 1, "\(t.timestamp) is more than a day ahead of now") }
                case .bar(let b):
                    guard b.start <= latest else { throw HistoryCSVError(line: index + 1, "\(b.start) is more than a day ahead of now") }
                    let key = "\(b.symbol)|\(b.exchange)|\(b.start.nanosecondsSinceEpoch)"
                    if let earlier = seen[key] {
                        guard earlier.bar == b else {
                            throw HistoryCSVError(line: index + 1, "a second \(b.interval.rawValue) bar of \(b.exchange):\(b.symbol) at \(b.start) with other values than line \(earlier.line)")
                        }
                        continue
                    }
                    seen[key] = (index + 1, b)
                }
                rows.append(row)
                if index % 5_000 == 0 { bar.update(index) }
            }
            guard !rows.isEmpty else { throw HistoryCSVError(line: 2, "the file has a header and no rows") }
            return (reader, rows, bar)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the imports of history, newest first.")
        @OptionGroup var options: ConfigOptions

        func run() throws {
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            defer { db.close() }
            Admin.table(["import_id", "file", "kind", "interval", "instruments", "from", "to", "rows", "imported", "at"],
                        try HistoryImportStore(db).list().map { [$0.importID, $0.file, $0.kind, $0.interval, $0.instruments, $0.first, $0.last,
                                                                 String($0.read), String($0.imported), $0.at] })
        }
    }
}
