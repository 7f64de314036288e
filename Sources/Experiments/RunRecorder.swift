import Foundation
import NN
import Platform
import Storage

/// Writes one simulated run into a results file as it goes: metadata and status (`running` until it completes or
/// fails), the device table, one metrics row per round flushed after the round, and checkpoints in PyTorch names
/// every `checkpointInterval` rounds and after the last one.
public final class RunRecorder {
    public let record: RunRecord
    private let checkpointInterval: Int

    /// Creates the run group `name` in `results` for `simulation`: metadata, the device table and the profile.
    public init(results: ResultsFile, name: String, simulation: Simulation, checkpointInterval: Int, toolVersion: String) throws {
        let configuration = simulation.configuration
        record = try results.createRun(name, specification: RunSpecification(
            strategy: configuration.strategy, dataset: configuration.dataset, model: configuration.model,
            seed: Int64(bitPattern: configuration.seed), configuration: try RunRecord.configurationJSON(configuration), toolVersion: toolVersion))
        self.checkpointInterval = max(1, checkpointInterval)
        let groups = simulation.population.mix.groups.map(\.name)
        try record.writeDevices(DeviceTable(devices: (0..<simulation.population.deviceCount).map { device in
            DeviceRecord(id: device, group: groups[simulation.population.groupOfDevice[device]],
                         samples: simulation.partition.sampleIndices[device].count,
                         classHistogram: simulation.partition.classHistograms[device])
        }, groupNames: groups))
        try record.writeProfile(simulation.profile)
    }

    /// Continues recording an interrupted run (status `running` or `failed`) into its existing group. The caller
    /// restored `simulation` from `checkpoint` (nil: the run had none and starts from round 0); metric rows and
    /// checkpoints after it belong to the abandoned continuation and are removed here.
    public init(resuming record: RunRecord, from checkpoint: Checkpoint?, checkpointInterval: Int) throws {
        self.record = record
        self.checkpointInterval = max(1, checkpointInterval)
        let round = checkpoint?.round ?? 0
        try record.discardMetrics(afterRound: round)
        try record.discardCheckpoints(afterRound: round)
        try record.setStatus(.running)
    }

    /// The resume state of a checkpoint written by this recorder; throws, naming the attribute, when it lacks one.
    public static func resumeState(of checkpoint: Checkpoint, record: RunRecord) throws -> Simulation.ResumeState {
        func integer(_ name: String) throws -> Int64 {
            guard case .int64(let value)? = checkpoint.state[name] else {
                throw ResultsError(kind: .damaged, filePath: record.results.path,
                                   objectPath: "\(record.path)/checkpoints/round_\(checkpoint.round)",
                                   reason: "the checkpoint has no integer attribute '\(name)', so the run cannot resume from it; restart the run")
            }
            return value
        }
        return Simulation.ResumeState(completedRounds: checkpoint.round,
                                      samplingState: UInt64(bitPattern: try integer(Self.samplingStateKey)),
                                      limitsState: UInt64(bitPattern: try integer(Self.limitsStateKey)))
    }

    static let samplingStateKey = "sampling_generator_state"
    static let limitsStateKey = "limits_generator_state"

    /// Appends the round's metrics (evaluation columns are NaN in rounds without evaluation) and checkpoints.
    public func append(_ metrics: RoundMetrics, simulation: Simulation) throws {
        var values: [String: Double] = [
            "learning_rate": metrics.learningRate, "participants": Double(metrics.participants),
            "skipped": Double(metrics.skippedCount), "dropped_nonfinite": Double(metrics.droppedNonFinite),
            "upload_bytes": Double(metrics.uploadBytes),
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
            try checkpoint(simulation, learningRate: metrics.learningRate)
        }
    }

    /// Writes a checkpoint of the simulation's last completed round (global parameters and resume state).
    private func checkpoint(_ simulation: Simulation, learningRate: Double) throws {
        let state = simulation.resumeState
        try record.writeCheckpoint(round: state.completedRounds, parameters: simulation.global.exported(), state: [
            Self.samplingStateKey: .int64(Int64(bitPattern: state.samplingState)),
            Self.limitsStateKey: .int64(Int64(bitPattern: state.limitsState)),
            "learning_rate": .double(learningRate),
        ], keepLast: 2)
    }

    /// Marks the run `interrupted` after its last completed round, first checkpointing that round unless it has
    /// a checkpoint already, so that a re-run resumes exactly there.
    public func interrupt(_ simulation: Simulation) throws {
        let round = simulation.completedRounds
        if round > 0, try !record.checkpointRounds().contains(round) {
            try checkpoint(simulation, learningRate: simulation.configuration.learningRate(round: round))
        }
        try record.setStatus(.interrupted, message: "after round \(round) of \(simulation.configuration.rounds)")
    }

    /// Marks the run complete.
    public func complete() throws { try record.setStatus(.complete) }

    /// Marks the run failed with the error's message.
    public func fail(_ error: Error) throws { try record.setStatus(.failed, message: "\(error)") }
}
