import MeterrCore

/// Bar charts drawn as SVG on the server: no script needed, with a title and description for
/// assistive technology; the page puts the same numbers in a table beside it.
enum Chart {
    struct Point {
        var label: String
        var value: Int64
        var display: String
    }

    static let width = 720
    static let height = 150
    static let left = 64
    static let bottom = 22

    /// A bar chart of non-negative values; `axis` labels the top of the scale.
    static func bars(
        id: String, title: String, description: String, points: [Point], axis: (Int64) -> String,
        alternate: Bool = false
    ) -> HTML {
        let plotWidth = width - left - 8
        let plotHeight = height - bottom - 10
        let maximum = max(points.map(\.value).max() ?? 0, 1)
        let slot = points.isEmpty ? plotWidth : plotWidth / points.count
        let barWidth = max(1, slot - max(1, slot / 5))
        var bars = HTML.empty
        for (index, point) in points.enumerated() {
            let barHeight = Int(Int128(point.value) * Int128(plotHeight) / Int128(maximum))
            let x = left + index * slot
            let y = 10 + plotHeight - barHeight
            bars += """
                <rect class="bar\(alternate ? " alt" : "")" x="\(x)" y="\(y)" width="\(barWidth)" \
                height="\(max(barHeight, point.value > 0 ? 1 : 0))"><title>\(point.label): \(point.display)</title></rect>
                """
        }
        var labels = HTML.empty
        let marks = Set([0, points.count / 2, points.count - 1].filter { $0 >= 0 })
        for index in marks.sorted() where index < points.count {
            // The last label ends at its bar, so it stays inside the chart.
            let last = index == points.count - 1 && index > 0
            let x = left + index * slot + (last ? barWidth : 0)
            let anchor: HTML = last ? " text-anchor=\"end\"" : ""
            labels += "<text x=\"\(x)\" y=\"\(height - 6)\"\(anchor)>\(points[index].label)</text>"
        }
        let top = axis(points.map(\.value).max() ?? 0)
        return """
            <svg class="chart" id="\(id)" viewBox="0 0 \(width) \(height)" role="img" \
            aria-labelledby="\(id)-title \(id)-desc"><title id="\(id)-title">\(title)</title>\
            <desc id="\(id)-desc">\(description)</desc>\
            <line class="axis" x1="\(left)" y1="\(10 + plotHeight)" x2="\(width - 8)" y2="\(10 + plotHeight)"/>\
            <line class="axis" x1="\(left)" y1="10" x2="\(width - 8)" y2="10"/>\
            <text x="2" y="20">\(top)</text><text x="2" y="\(10 + plotHeight)">0</text>\(bars)\(labels)</svg>
            """
    }
}
