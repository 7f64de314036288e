import ArgumentParser
import Foundation
import Storage

/// `cocofl inspect`: the comparison table of a results file, one run's curves, CSV export and an accuracy plot.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print the comparison table of an HDF5 results file, or one run's curves; export CSV and an SVG plot.",
        discussion: """
            Without options: one row per run (final and best accuracy, per-group accuracy, gap, upload, …).
            --run NAME: the run's metadata (strategy, dataset, model, seed, status, start and end, tool version, \
            checkpoints) and its curves, one row per evaluated round (rounds without evaluation are left out unless \
            --all-rounds is given; their missing values show as "—"). "upload MB" is the round's upload, "total MB" \
            the upload of all rounds so far, "dev. time" the participants' mean time as a fraction of full training.
            --csv DIR writes DIR/<run>.csv per run (header "round" then the metric names sorted; a metric not \
            recorded in a round is an empty field). --plot FILE.svg draws test accuracy against round for every run. \
            With --csv or --plot the written files are listed instead of the comparison table.
            """)

    @Argument(help: "The results file (.h5).")
    var file: String

    @Option(name: .customLong("run"), help: ArgumentHelp("Show this run's metadata and curves.", valueName: "name"))
    var runName: String?

    @Flag(help: "With --run: list every recorded round, not only the evaluated ones.")
    var allRounds = false

    @Option(help: ArgumentHelp("Write one CSV file of metrics per run into this directory (created if missing).", valueName: "dir"))
    var csv: String?

    @Option(help: ArgumentHelp("Write an SVG plot of accuracy against round for all runs to this file.", valueName: "file.svg"))
    var plot: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        if allRounds && runName == nil {
            throw ValidationError("--all-rounds applies to --run NAME; add --run")
        }
    }

    func run() throws {
        try MissingResultsFile.check(file)
        let results = try ResultsFile(path: file, access: .readOnly)
        if let csv {
            let paths = try results.exportMetricsCSV(to: csv)
            report(paths.isEmpty ? "\(file) holds no runs; created \(csv) without files" : "wrote " + paths.joined(separator: ", "))
        }
        if let plot {
            try results.writeAccuracyPlot(to: plot)
            report("wrote \(plot)")
        }
        if let runName {
            let report = try results.report(run: runName, evaluatedRoundsOnly: !allRounds)
            print(json ? try Self.encode(report) : Self.text(report))
            return
        }
        guard csv == nil && plot == nil else { return }
        let rows = try results.comparison()
        if json {
            print(try Self.encode(rows))
            return
        }
        guard !rows.isEmpty else { print("\(file): no runs"); return }
        print(Self.table(rows))
    }

    /// Lists a written file: on standard output, unless that carries JSON.
    private func report(_ line: String) {
        if json { standardError(line) } else { print(line) }
    }

    static func encode<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    // MARK: Comparison table

    static func table(_ rows: [ComparisonRow]) -> String {
        let groups = DeviceGroupOrder.sorted(Set(rows.flatMap { $0.groupAccuracy.keys }))
        var header = ["run", "strategy", "dataset", "model", "α", "seed", "rounds", "final %", "best %"]
        header += groups.map { "\($0) %" } + ["gap", "upload MB", "dev. time", "s/round", "status"]
        var lines = [header]
        for r in rows {
            var line = [r.run, r.strategy, r.dataset, r.model, r.alpha.map { String($0) } ?? "—", String(r.seed), String(r.rounds),
                        percent(r.finalAccuracy), percent(r.bestAccuracy)]
            line += groups.map { percent(r.groupAccuracy[$0]) }
            line += [percent(r.groupGap), String(format: "%.1f", r.uploadBytes / 1e6),
                     r.meanDeviceTimeRatio.map { String(format: "%.2f", $0) } ?? "—",
                     r.secondsPerRound.map { String(format: "%.2f", $0) } ?? "—",
                     r.status + (r.statusMessage.isEmpty ? "" : ": \(r.statusMessage)")]
            lines.append(line)
        }
        return align(lines)
    }

    // MARK: One run

    static func text(_ report: RunReport) -> String {
        let formatter = ISO8601DateFormatter()
        func time(_ date: Date) -> String { formatter.string(from: date) }
        var status = report.status + (report.statusMessage.isEmpty ? "" : " (\(report.statusMessage))")
        status += ", started \(time(report.startedAt))"
        if let finished = report.finishedAt { status += ", finished \(time(finished))" }
        let checkpoints = report.checkpointRounds.isEmpty ? "none" : "rounds " + report.checkpointRounds.map(String.init).joined(separator: ", ")
        var text = align([
            ["run", report.name], ["strategy", report.strategy], ["dataset", report.dataset], ["model", report.model],
            ["seed", String(report.seed)], ["status", status], ["cocofl", report.toolVersion], ["checkpoints", checkpoints],
        ]) + "\n\n"
        guard !report.rows.isEmpty else { return text + "no rounds to show (rounds without evaluation appear with --all-rounds)" }
        let groups = report.groupNames
        var header = ["round", "acc %", "loss"] + groups.map { "\($0) %" }
        header += ["gap", "devices", "skipped", "upload MB", "total MB", "dev. time", "s"]
        var lines = [header]
        for row in report.rows {
            var line = [String(row.round), percent(row.accuracy), number(row.loss, "%.3f")]
            line += groups.map { percent(row.groupAccuracy[$0]) }
            line += [percent(row.groupGap), row.participants.map(String.init) ?? "—", row.skipped.map(String.init) ?? "—",
                     number(row.uploadBytes.map { $0 / 1e6 }, "%.2f"), String(format: "%.2f", row.cumulativeUploadBytes / 1e6),
                     number(row.deviceTimeRatio, "%.2f"), number(row.seconds, "%.2f")]
            lines.append(line)
        }
        text += align(lines)
        return text
    }

    // MARK: Formatting

    private static func percent(_ value: Double?) -> String { number(value.map { 100 * $0 }, "%.1f") }

    private static func number(_ value: Double?, _ format: String) -> String {
        value.map { String(format: format, $0) } ?? "—"
    }

    /// Left-aligned columns two spaces apart.
    private static func align(_ lines: [[String]]) -> String {
        let widths = (0..<(lines.first?.count ?? 0)).map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { line in
            zip(line, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}

/// A results file that does not exist. Thrown from `run()` rather than `validate()`, so that the error is one line
/// without the usage text.
struct MissingResultsFile: Error, CustomStringConvertible {
    let path: String

    var description: String { "results file '\(path)' does not exist; write one with cocofl run --out \(path)" }

    /// Throws unless `path` exists.
    static func check(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw MissingResultsFile(path: path) }
    }
}
