import Foundation

/// Test accuracy against round for several runs, drawn as a self-contained SVG image (no scripts, fonts or
/// external references), so it opens in any browser and can be attached to a report as is.
public struct AccuracyPlot: Sendable, Equatable {
    /// One evaluated round.
    public struct Point: Sendable, Equatable {
        /// The round.
        public var round: Int
        /// Test accuracy in [0, 1].
        public var accuracy: Double

        /// Creates a point.
        public init(round: Int, accuracy: Double) {
            self.round = round
            self.accuracy = accuracy
        }
    }

    /// The interval drawn around a mean curve at one round.
    public struct BandPoint: Sendable, Equatable {
        /// The 1-based round.
        public var round: Int
        /// Lower and upper edge, as fractions.
        public var lower: Double, upper: Double

        /// A band point.
        public init(round: Int, lower: Double, upper: Double) {
            self.round = round
            self.lower = lower
            self.upper = upper
        }
    }

    /// One run's curve, or a seed group's mean curve with its confidence band.
    public struct Series: Sendable, Equatable {
        /// The legend entry (the run's name).
        public var name: String
        /// Evaluated rounds in increasing order.
        public var points: [Point]
        /// A shaded interval around the curve (empty: none), in increasing round order.
        public var band: [BandPoint]

        /// Creates a curve.
        public init(name: String, points: [Point], band: [BandPoint] = []) {
            self.name = name
            self.points = points
            self.band = band
        }
    }

    /// The curves in legend order.
    public var series: [Series]
    /// The heading above the plot.
    public var title: String

    /// Collects curves.
    public init(series: [Series], title: String) {
        self.series = series
        self.title = title
    }

