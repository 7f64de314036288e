import ArgumentParser
import Foundation
import Storage

/// `cocofl inspect`: the comparison table of a results file, one run's curves, CSV export and an accuracy plot.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print the comparison table of an HDF5 results file, or one run's curves; export CSV and an SVG plot.",
        discussion: """
            Without options: one row per run (final and best accuracy, per-group accuracy, gap, upload, …), then the \
            seed groups: runs whose configurations differ only in the seed, with mean, sample standard deviation and \
            95 % Student-t confidence interval of final, best and per-group accuracy and the gap over their seeds.
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

    @Flag(help: "With --plot: one mean curve per seed group with its 95 % confidence band, instead of one curve per run.")
    var seedGroups = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        if allRounds && runName == nil {
            throw ValidationError("--all-rounds applies to --run NAME; add --run")
        }
        if seedGroups && plot == nil {
            throw ValidationError("--seed-groups applies to --plot FILE.svg; add --plot")
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
            try results.writeAccuracyPlot(to: plot, bySeedGroup: seedGroups)
            report("wrote \(plot)")
        }
        if let runName {
            let report = try results.report(run: runName, evaluatedRoundsOnly: !allRounds)
            print(json ? try Self.encode(report) : Self.text(report))
            return
        }
        guard csv == nil && plot == nil else { return }
        let table = try results.comparisonTable()
        if json {
            print(try Self.encode(table))
            return
        }
        guard !table.runs.isEmpty else {
            print("\(file): no runs" + (table.notStarted.isEmpty ? "" : "; not started yet: " + table.notStarted.joined(separator: ", ")))
            return
        }
        print(Self.text(table))
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

    /// The comparison table followed by the seed groups.
    static func text(_ table: ComparisonTable) -> String {
        self.table(table.runs) + "\n\n" + seedTable(table.seedGroups)
            + (table.notStarted.isEmpty ? "" : "\n\nnot started yet (\(table.notStarted.count)): " + table.notStarted.joined(separator: ", "))
            + table.unreadableConfigurations.keys.sorted().map { "\n\nrun \($0): its configuration cannot be read, so it has no α and no seed group: "
                                                               + table.unreadableConfigurations[$0]! }.joined()
    }

    /// One line per seed group and metric: seeds, mean, s and the 95 % interval (or why there is none).
    static func seedTable(_ groups: [SeedGroup]) -> String {
        var text = "Seed groups (runs that differ only in seed; complete runs only): mean, sample standard deviation s, "
            + "95 % confidence interval mean ± t(0.975, n−1)·s/√n\n"
        var lines = [["group", "seeds", "metric", "mean %", "s", "95 % CI", "±"]]
        var incomplete: [String] = []
        for group in groups {
            var metrics: [(String, SeedStatistics?)] = [("final", group.finalAccuracy), ("best", group.bestAccuracy)]
            metrics += DeviceGroupOrder.sorted(group.groupAccuracy.keys).map { ($0, group.groupAccuracy[$0]) }
            metrics.append(("worst group", group.worstGroupAccuracy))
            metrics.append(("gap", group.groupGap))
            for (index, (metric, statistics)) in metrics.enumerated() {
                var line = index == 0 ? [group.name, String(group.seeds.count)] : ["", ""]
                line.append(metric)
                if let statistics {
                    line.append(percent(statistics.mean))
                    if let s = statistics.standardDeviation, let lower = statistics.lower95, let upper = statistics.upper95,
                       let half = statistics.halfWidth95 {
                        line += [number(100 * s, "%.2f"), percent(lower) + " … " + percent(upper), number(100 * half, "%.2f")]
                    } else {
                        line += ["—", "needs ≥ 2 seeds", "—"]
                    }
                } else {
                    line += ["—", "—", "—", "—"]
                }
                lines.append(line)
            }
            incomplete += group.incompleteRuns
        }
        text += align(lines)
        if !incomplete.isEmpty { text += "\nleft out, not complete: " + incomplete.joined(separator: ", ") }
        return text
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

    /// Left-aligned columns two spaces apart; trailing spaces are dropped, leading ones kept (empty first cells).
    private static func align(_ lines: [[String]]) -> String {
        let widths = (0..<(lines.first?.count ?? 0)).map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { line in
            var text = zip(line, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
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
