import ArgumentParser
import Foundation
import Storage

/// `cocofl inspect`: the comparison table of a results file.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print the comparison table of an HDF5 results file (one row per run).")

    @Argument(help: "The results file (.h5).")
    var file: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard FileManager.default.fileExists(atPath: file) else {
            throw ValidationError("results file '\(file)' does not exist; write one with cocofl run --out \(file)")
        }
    }

    func run() throws {
        let rows = try ResultsFile(path: file, access: .readOnly).comparison()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        guard !rows.isEmpty else { print("\(file): no runs"); return }
        print(Self.table(rows))
    }

    static func table(_ rows: [ComparisonRow]) -> String {
        let groups = Array(Set(rows.flatMap { $0.groupAccuracy.keys })).sorted { order($0) < order($1) }
        func percent(_ value: Double?) -> String { value.map { String(format: "%.1f", 100 * $0) } ?? "—" }
        var header = ["strategy", "dataset", "model", "α", "seed", "rounds", "final %", "best %"]
        header += groups.map { "\($0) %" } + ["gap", "upload MB", "dev. time", "s/round", "status"]
        var lines = [header]
        for r in rows {
            var line = [r.strategy, r.dataset, r.model, r.alpha.map { String($0) } ?? "—", String(r.seed), String(r.rounds),
                        percent(r.finalAccuracy), percent(r.bestAccuracy)]
            line += groups.map { percent(r.groupAccuracy[$0]) }
            line += [percent(r.groupGap), String(format: "%.1f", r.uploadBytes / 1e6),
                     r.meanDeviceTimeRatio.map { String(format: "%.2f", $0) } ?? "—",
                     r.secondsPerRound.map { String(format: "%.2f", $0) } ?? "—",
                     r.status + (r.statusMessage.isEmpty ? "" : ": \(r.statusMessage)")]
            lines.append(line)
        }
        let widths = (0..<header.count).map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { line in
            zip(line, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// strong, medium, weak first, then other groups alphabetically.
    private static func order(_ group: String) -> String {
        ["strong": "0", "medium": "1", "weak": "2"][group] ?? "3" + group
    }
}
