import CLibPQ

/// The writing side of a `COPY ... FROM STDIN`, handed out by
/// ``PostgresConnection/copyIn(_:_:)``. Rows are gathered into a buffer and sent to libpq in
/// chunks (`PQputCopyData`), so a batch of thousands of rows costs a handful of calls.
public struct PostgresCopyIn: ~Copyable {
    private let conn: OpaquePointer
    /// Bytes not yet handed to libpq.
    public private(set) var buffer: [UInt8] = []
    private static let chunk = 256 * 1024

    init(conn: OpaquePointer) {
        self.conn = conn
        buffer.reserveCapacity(Self.chunk + 4096)
    }

    /// Appends raw COPY bytes (already in the format the COPY statement named).
    public mutating func write(_ bytes: some Sequence<UInt8>) throws(PostgresError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.chunk { try flush() }
    }

    /// Appends through a closure that writes into the buffer directly, avoiding temporaries.
    public mutating func write(_ body: (inout [UInt8]) -> Void) throws(PostgresError) {
        body(&buffer)
        if buffer.count >= Self.chunk { try flush() }
    }

    /// Hands the buffered bytes to libpq.
    public mutating func flush() throws(PostgresError) {
        guard !buffer.isEmpty else { return }
        let conn = self.conn
        let status = buffer.withUnsafeBytes { bytes in
            bytes.withMemoryRebound(to: CChar.self) { PQputCopyData(conn, $0.baseAddress, Int32($0.count)) }
        }
        buffer.removeAll(keepingCapacity: true)
        if status != 1 {
            let lost = PQstatus(conn) != CONNECTION_OK
            throw PostgresError(code: lost ? .connectionLost : .copyFailed, message: PostgresConnection.trimmed(PQerrorMessage(conn)))
        }
    }
}
