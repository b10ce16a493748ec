import Testing

@testable import MeterrServer

@Suite("Latency histograms for /metrics")
struct LatencyHistogramTests {
    @Test("Observations land in the first bucket that holds them; buckets print cumulative, in seconds")
    func buckets() {
        var histogram = LatencyHistogram(bounds: [50, 250, 1_000_000])
        for microseconds: Int64 in [10, 50, 51, 250, 2_000_000] { histogram.observe(microseconds) }
        #expect(
            histogram.lines("t", labels: #"provider="openai""#)
                == """
                t_bucket{provider="openai",le="0.00005"} 2
                t_bucket{provider="openai",le="0.00025"} 4
                t_bucket{provider="openai",le="1"} 4
                t_bucket{provider="openai",le="+Inf"} 5
                t_sum{provider="openai"} 2.000361
                t_count{provider="openai"} 5

                """)
        #expect(LatencyHistogram.seconds(12_500_000) == "12.5")
        #expect(LatencyHistogram.seconds(0) == "0")
    }
}
