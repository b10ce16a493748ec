import Foundation
import MeterrCore
import Testing

@Suite("Money and time")
struct MoneyTests {
    @Test("Decimal strings parse exactly and print with nine decimals")
    func parsesDecimals() throws {
        #expect(Money(decimalString: "0.000008550")?.nanos == 8_550)
        #expect(Money(decimalString: "12.5")?.nanos == 12_500_000_000)
        #expect(Money(decimalString: "-3")?.nanos == -3_000_000_000)
        #expect(Money(nanos: 8_550).decimalString == "0.000008550")
        #expect(Money(nanos: -1).decimalString == "-0.000000001")
        #expect(Money.zero.decimalString == "0.000000000")
        #expect(Money(nanos: 1_000_000_000).decimalString == "1.000000000")
        #expect(Money(nanos: -12_500_000_000).decimalString == "-12.500000000")
        #expect(Money(nanos: .max).decimalString == "9223372036.854775807")
        #expect(Money(nanos: .min).decimalString == "-9223372036.854775808")
        #expect(Money(decimalString: "1e-5") == nil)
        #expect(Money(decimalString: "") == nil)
        #expect(Money(decimalString: "1.2.3") == nil)
        #expect(Money(decimalString: "99999999999999999999") == nil)
    }

    @Test("Digits past nanos round half to even")
    func roundsHalfEven() {
        #expect(Money(decimalString: "0.0000000005")?.nanos == 0)
        #expect(Money(decimalString: "0.0000000015")?.nanos == 2)
        #expect(Money(decimalString: "0.00000000050001")?.nanos == 1)
        #expect(Money(decimalString: "0.0000000016")?.nanos == 2)
    }

    @Test("A JSON number decodes to the same amount as its string")
    func decodesNumbers() throws {
        let fromNumber = try JSONDecoder().decode([Money].self, from: Data("[0.00012]".utf8))
        #expect(fromNumber == [Money(nanos: 120_000)])
    }

    @Test("RFC 3339 times round-trip through milliseconds")
    func timestamps() throws {
        let time = try #require(Timestamp(rfc3339: "2026-11-29T10:45:58.123Z"))
        #expect(time.rfc3339 == "2026-11-29T10:45:58.123Z")
        #expect(Timestamp(rfc3339: "2026-11-29T11:45:58.123456+01:00") == time)
        #expect(Timestamp(rfc3339: "1970-01-01T00:00:00Z")?.milliseconds == 0)
        #expect(Timestamp(rfc3339: "2024-02-29")?.rfc3339 == "2024-02-29T00:00:00.000Z")
        #expect(Timestamp(rfc3339: "2023-02-29") == nil)
        #expect(Timestamp(rfc3339: "2026-13-01T00:00:00Z") == nil)
        #expect(Timestamp(rfc3339: "yesterday") == nil)
        #expect(time.dayStart.rfc3339 == "2026-11-29T00:00:00.000Z")
        #expect(time.hourStart.rfc3339 == "2026-11-29T10:00:00.000Z")
        #expect(time.monthStart.rfc3339 == "2026-11-01T00:00:00.000Z")
        #expect(Timestamp(milliseconds: -1).rfc3339 == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(milliseconds: 253_402_300_799_999).rfc3339 == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp(rfc3339: "0001-01-01T00:00:00Z")?.rfc3339 == "0001-01-01T00:00:00.000Z")
        for millis in stride(from: Int64(0), to: 4_000_000_000_000, by: 123_456_789_011) {
            #expect(Timestamp(rfc3339: Timestamp(milliseconds: millis).rfc3339)?.milliseconds == millis)
        }
    }

    @Test("Usage validation names the field at fault")
    func usageValidation() {
        #expect(throws: MeterrError.self) { try Usage(inputTokens: -1).validate() }
        do {
            try Usage(inputTokens: 10, cacheReadTokens: 11).validate(prefix: "events[2].")
            Issue.record("expected an error")
        } catch {
            #expect(error.field == "events[2].input_tokens")
        }
        #expect(throws: Never.self) { try Usage(inputTokens: 10, cacheReadTokens: 4, outputTokens: 3).validate() }
    }
}
