import ArgumentParser
import Config
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
            let lines = try FileLines(file)
            let config = try Admin.config(options)
            // The header first: a file of the wrong layout fails before the database is touched.
            var header: Substring?
            do {
                try lines.forEach { line, _, _ in header = line; return false }
            } catch let error as FileLines.NotUTF8 {
                throw Admin.fail("\(file): line \(error.line): not valid UTF-8 (save the file as UTF-8); nothing was imported", status: ExitStatus.dataError)
            }
            guard var header else { throw Admin.fail("\(file): line 1: the file is empty; nothing was imported", status: ExitStatus.dataError) }
            if header.hasPrefix("\u{FEFF}") { header = header.dropFirst() }  // a spreadsheet's byte-order mark
            let reader: HistoryCSVReader
            do {
                reader = try HistoryCSVReader(header: header, symbol: symbol, exchange: exchange, interval: barInterval,
                                              calendar: SessionCalendar(sessionOpenMinutes: config.sessionOpenMinutes))
            } catch {
                throw Admin.fail("\(file): \(error); nothing was imported", status: ExitStatus.dataError)
            }
            let sha256 = try lines.sha256()
            let db = try Admin.connect(config)
            defer { db.close() }
            let name = URL(fileURLWithPath: file).lastPathComponent
            var bar = ProgressBar(total: max(lines.size / 1024, 1), unit: "KiB", mode: progress)
            let latest = SystemClock().now().adding(nanoseconds: Timestamp.nanosecondsPerDay)
            let outcome: HistoryImportStore.Outcome
            do {
                outcome = try HistoryImportStore(db).importRows(reader.layout, interval: barInterval, file: name, sha256: sha256,
                                                                actor: Admin.actor, now: SystemClock().now()) { emit in
                    try lines.forEach { line, number, bytes in
                        guard number > 1, !line.isEmpty else { return true }
                        let row = try reader.parse(line, line: number)
                        let time: Timestamp = switch row {
                        case .tick(let t): t.timestamp
                        case .bar(let b): b.start
                        }
                        guard time <= latest else { throw HistoryCSVError(line: number, "\(time) is more than a day ahead of now") }
                        try emit(row, number)
                        if number % 5_000 == 0 { bar.update(bytes / 1024) }
                        return true
                    }
                }
            } catch let error as HistoryCSVError {
                if bar.enabled { FileHandle.standardError.write(Data("\n".utf8)) }
                throw Admin.fail("\(file): \(error); nothing was imported", status: ExitStatus.dataError)
            } catch let error as FileLines.NotUTF8 {
                if bar.enabled { FileHandle.standardError.write(Data("\n".utf8)) }
                throw Admin.fail("\(file): line \(error.line): not valid UTF-8 (save the file as UTF-8); nothing was imported", status: ExitStatus.dataError)
            } catch let error as HistoryImportStore.Conflict {
                if bar.enabled { FileHandle.standardError.write(Data("\n".utf8)) }
                throw Admin.fail("\(file): \(error); nothing was imported", status: ExitStatus.dataError)
            }
            bar.finish(max(lines.size / 1024, 1))
            guard outcome.read > 0 else { throw Admin.fail("\(file): line 2: the file has a header and no rows; nothing was imported", status: ExitStatus.dataError) }
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
