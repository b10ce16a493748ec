import MeterrCore
import Testing

@Suite("HTTP dates")
struct HTTPDateTests {
    @Test("A time in the HTTP Date form: weekday, day, month, year and UTC time, leap days and year ends included")
    func imfFixdate() {
        #expect(Timestamp(milliseconds: 1_796_472_129_000).httpDate == "Sat, 05 Dec 2026 12:02:09 GMT")
        #expect(Timestamp(milliseconds: 1_835_481_599_999).httpDate == "Tue, 29 Feb 2028 23:59:59 GMT")
        #expect(Timestamp(milliseconds: 1_798_675_200_000).httpDate == "Thu, 31 Dec 2026 00:00:00 GMT")
        #expect(Timestamp(milliseconds: 0).httpDate == "Thu, 01 Jan 1970 00:00:00 GMT")
    }
}
