import Testing
import TradingCore

@Suite("Fixed-point decimals")
struct FixedDecimalTests {
    @Test(arguments: [
        ("2450.05", 24_500_500), ("0.0025", 25), ("-0.0025", -25), ("100.12340", 1_001_234),
        ("1e3", 10_000_000), ("1.5E+2", 1_500_000), ("12345e-4", 12_345), ("0", 0), ("-0", 0),
        ("1.000000000000000000000000", 10_000), ("99999999999999.9999", 999_999_999_999_999_999),
    ] as [(String, Int64)])
    func parsesExactly(text: String, units: Int64) throws {
        #expect(FixedDecimal(text) == FixedDecimal(units: units))
    }

    @Test(arguments: ["100.12345", "1e-5", "100000000000000", "1e14", "123456789012345678901234", "0.00001"])
    func rejectsWhatCannotBeHeldInsteadOfRounding(text: String) {
        #expect(FixedDecimal(text) == nil)
    }

    @Test(arguments: ["", "-", "01", "1.", ".5", "1e", "+1", "1.2.3", "0x10", "NaN", "1 "])
    func rejectsNonNumbers(text: String) {
        #expect(FixedDecimal(text) == nil)
    }

    @Test(arguments: [(24_500_500, "2450.05"), (25, "0.0025"), (-25, "-0.0025"), (10_000, "1"), (0, "0"), (1_001_234, "100.1234")] as [(Int64, String)])
    func printsCanonicalText(units: Int64, text: String) {
        #expect(FixedDecimal(units: units).description == text)
    }

    @Test func roundTripsEveryValueOfARandomSample() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<10_000 {
            let units = Int64(bitPattern: rng.next()) % FixedDecimal.unitsLimit
            let value = FixedDecimal(units: units)
            #expect(FixedDecimal(value.description) == value)
        }
    }
}

@Suite("Timestamps")
struct TimestampTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("2026-11-24T03:45:00.123456Z", Int64(1_795_491_900_123_456_000)),
        ("2026-11-24T09:15:00.123456+05:30", Int64(1_795_491_900_123_456_000)),
        ("2026-11-24t03:45:00.123456789z", Int64(1_795_491_900_123_456_789)),
        ("2024-02-29T23:59:59.5-01:00", Int64(1_709_254_799_500_000_000)),
    ])
    func parsesRFC3339(text: String, nanoseconds: Int64) {
        #expect(Timestamp.parseRFC3339(text)?.nanosecondsSinceEpoch == nanoseconds)
    }

    @Test(arguments: [
        "2026-11-24T03:45:00", "2026-11-24", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-24T24:00:00Z",
        "2026-11-24T03:60:00Z", "2026-11-24T03:45:60Z", "2026-11-24T03:45:00.Z", "2026-11-24T03:45:00.1234567890Z",
        "2026-11-24T03:45:00+0530", "2026-11-24T03:45:00+24:00", "2026-11-24X03:45:00Z", "2026-11-24T03:45:00Z ",
        // Beyond Int64 nanoseconds (after 2262-04-11): rejected, not a trap. Found by the fuzzer.
        "4052-11-24T09:15:00.123456+05:30", "1000-01-01T00:00:00Z",
    ])
    func rejectsMalformedTimes(text: String) {
        #expect(Timestamp.parseRFC3339(text) == nil)
    }

    @Test func formatsUTCWithMicroseconds() {
        #expect(Timestamp(nanosecondsSinceEpoch: 1_795_491_900_123_456_789).description == "2026-11-24T03:45:00.123456Z")
        #expect(Timestamp(nanosecondsSinceEpoch: -1).description == "1969-12-31T23:59:59.999999Z")
    }

    @Test func civilCalendarRoundTripsAcrossFourCenturies() {
        for days in stride(from: Int64(-200_000), through: 200_000, by: 37) {
            let (y, m, d) = CivilCalendar.civil(fromDays: days)
            #expect(CivilCalendar.days(fromCivil: y, m, d) == days)
        }
    }
}

@Suite("Sequence tracking per publisher stream")
struct SequenceTrackerTests {
    @Test func inOrderGapAndDuplicate() {
        var tracker = SequenceTracker()
        #expect(tracker.observe(source: "a", session: "s1", sequence: 10) == .inOrder)
        #expect(tracker.observe(source: "a", session: "s1", sequence: 11) == .inOrder)
        #expect(tracker.observe(source: "a", session: "s1", sequence: 15) == .gap(from: 12, to: 14))
        #expect(tracker.observe(source: "a", session: "s1", sequence: 15) == .duplicate)
        #expect(tracker.observe(source: "a", session: "s1", sequence: 3) == .duplicate)
        #expect(tracker.observe(source: "a", session: "s2", sequence: 0) == .inOrder, "a new session starts afresh")
        #expect(tracker.observe(source: "b", session: "s1", sequence: 1) == .inOrder, "streams are independent")
        #expect(tracker.lastSequence(source: "a", session: "s1") == 15)
    }

    @Test func restoredStreamTreatsResentMessagesAsDuplicates() {
        var tracker = SequenceTracker()
        tracker.restore(source: "a", session: "s", lastSequence: 100)
        #expect(tracker.observe(source: "a", session: "s", sequence: 100) == .duplicate)
        #expect(tracker.observe(source: "a", session: "s", sequence: 101) == .inOrder)
    }
}

@Suite("UUIDv7 ids")
struct UUIDv7Tests {
    @Test func idsAreVersion7StrictlyIncreasingAndCanonical() {
        var generator = UUIDv7Generator(seed: 1)
        var previous: UUIDBytes?
        let now = Timestamp(nanosecondsSinceEpoch: 1_795_491_900_123_456_789)
        for i in 0..<10_000 {
            let id = generator.next(now: now.adding(nanoseconds: Int64(i / 100) * 1_000_000))
            #expect(id.version == 7)
            #expect((id.low >> 62) == 0b10, "RFC 9562 variant")
            if let previous {
                #expect((id.high, id.low) > (previous.high, previous.low))
            }
            previous = id
        }
        let text = previous!.description
        #expect(text.count == 36 && text == text.lowercased())
        #expect(UUIDBytes(text) == previous)
    }

    @Test func idsNeverGoBackwardsWhenTheClockDoes() {
        var generator = UUIDv7Generator(seed: 2)
        let a = generator.next(now: Timestamp(nanosecondsSinceEpoch: 2_000_000_000))
        let b = generator.next(now: Timestamp(nanosecondsSinceEpoch: 1_000_000_000))
        #expect((b.high, b.low) > (a.high, a.low))
        #expect(a.unixMilliseconds == 2000)
    }
}
