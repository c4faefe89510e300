/// One versioned schema change, applied in one transaction and recorded with its checksum.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String
}
