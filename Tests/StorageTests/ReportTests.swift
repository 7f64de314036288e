import Foundation
import Storage
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Run reports, CSV export and the accuracy plot, on runs written with known metric values.
@Suite("Run reports, CSV and SVG")
struct ReportTests {
    /// Two runs: "alpha" evaluated in rounds 2 and 4 of 4 (NaN accuracy in rounds 1 and 3), "beta & co" evaluated in
    /// all 3 of its rounds; plus "gamma" without any rounds.
    static func writeRuns(at path: String) throws -> ResultsFile {
        let results = try ResultsFile(path: path, access: .createOrAppend(toolVersion: "test"))
        func specification(_ strategy: String) -> RunSpecification {
            RunSpecification(strategy: strategy, dataset: "fashion-mnist", model: "resnet8", seed: 7,
                             configuration: "{}", toolVersion: "test")
        }
        let alpha = try results.createRun("alpha", specification: specification("fedavg"))
        try alpha.writeDevices(DeviceTable(devices: [
            DeviceRecord(id: 0, group: "strong", samples: 4, classHistogram: [4, 0]),
            DeviceRecord(id: 1, group: "weak", samples: 4, classHistogram: [1, 3]),
        ], groupNames: ["strong", "weak"]))
        for round in 1...4 {
            var values: [String: Double] = ["upload_bytes": Double(1_000_000 * round), "participants": 2, "skipped": 0,
                                            "seconds": 0.5, "device_time_ratio": 1]
            if round % 2 == 0 {
                values["accuracy"] = 0.25 * Double(round) / 1.5
                values["loss"] = 2.0 / Double(round)
                values["accuracy_strong"] = 0.6
                values["accuracy_weak"] = 0.4
                values["group_gap"] = 0.2
            }
            try alpha.appendMetrics(round: round, values: values)
        }
        try alpha.writeCheckpoint(round: 4, parameters: [])
        try alpha.setStatus(.complete)
        let beta = try results.createRun("beta & co", specification: specification("cocofl"))
        for (round, accuracy) in [(1, 0.1), (2, 0.45), (3, 0.7)] {
            try beta.appendMetrics(round: round, values: ["accuracy": accuracy, "upload_bytes": 500_000])
        }
        try beta.setStatus(.failed, message: "stopped by a test")
        _ = try results.createRun("gamma", specification: specification("fedavg"))
        return results
    }

    @Test("A run's report lists its metadata and evaluated rounds")
    func report() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.writeRuns(at: directory.appendingPathComponent("r.h5").path)
            let report = try results.report(run: "alpha")
            #expect(report.strategy == "fedavg" && report.seed == 7 && report.status == "complete")
            #expect(report.checkpointRounds == [4])
            #expect(report.groupNames == ["strong", "weak"])
            #expect(report.rows.map(\.round) == [2, 4])
            #expect(report.rows[1].accuracy == 0.25 * 4 / 1.5)
            #expect(report.rows[1].groupAccuracy == ["strong": 0.6, "weak": 0.4])
            #expect(report.rows[1].uploadBytes == 4e6)
            // Rounds 1…4 uploaded 1 + 2 + 3 + 4 MB; the omitted rounds still count.
            #expect(report.rows[1].cumulativeUploadBytes == 10e6)
            let all = try results.report(run: "alpha", evaluatedRoundsOnly: false)
            #expect(all.rows.map(\.round) == [1, 2, 3, 4])
            #expect(all.rows[0].accuracy == nil && all.rows[0].loss == nil && all.rows[0].participants == 2)

            let failed = try results.report(run: "beta & co")
            #expect(failed.status == "failed" && failed.statusMessage == "stopped by a test")
            #expect(failed.groupNames.isEmpty && failed.checkpointRounds.isEmpty)