    // Geometry in SVG user units (px); the legend column widens with the longest run name.
    private static let plotWidth = 640.0, plotHeight = 400.0
    private static let left = 70.0, top = 50.0, bottom = 60.0, legendGap = 30.0
    /// Tableau 10: distinct hues that stay distinguishable for the common colour-vision deficiencies.
    private static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]
    /// After the palette is used up, curves repeat colours with these dash patterns.
    private static let dashes = ["", "6 3", "2 3", "8 3 2 3"]

    /// The SVG document (UTF-8 text with an XML declaration).
    public func svg() -> String {
        let plotWidth = Self.plotWidth, plotHeight = Self.plotHeight, left = Self.left, top = Self.top
        let longestName = series.map { $0.name.count }.max() ?? 0
        let legendWidth = 40.0 + 7.5 * Double(longestName)
        let width = left + plotWidth + Self.legendGap + legendWidth + 10
        let height = max(top + plotHeight + Self.bottom, top + 20 * Double(series.count) + 20)
        let maxRound = series.flatMap { $0.points.map(\.round) }.max() ?? 1
        let xTicks = Self.roundTicks(upTo: max(1, maxRound))
        let xMax = Double(xTicks.last ?? 1)
        func x(_ round: Int) -> Double { left + plotWidth * Double(round) / xMax }
        func y(_ accuracy: Double) -> Double { top + plotHeight * (1 - min(1, max(0, accuracy))) }

        var lines: [String] = []
        lines.append(#"<?xml version="1.0" encoding="UTF-8"?>"#)
        lines.append(#"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Self.format(width))" height="\#(Self.format(height))" viewBox="0 0 \#(Self.format(width)) \#(Self.format(height))" font-family="sans-serif" font-size="12">"#)
        lines.append(#"<rect x="0" y="0" width="\#(Self.format(width))" height="\#(Self.format(height))" fill="white"/>"#)
        lines.append(#"<text x="\#(Self.format(left + plotWidth / 2))" y="28" text-anchor="middle" font-size="15">\#(Self.escape(title))</text>"#)

        // Grid, ticks and tick labels; accuracy is always shown 0…100 % so plots of different files compare.
        lines.append(##"<g class="axes" stroke="#cccccc" stroke-width="1">"##)
        for tick in xTicks {
            lines.append(#"<line x1="\#(Self.format(x(tick)))" y1="\#(Self.format(top))" x2="\#(Self.format(x(tick)))" y2="\#(Self.format(top + plotHeight))"/>"#)
        }
        for step in 0...10 {
            let value = Double(step) / 10
            lines.append(#"<line x1="\#(Self.format(left))" y1="\#(Self.format(y(value)))" x2="\#(Self.format(left + plotWidth))" y2="\#(Self.format(y(value)))"/>"#)
        }
        lines.append(##"<rect x="\##(Self.format(left))" y="\##(Self.format(top))" width="\##(Self.format(plotWidth))" height="\##(Self.format(plotHeight))" fill="none" stroke="#333333"/>"##)
        lines.append("</g>")
        lines.append(##"<g class="tick-labels" fill="#333333">"##)
        for tick in xTicks {
            lines.append(#"<text x="\#(Self.format(x(tick)))" y="\#(Self.format(top + plotHeight + 18))" text-anchor="middle">\#(tick)</text>"#)
        }
        for step in 0...10 {
            lines.append(#"<text x="\#(Self.format(left - 8))" y="\#(Self.format(y(Double(step) / 10) + 4))" text-anchor="end">\#(step * 10)</text>"#)
        }
        lines.append(#"<text x="\#(Self.format(left + plotWidth / 2))" y="\#(Self.format(top + plotHeight + 45))" text-anchor="middle">round</text>"#)
        lines.append(#"<text x="20" y="\#(Self.format(top + plotHeight / 2))" text-anchor="middle" transform="rotate(-90 20 \#(Self.format(top + plotHeight / 2)))">test accuracy (%)</text>"#)
        lines.append("</g>")

        // Bands under the curves, then the curves, then the legend.
        if series.contains(where: { !$0.band.isEmpty }) {
            lines.append(#"<g class="bands" stroke="none" fill-opacity="0.2">"#)
            for (index, curve) in series.enumerated() where !curve.band.isEmpty {
                let outline = curve.band.map { (x($0.round), y($0.upper)) } + curve.band.reversed().map { (x($0.round), y($0.lower)) }
                let points = outline.map { "\(Self.format($0.0)),\(Self.format($0.1))" }.joined(separator: " ")
                lines.append(#"<polygon fill="\#(Self.colour(index))" points="\#(points)"><title>\#(Self.escape(curve.name)) 95 % interval</title></polygon>"#)
            }
            lines.append("</g>")
        }
        lines.append(#"<g class="curves" fill="none" stroke-width="2" stroke-linejoin="round">"#)
        for (index, curve) in series.enumerated() where !curve.points.isEmpty {
            let points = curve.points.map { "\(Self.format(x($0.round))),\(Self.format(y($0.accuracy)))" }.joined(separator: " ")
            lines.append(#"<polyline\#(Self.style(index)) points="\#(points)"><title>\#(Self.escape(curve.name))</title></polyline>"#)
            // A lone point draws no line; markers also show where evaluations were when they are few.
            if curve.points.count <= 50 {
                for point in curve.points {
                    lines.append(#"<circle cx="\#(Self.format(x(point.round)))" cy="\#(Self.format(y(point.accuracy)))" r="2.5" fill="\#(Self.colour(index))" stroke="none"/>"#)
                }
            }
        }
        lines.append("</g>")
        let legendX = left + plotWidth + Self.legendGap
        lines.append(#"<g class="legend">"#)
        for (index, curve) in series.enumerated() {
            let rowY = top + 10 + 20 * Double(index)
            lines.append(#"<line x1="\#(Self.format(legendX))" y1="\#(Self.format(rowY))" x2="\#(Self.format(legendX + 25))" y2="\#(Self.format(rowY))" stroke-width="2"\#(Self.style(index))/>"#)
            let label = curve.points.isEmpty ? "\(curve.name) (not evaluated)" : curve.name
            lines.append(##"<text x="\##(Self.format(legendX + 32))" y="\##(Self.format(rowY + 4))" fill="#333333">\##(Self.escape(label))</text>"##)
        }
        lines.append("</g>")
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Round ticks from 0: a step of 1, 2 or 5 times a power of ten giving at most 10 intervals, the last tick at
    /// or after `maxRound`.
    public static func roundTicks(upTo maxRound: Int) -> [Int] {
        var magnitude = 1
        while true {
            for factor in [1, 2, 5] {
                let step = factor * magnitude
                let intervals = (maxRound + step - 1) / step
                if intervals <= 10 { return (0...intervals).map { $0 * step } }
            }
            magnitude *= 10
        }
    }

    private static func colour(_ index: Int) -> String { palette[index % palette.count] }

    private static func style(_ index: Int) -> String {
        let dash = dashes[(index / palette.count) % dashes.count]
        return #" stroke="\#(colour(index))""# + (dash.isEmpty ? "" : #" stroke-dasharray="\#(dash)""#)
    }

    private static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    /// Text as XML character data or attribute value.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

extension ResultsFile {
    /// The accuracy curves of every run (evaluated rounds only), in run-name order, titled with the file's name.
    public func accuracyPlot() throws -> AccuracyPlot {
        let series = try runNames().map { name in
            let columns = try openRun(name).metrics()
            let rounds = columns[ResultsLayout.roundMetric] ?? [], accuracy = columns["accuracy"] ?? []
            let points = zip(rounds, accuracy).filter { !$0.1.isNaN }.map { AccuracyPlot.Point(round: Int($0.0), accuracy: $0.1) }
            return AccuracyPlot.Series(name: name, points: points)
        }
        let file = URL(fileURLWithPath: path).lastPathComponent
        return AccuracyPlot(series: series, title: "Test accuracy per round — \(file)")
    }

    /// One curve per seed group: the mean accuracy of its complete runs at the rounds all of them evaluated, with
    /// the 95 % Student-t interval as a band where there are at least two seeds.
    public func seedGroupAccuracyPlot() throws -> AccuracyPlot {
        let series = try comparisonTable().seedGroups.map { group in
            let complete = group.runs.filter { !group.incompleteRuns.contains($0) }
            let curves: [[Int: Double]] = try complete.map { name in
                let columns = try openRun(name).metrics()
                let rounds = columns[ResultsLayout.roundMetric] ?? [], accuracy = columns["accuracy"] ?? []
                return Dictionary(zip(rounds, accuracy).filter { !$0.1.isNaN }.map { (Int($0.0), $0.1) }, uniquingKeysWith: { $1 })
            }
            let shared = curves.dropFirst().reduce(Set(curves.first?.keys ?? [:].keys)) { $0.intersection($1.keys) }.sorted()
            var points: [AccuracyPlot.Point] = [], band: [AccuracyPlot.BandPoint] = []
            for round in shared {
                guard let statistics = SeedStatistics(curves.map { $0[round]! }) else { continue }
                points.append(AccuracyPlot.Point(round: round, accuracy: statistics.mean))
                if let lower = statistics.lower95, let upper = statistics.upper95 {
                    band.append(AccuracyPlot.BandPoint(round: round, lower: lower, upper: upper))
                }
            }
            return AccuracyPlot.Series(name: "\(group.name) (\(complete.count) seed\(complete.count == 1 ? "" : "s"))", points: points, band: band)
        }
        let file = URL(fileURLWithPath: path).lastPathComponent
        return AccuracyPlot(series: series, title: "Mean test accuracy over seeds, 95 % interval — \(file)")
    }

    /// Writes `accuracyPlot()` (or, with `bySeedGroup`, `seedGroupAccuracyPlot()`) as SVG to `path` (atomically).
    public func writeAccuracyPlot(to path: String, bySeedGroup: Bool = false) throws {
        try Self.write(try (bySeedGroup ? seedGroupAccuracyPlot() : accuracyPlot()).svg(), to: path)
    }
}
