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
        return frame(
            id: id, title: title, description: description, top: axis(points.map(\.value).max() ?? 0),
            bars + marks(points.map(\.label), slot: slot, barWidth: barWidth))
    }

    /// The first, middle and last labels under the bars; the last ends at its bar, so it stays inside.
    static func marks(_ labels: [String], slot: Int, barWidth: Int) -> HTML {
        var marks = HTML.empty
        for index in Set([0, labels.count / 2, labels.count - 1]).sorted() where index >= 0 && index < labels.count {
            let last = index == labels.count - 1 && index > 0
            let anchor: HTML = last ? " text-anchor=\"end\"" : ""
            marks +=
                "<text x=\"\(left + index * slot + (last ? barWidth : 0))\" y=\"\(height - 6)\"\(anchor)>\(labels[index])</text>"
        }
        return marks
    }

    /// The chart's frame: its title and description for assistive technology, the axis lines and the
    /// scale's top and zero, around `content`.
    static func frame(id: String, title: String, description: String, top: String, _ content: HTML) -> HTML {
        let plotHeight = height - bottom - 10
        return """
            <svg class="chart" id="\(id)" viewBox="0 0 \(width) \(height)" role="img" \
            aria-labelledby="\(id)-title \(id)-desc"><title id="\(id)-title">\(title)</title>\
            <desc id="\(id)-desc">\(description)</desc>\
            <line class="axis" x1="\(left)" y1="\(10 + plotHeight)" x2="\(width - 8)" y2="\(10 + plotHeight)"/>\
            <line class="axis" x1="\(left)" y1="10" x2="\(width - 8)" y2="10"/>\
            <text x="2" y="20">\(top)</text><text x="2" y="\(10 + plotHeight)">0</text>\(content)</svg>
            """
    }

    /// Columns of stacked segments, one colour per series (the largest first, the rest as "other"),
    /// with a legend.
    static func stacked(
        id: String, title: String, description: String, labels: [String], series: [(name: String, values: [Int64])],
        display: (Int64) -> String
    ) -> HTML {
        let plotWidth = width - left - 8
        let plotHeight = height - bottom - 10
        let totals = labels.indices.map { index in series.reduce(Int64(0)) { $0 + $1.values[index] } }
        let maximum = max(totals.max() ?? 0, 1)
        let slot = labels.isEmpty ? plotWidth : plotWidth / labels.count
        let barWidth = max(1, slot - max(1, slot / 5))
        var segments = HTML.empty
        for index in labels.indices {
            var base = 0
            for (number, line) in series.enumerated() where line.values[index] > 0 {
                let segment = Int(Int128(line.values[index]) * Int128(plotHeight) / Int128(maximum))
                let y = 10 + plotHeight - base - max(segment, 1)
                segments += """
                    <rect class="seg s\(number)" x="\(left + index * slot)" y="\(y)" width="\(barWidth)" \
                    height="\(max(segment, 1))"><title>\(labels[index]) · \(line.name): \(display(line.values[index]))</title></rect>
                    """
                base += segment
            }
        }
        let legend = series.enumerated().html { number, line in
            "<li><span class=\"swatch s\(number)\" aria-hidden=\"true\"></span>\(line.name)</li>"
        }
        return frame(
            id: id, title: title, description: description, top: display(totals.max() ?? 0),
            segments + marks(labels, slot: slot, barWidth: barWidth))
            + "<ul class=\"legend\" id=\"\(id)-legend\">\(legend)</ul>"
    }
}