            let unknown = try #require(throws: ResultsError.self) { _ = try results.report(run: "delta") }
            #expect(unknown.description.contains("'alpha', 'beta & co', 'gamma'"), "\(unknown)")
            #expect(!unknown.description.contains("\n"))
        }
    }

    @Test("CSV export writes one file per run that parses back to the stored values")
    func csv() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.writeRuns(at: directory.appendingPathComponent("r.h5").path)
            let output = directory.appendingPathComponent("csv/nested").path
            let written = try results.exportMetricsCSV(to: output)
            #expect(written == ["alpha", "beta & co", "gamma"].map { "\(output)/\($0).csv" })

            let lines = try String(contentsOfFile: "\(output)/alpha.csv", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.last == "")
            let header = lines[0].split(separator: ",").map(String.init)
            #expect(header == ["round", "accuracy", "accuracy_strong", "accuracy_weak", "device_time_ratio", "group_gap",
                               "loss", "participants", "seconds", "skipped", "upload_bytes"])
            let rows = lines.dropFirst().dropLast().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            #expect(rows.count == 4)
            let stored = try results.openRun("alpha").metrics()
            for (row, fields) in rows.enumerated() {
                #expect(fields.count == header.count)
                for (name, field) in zip(header, fields) {
                    let value = stored[name]![row]
                    if value.isNaN {
                        #expect(field.isEmpty, "\(name) row \(row)")
                    } else {
                        #expect(Double(field) == value, "\(name) row \(row): '\(field)'")
                    }
                }
            }
            #expect(rows[0][0] == "1" && rows[0][1] == "" && rows[1][1] == "0.3333333333333333")
            #expect(rows[3][10] == "4000000")

            let empty = try String(contentsOfFile: "\(output)/gamma.csv", encoding: .utf8)
            #expect(empty == "round\n")

            // A path under a regular file cannot become a directory: one line naming it.
            let blocked = directory.appendingPathComponent("csv/nested/alpha.csv/more").path
            let error = try #require(throws: ReportWriteError.self) { _ = try results.exportMetricsCSV(to: blocked) }
            #expect(error.path == blocked)
            #expect(error.description.contains(blocked) && !error.description.contains("\n"), "\(error)")
        }
    }

    @Test("The accuracy plot is SVG with one polyline per evaluated run and a point per evaluated round")
    func plot() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.writeRuns(at: directory.appendingPathComponent("r.h5").path)
            let plot = try results.accuracyPlot()
            #expect(plot.series.map(\.name) == ["alpha", "beta & co", "gamma"])
            #expect(plot.series.map(\.points.count) == [2, 3, 0])
            let path = directory.appendingPathComponent("plot.svg").path
            try results.writeAccuracyPlot(to: path)
            let svg = try String(contentsOfFile: path, encoding: .utf8)
            // The file is a whole document (written through, not cut short).
            #expect(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"), "\(svg.prefix(40))")
            #expect(svg.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("</svg>"))
            #expect(svg.contains("beta &amp; co") && !svg.contains("beta & co"))

            #if canImport(FoundationXML)
            let document = try XMLDocument(data: Data(svg.utf8))
            let root = try #require(document.rootElement())
            #expect(root.name == "svg")
            let polylines = elements(named: "polyline", in: root)
            // attribute(forName:) misses attributes of namespaced elements in swift-corelibs-foundation.
            let pointLists = polylines.compactMap { $0.attributes?.first { $0.name == "points" }?.stringValue }
            let titles = polylines.map { $0.stringValue ?? "" }
            let texts = elements(named: "text", in: root).compactMap(\.stringValue)
            #expect(texts.contains("beta & co") && texts.contains("gamma (not evaluated)") && texts.contains("round"))
            #expect(titles == ["alpha", "beta & co"])
            #else
            let pointLists = svg.split(separator: "\n").filter { $0.hasPrefix("<polyline") }.compactMap { line in
                line.split(separator: "points=\"").last?.split(separator: "\"").first.map(String.init)
            }
            #expect(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n"))
            #endif
            try #require(pointLists.map { $0.split(separator: " ").count } == [2, 3])
            // Points are "x,y" in the plot area: rounds 2 and 4 of a 0…4 axis, 1/3 and 2/3 accuracy.
            let alpha = pointLists[0].split(separator: " ").map { $0.split(separator: ",").map { Double($0)! } }
            #expect(alpha[0][0] < alpha[1][0] && alpha[0][1] > alpha[1][1])
            #expect(abs((alpha[1][0] - alpha[0][0]) - (alpha[0][0] - 70)) < 0.02, "round 2 is half-way to round 4")
        }
    }

    @Test("Round ticks step by 1, 2 or 5 times a power of ten, at most 10 intervals, the last at or after the last round",
          arguments: [(4, [0, 1, 2, 3, 4]), (11, [0, 2, 4, 6, 8, 10, 12]), (37, [0, 5, 10, 15, 20, 25, 30, 35, 40]),
                      (1000, [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000])])
    func ticks(lastRound: Int, expected: [Int]) {
        #expect(AccuracyPlot.roundTicks(upTo: lastRound) == expected)
    }

    @Test("A plot without curves is still a complete document")
    func emptyPlot() {
        let svg = AccuracyPlot(series: [], title: "empty").svg()
        #expect(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n") && !svg.contains("<polyline"))
    }
}

#if canImport(FoundationXML)
/// Every element called `name` below `element`, in document order.
private func elements(named name: String, in element: XMLElement) -> [XMLElement] {
    (element.children ?? []).compactMap { $0 as? XMLElement }.flatMap { child in
        (child.name == name ? [child] : []) + elements(named: name, in: child)
    }
}
#endif
