import Foundation
import NN
import Platform

/// Writes one simulated run into a results file as it goes: metadata and status (`running` until it completes or
/// fails), the device table, one metrics row per round flushed after the round, and checkpoints in PyTorch names
/// every `checkpointInterval` rounds and after the last one.
public final class RunRecorder {
    public let record: RunRecord
    private let checkpointInterval: Int

    /// Creates the run group `name` in `results` for `simulation`.
    public init(results: ResultsFile, name: String, simulation: Simulation, checkpointInterval: Int, toolVersion: String) throws {
        let configuration = simulation.configuration
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(configuration), as: UTF8.self)
        record = try results.createRun(name, specification: RunSpecification(
            strategy: configuration.strategy, dataset: configuration.dataset, model: configuration.model,
            seed: Int64(bitPattern: configuration.seed), configuration: json, toolVersion: toolVersion))
        self.checkpointInterval = max(1, checkpointInterval)
        let groups = simulation.population.mix.groups.map(\.name)
        try record.writeDevices(DeviceTable(devices: (0..<simulation.population.deviceCount).map { device in
            DeviceRecord(id: device, group: groups[simulation.population.groupOfDevice[device]],
                         samples: simulation.partition.sampleIndices[device].count,
                         classHistogram: simulation.partition.classHistograms[device])
        }, groupNames: groups))
    }

    /// Appends the round's metrics (evaluation columns are NaN in rounds without evaluation) and checkpoints.
    public func append(_ metrics: RoundMetrics, simulation: Simulation) throws {
        var values: [String: Double] = [
            "learning_rate": metrics.learningRate, "participants": Double(metrics.participants),
            "skipped": Double(metrics.skippedCount), "upload_bytes": Double(metrics.uploadBytes),
            "device_time_ratio": metrics.meanDeviceTimeRatio, "device_memory_ratio": metrics.meanDeviceMemoryRatio,
            "training_loss": metrics.trainingLoss, "seconds": metrics.seconds,
        ]
        if let evaluation = metrics.evaluation {
            values["accuracy"] = evaluation.accuracy
            values["loss"] = evaluation.loss
            values["group_gap"] = evaluation.groupGap
            for (group, accuracy) in evaluation.perGroupAccuracy { values["accuracy_\(group)"] = accuracy }
            for (index, accuracy) in evaluation.perClassAccuracy.enumerated() { values["accuracy_class_\(index)"] = accuracy }
        }
        try record.appendMetrics(round: metrics.round, values: values)
        if metrics.round % checkpointInterval == 0 || metrics.round == simulation.configuration.rounds {
            try record.writeCheckpoint(round: metrics.round, parameters: simulation.global.exported(),
                                       keepLast: 2)
        }
    }

    /// Marks the run complete.
    public func complete() throws { try record.setStatus(.complete) }

    /// Marks the run failed with the error's message.
    public func fail(_ error: Error) throws { try record.setStatus(.failed, message: "\(error)") }
}
