import ArgumentParser

/// The one binary: the daemon and its admin commands.
@main
struct Algotrader: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "algotrader",
        abstract: "Event-driven trading engine: ZeroMQ ticks in, PostgreSQL out.",
        subcommands: [Serve.self, Migrate.self, Feed.self, Halt.self, Resume.self, UserCommand.self, BrokerCommand.self,
                      KeysCommand.self, StrategyCommand.self, RiskCommand.self, InstrumentsCommand.self, CalendarCommand.self, HistoryCommand.self, Replay.self, Ctl.self, WebCommand.self,
                      AuditCommand.self]
    )
}

/// Exit statuses of CONTRACT.md section 4 (sysexits.h values).
enum ExitStatus {
    static let usage: Int32 = 64        // EX_USAGE: bad command line
    static let dataError: Int32 = 65    // EX_DATAERR: schema older or newer than the binary
    static let unavailable: Int32 = 69  // EX_UNAVAILABLE: database unreachable at start
    static let config: Int32 = 78       // EX_CONFIG: bad configuration
    /// EX_TEMPFAIL: stopped with accepted work neither PostgreSQL nor the journal could take.
    static let temporaryFailure: Int32 = 75
}

/// Options every database command shares.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration file (YAML). Every key can be overridden by ALGOTRADER_* variables.")
    var config: String?
}
