import ArgumentParser
import Config
import Foundation
import Storage
import TradingCore

/// `algotrader instruments import|show`: the instrument master (docs/execution.md).
struct InstrumentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instruments", abstract: "Load and look up the instrument master.",
        subcommands: [Import.self, Show.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a brokers' instruments CSV (Zerodha's layout); idempotent, all or nothing.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The CSV file (e.g. https://api.kite.trade/instruments saved to disk).") var file: String
        @Option(help: "Progress bar: auto (on a terminal), always, never.") var progress: ProgressMode = .auto

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw Admin.fail("cannot read '\(file)'") }
            let text = String(decoding: data, as: UTF8.self)
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.last?.isEmpty == true { lines.removeLast() }
            guard let header = lines.first else { throw Admin.fail("\(file): the file is empty") }
            // Parsing and sending each take part of the bar: parse = first half, COPY = second.
            var bar = ProgressBar(total: 2 * max(lines.count - 1, 1), unit: "rows", mode: progress)
            var instruments: [Instrument] = []
            instruments.reserveCapacity(lines.count)
            var skipped = 0
            do {
                let reader = try InstrumentCSVReader(header: header)
                for index in 1..<lines.count {
                    if lines[index].isEmpty || lines[index] == "\r" { continue }
                    switch try reader.parse(lines[index], line: index + 1) {
                    case .instrument(let instrument): instruments.append(instrument)
                    case .skipped: skipped += 1
                    }
                    if index % 5_000 == 0 { bar.update(index) }
                }
            } catch {
                if bar.enabled { FileHandle.standardError.write(Data("\n".utf8)) }
                throw Admin.fail("\(file): \(error); nothing was imported", status: ExitStatus.dataError)
            }
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            defer { db.close() }
            let parsed = lines.count - 1
            let outcome = try InstrumentStore(db).importInstruments(instruments) { sent in bar.update(parsed + sent * parsed / max(instruments.count, 1)) }
            bar.finish(2 * parsed)
            try AuditLog.record(db, actor: Admin.actor, action: .instrumentsImported, target: "instruments",
                                details: JSONObjectWriter.object {
                                    $0.add("rows", instruments.count)
                                    $0.add("inserted", outcome.inserted)
                                    $0.add("updated", outcome.updated)
                                })
            print("imported \(instruments.count) instruments from \(file): \(outcome.inserted) new, \(outcome.updated) changed, "
                  + "\(instruments.count - outcome.inserted - outcome.updated) unchanged; \(skipped) index rows skipped")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show what the engine knows of a symbol.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The trading symbol.") var symbol: String
        @Option(help: "Only this exchange.") var exchange: String?

        func run() throws {
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            defer { db.close() }
            let rows = try InstrumentStore(db).listing(symbol: symbol, exchange: exchange)
            guard !rows.isEmpty else {
                print("\(symbol): not in the instrument master; it trades as an equity with lot size 1 and tick size 0.01")
                return
            }
            print("exchange  symbol                token       type  segment   lot    tick    freeze  expiry      strike")
            func cell(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
            for r in rows {
                print([cell(r.exchange, 8), cell(r.symbol, 20), cell(r.token, 10), cell(r.type, 4), cell(r.segment, 8), cell(r.lotSize, 5),
                       cell(r.tickSize, 6), cell(r.freezeQuantity ?? "-", 6), cell(r.expiry ?? "-", 10), r.strike ?? "-"].joined(separator: "  "))
            }
        }
    }
}

/// `algotrader calendar import|list`: exchange holidays (docs/operations.md).
struct CalendarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calendar", abstract: "Load and list exchange holidays.",
        subcommands: [Import.self, List.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a holiday CSV (columns date, exchange, description; date as YYYY-MM-DD or DD-Mon-YYYY).")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The CSV file.") var file: String
        @Option(help: "Exchanges for rows without an exchange column, comma-separated (NSE's list applies to NSE,NFO).")
        var exchange: String?

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw Admin.fail("cannot read '\(file)'") }
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }
            guard let header = lines.first else { throw Admin.fail("\(file): the file is empty") }
            var holidays: [Holiday] = []
            do {
                let reader = try HolidayCSVReader(header: header, defaultExchanges: (exchange ?? "").split(separator: ",").map { $0.uppercased() })
                for index in 1..<lines.count { holidays += try reader.parse(lines[index], line: index + 1) }
            } catch {
                throw Admin.fail("\(file): \(error); nothing was imported", status: ExitStatus.dataError)
            }
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            defer { db.close() }
            let added = try InstrumentStore(db).importHolidays(holidays)
            try AuditLog.record(db, actor: Admin.actor, action: .calendarImported, target: "exchange_holidays",
                                details: JSONObjectWriter.object { $0.add("rows", holidays.count); $0.add("new", added) })
            print("imported \(holidays.count) holidays from \(file): \(added) new; a running engine applies them on SIGHUP")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List holidays.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only this exchange.") var exchange: String?
        @Option(help: "Only this year.") var year: Int?

        func run() throws {
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            defer { db.close() }
            for h in try InstrumentStore(db).holidays(exchange: exchange, year: year) {
                print("\(h.date)  \(h.exchange.padding(toLength: 6, withPad: " ", startingAt: 0))  \(h.description)")
            }
        }
    }
}
