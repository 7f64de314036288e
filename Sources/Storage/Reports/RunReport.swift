import Foundation

/// One round of a run's curves, as cocofl inspect prints it for one run; nil where the run recorded nothing (NaN).
public struct RunCurveRow: Codable, Sendable, Equatable {
    /// The 1-based round.
    public let round: Int
    /// Test accuracy; nil in rounds without evaluation.
    public let accuracy: Double?
    /// Test loss; nil in rounds without evaluation.
    public let loss: Double?
    /// Accuracy on each device group's class mix, by group name (evaluation rounds only).
    public let groupAccuracy: [String: Double]
    /// Best minus worst group accuracy.
    public let groupGap: Double?
    /// Sampled devices that trained.
    public let participants: Int?
    /// Sampled devices that could not take part.
    public let skipped: Int?
    /// fp32 bytes uploaded in this round.
    public let uploadBytes: Double?
    /// fp32 bytes uploaded in all rounds up to and including this one (rounds without a value count as 0).
    public let cumulativeUploadBytes: Double
    /// Mean profiled time of the participants' work, as a fraction of full training.
    public let deviceTimeRatio: Double?
    /// Wall-clock seconds of the round.
    public let seconds: Double?

    /// Whether the round was evaluated.
    public var isEvaluated: Bool { accuracy != nil }
}

/// A run's metadata and curves: what cocofl inspect shows for one run.
public struct RunReport: Codable, Sendable {
    /// The run's name.
    public let name: String
    /// The strategy id.
    public let strategy: String
    /// The dataset id.
    public let dataset: String
    /// The model id.
    public let model: String
    /// The run's seed (a UInt64 seed stored by its bit pattern).
    public let seed: Int64
    /// running, complete or failed.
    public let status: String
    /// Why it failed, or a note; empty when there is none.
    public let statusMessage: String
    /// When the run started.
    public let startedAt: Date
    /// When the run completed or failed; nil while it runs.
    public let finishedAt: Date?
    /// The cocofl version that ran it.
    public let toolVersion: String
    /// Rounds with a complete checkpoint, ascending.
    public let checkpointRounds: [Int]
    /// Device group names: the device table's order, or strong/medium/weak first when the run has no table.
    public let groupNames: [String]
    /// One row per recorded round (or per evaluated round, see `ResultsFile.report(run:evaluatedRoundsOnly:)`).
    public let rows: [RunCurveRow]
}

extension ResultsFile {
    /// The metadata and curves of run `name`; with `evaluatedRoundsOnly`, rows of rounds without evaluation are
    /// left out (their upload still counts in `cumulativeUploadBytes`).
    public func report(run name: String, evaluatedRoundsOnly: Bool = true) throws -> RunReport {
        let record = try openRun(name)
        let metadata = try record.metadata()
        let columns = try record.metrics()
        let rounds = columns[ResultsLayout.roundMetric] ?? []
        let groupNames = try record.hasDevices() ? record.devices().groupNames : MetricNames.groups(in: columns.keys)
        func value(_ key: String, _ row: Int) -> Double? {
            guard let column = columns[key], row < column.count, !column[row].isNaN else { return nil }
            return column[row]
        }
        var cumulative = 0.0
        var rows: [RunCurveRow] = []
        for row in rounds.indices {
            let upload = value("upload_bytes", row)
            cumulative += upload ?? 0
            let accuracy = value("accuracy", row)
            if evaluatedRoundsOnly && accuracy == nil { continue }
            var groups: [String: Double] = [:]
            for group in groupNames { groups[group] = value(MetricNames.groupAccuracy(group), row) }
            rows.append(RunCurveRow(
                round: Int(rounds[row]), accuracy: accuracy, loss: value("loss", row), groupAccuracy: groups,
                groupGap: value("group_gap", row), participants: value("participants", row).map { Int($0) },
                skipped: value("skipped", row).map { Int($0) }, uploadBytes: upload, cumulativeUploadBytes: cumulative,
                deviceTimeRatio: value("device_time_ratio", row), seconds: value("seconds", row)))
        }
        let specification = metadata.specification
        return RunReport(
            name: name, strategy: specification.strategy, dataset: specification.dataset, model: specification.model,
            seed: specification.seed, status: metadata.status.rawValue, statusMessage: metadata.statusMessage,
            startedAt: metadata.startedAt, finishedAt: metadata.finishedAt, toolVersion: specification.toolVersion,
            checkpointRounds: try record.checkpointRounds(), groupNames: groupNames,
            rows: rows)
    }
}

/// The metric names `RunRecorder` writes that readers pick apart.
enum MetricNames {
    static let groupPrefix = "accuracy_"
    static let classPrefix = "accuracy_class_"

    /// The column of a group's accuracy.
    static func groupAccuracy(_ group: String) -> String { groupPrefix + group }

    /// The group names that have an accuracy column among `names`.
    static func groups(in names: some Sequence<String>) -> [String] {
        DeviceGroupOrder.sorted(names.filter { $0.hasPrefix(groupPrefix) && !$0.hasPrefix(classPrefix) }
            .map { String($0.dropFirst(groupPrefix.count)) })
    }
}

/// The order device groups are listed in tables: strong, medium, weak (the reference groups, strongest first), then
/// other groups alphabetically.
public enum DeviceGroupOrder {
    /// `groups` in table order.
    public static func sorted(_ groups: some Sequence<String>) -> [String] {
        let rank = ["strong": "0", "medium": "1", "weak": "2"]
        return groups.sorted { (rank[$0] ?? "3" + $0) < (rank[$1] ?? "3" + $1) }
    }
}
