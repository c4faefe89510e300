import Foundation
import TradingCore

/// The equity curve as CSV and, drawn by gnuplot, as PNG.
enum EquityCurve {
    static func writeCSV(_ curve: [EquityPoint], to path: String) throws {
        var text = "time,time_ist,equity,realized,unrealized,position\n"
        for p in curve {
            text += "\(p.time),\(BacktestReport.ist(p.time)),\(BacktestReport.rupees(p.equity)),\(BacktestReport.rupees(p.realized)),"
                + "\(BacktestReport.rupees(p.unrealized)),\(p.position)\n"
        }
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw Admin.fail("--equity-csv: cannot write '\(path)': \(error.localizedDescription)")
        }
    }

    static func plot(csv: String, png: String, title: String) throws {
        guard let gnuplot = Replay.gnuplot() else { throw Admin.fail("--equity-png needs gnuplot", status: ExitStatus.unavailable) }
        func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
        let script = """
            set terminal pngcairo size 1200,600 noenhanced
            set output \(quoted(png))
            set datafile separator ','
            set key autotitle columnhead
            set xdata time
            set timefmt '%Y-%m-%d %H:%M:%S'
            set format x '%d %b\\n%H:%M'
            set xlabel 'Asia/Kolkata'
            set ylabel 'P&L net of charges (Rs)'
            set title \(quoted(title))
            set grid
            plot \(quoted(csv)) using 2:3 with lines linewidth 2 title 'equity', '' using 2:4 with lines title 'realized'
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: gnuplot)
        let input = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(script.utf8))
        try input.fileHandleForWriting.close()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Admin.fail("gnuplot could not draw '\(png)': \(String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
