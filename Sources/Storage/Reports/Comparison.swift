import Foundation
import Platform

/// One row of the comparison table of a results file.
public struct ComparisonRow: Codable, Sendable {
    public let run: String
    public let strategy: String
    public let dataset: String
    public let model: String
    /// Dirichlet α of the partition, nil for other partitions.
    public let alpha: Double?
    public let seed: Int64
    public let rounds: Int
    public let finalAccuracy: Double?
    public let bestAccuracy: Double?
    /// Final accuracy on each device group's data distribution.
    public let groupAccuracy: [String: Double]
    public let groupGap: Double?
    /// The lowest of the final group accuracies (fairness: how the worst-served group fares).
    public var worstGroupAccuracy: Double? { groupAccuracy.values.min() }
    public let uploadBytes: Double
    /// Mean over rounds of the participants' profiled time, as a fraction of full training.
    public let meanDeviceTimeRatio: Double?
    public let secondsPerRound: Double?
    public let status: String
    public let statusMessage: String
}

extension ResultsFile {
    /// What a `running` status means right now: a live writer, or a process that ended without finishing.
    func runningNote(_ name: String, status: RunStatus) throws -> String? {
        guard status == .running else { return nil }
        if let writer = try liveWriter(ofRun: name) { return "now, \(writer)" }
        return "not now: its process ended without finishing; run the campaign again to resume it"
    }

    /// The comparison table: one row per run, in run-name order; α comes from each run's configuration
    /// (`configurations`, nil for a run whose configuration could not be read).
    func comparison(configurations: [String: RunConfiguration]) throws -> [ComparisonRow] {
        try runNames().map { name in
            let record = try openRun(name)
            let metadata = try record.metadata()
            let metrics = try record.metrics()
            let configuration = configurations[name]
            let alpha = configuration.flatMap { PartitionScheme.usesAlpha($0.partitionName) ? $0.alpha : nil }
            func column(_ key: String) -> [Double] { (metrics[key] ?? []).filter { !$0.isNaN } }
            let accuracy = column("accuracy")
            let groups = metrics.keys.filter { $0.hasPrefix("accuracy_") && !$0.hasPrefix("accuracy_class_") }
            let groupAccuracy = Dictionary(uniqueKeysWithValues: groups.compactMap { key in
                column(key).last.map { (String(key.dropFirst("accuracy_".count)), $0) }
            })
            let time = column("device_time_ratio"), seconds = column("seconds")
            return ComparisonRow(
                run: name, strategy: metadata.specification.strategy, dataset: metadata.specification.dataset,
                model: metadata.specification.model, alpha: alpha, seed: metadata.specification.seed,
                rounds: column("round").count, finalAccuracy: accuracy.last, bestAccuracy: accuracy.max(),
                groupAccuracy: groupAccuracy, groupGap: column("group_gap").last, uploadBytes: column("upload_bytes").reduce(0, +),
                meanDeviceTimeRatio: time.isEmpty ? nil : time.reduce(0, +) / Double(time.count),
                secondsPerRound: seconds.isEmpty ? nil : seconds.reduce(0, +) / Double(seconds.count),
                status: metadata.status.rawValue, statusMessage: try runningNote(name, status: metadata.status) ?? metadata.statusMessage)
        }
    }
}
