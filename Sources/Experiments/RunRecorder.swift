import Foundation
import NN
import Platform
import Storage

/// Writes one simulated run into its results file as it goes: metadata and status (`running` until it completes
/// or fails), the device table, one metrics row per round flushed after the round, and checkpoints in PyTorch names
/// every `checkpointInterval` rounds and after the last one.
///
/// The recorder holds the run's `RunWriterLock` for its whole life, but opens the HDF5 file only while it writes
/// (once per round): between rounds nothing holds HDF5's lock, so h5py, h5dump and `cocofl inspect` can read every
/// finished round while the run goes on.
public final class RunRecorder {
    /// The results file that holds the run: its own run file, or the campaign file for a run stored inside it.
    public let file: String
    /// The run's name.
    public let name: String
    private let checkpointInterval: Int
    private let lock: RunWriterLock

    /// Creates the run `name` in the results file `file` (created when missing, e.g. a new run file) for
    /// `simulation`: metadata, the device table and the profile. `lockFile` is the run file whose lock is taken.
    public init(creating name: String, in file: String, lockFile: String, simulation: Simulation, checkpointInterval: Int,
                toolVersion: String) throws {
        self.file = file
        self.name = name
        self.checkpointInterval = max(1, checkpointInterval)
        lock = try RunWriterLock(runFile: lockFile, run: name)
        let configuration = simulation.configuration
        let specification = RunSpecification(
            strategy: configuration.strategy, dataset: configuration.dataset, model: configuration.model,
            seed: Int64(bitPattern: configuration.seed), configuration: try RunRecord.configurationJSON(configuration), toolVersion: toolVersion)
        let groups = simulation.population.mix.groups.map(\.name)
        let devices = DeviceTable(devices: (0..<simulation.population.deviceCount).map { device in
            DeviceRecord(id: device, group: groups[simulation.population.groupOfDevice[device]],
                         samples: simulation.partition.sampleIndices[device].count,
                         classHistogram: simulation.partition.classHistograms[device])
        }, groupNames: groups)
        try Self.writing(file, access: .createOrAppend(toolVersion: toolVersion)) { results in
            let record = try results.createRun(name, specification: specification)
            try record.writeDevices(devices)
            try record.writeProfile(simulation.profile)
        }
    }

    /// Continues recording an interrupted run (status `running`, `interrupted` or `failed`) stored in `file`. The
    /// caller restored `simulation` from `checkpoint` (nil: the run had none and starts from round 0); metric rows
    /// and checkpoints after it belong to the abandoned continuation and are removed here.
    public init(resuming name: String, in file: String, lockFile: String, from checkpoint: Checkpoint?, checkpointInterval: Int) throws {
        self.file = file
        self.name = name
        self.checkpointInterval = max(1, checkpointInterval)
        lock = try RunWriterLock(runFile: lockFile, run: name)
        let round = checkpoint?.round ?? 0
        try withRecord { record in
            try record.discardMetrics(afterRound: round)
            try record.discardCheckpoints(afterRound: round)
            try record.setStatus(.running)
        }
    }

    /// Opens the run's file, hands `body` the run, flushes and closes the file again.
    public func withRecord<T>(_ body: (RunRecord) throws -> T) throws -> T {
        try Self.writing(file, access: .continueWriting) { try body(try $0.openRun(name)) }
    }

    /// `body` on the results file `path` opened for writing, then flushed and closed. After a failed write the
    /// file is never closed (libhdf5 crashes closing a file whose cache failed to flush): it stays open until the
    /// process ends, and what was flushed before is what the file keeps.
    private static func writing<T>(_ path: String, access: ResultsFile.Access, _ body: (ResultsFile) throws -> T) throws -> T {
        let results = try ResultsFile(path: path, access: access)
        do {
            let value = try body(results)
            try results.flush()
            return value
        } catch let error as HDF5Error where error.isWriteFailure {
            // Leaked on purpose: never released, so never closed.
            _ = Unmanaged.passRetained(results)
            throw error
        }
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
        try withRecord { record in
            try record.appendMetrics(round: metrics.round, values: values)
            if metrics.round % checkpointInterval == 0 || metrics.round == simulation.configuration.rounds {
                try checkpoint(simulation, learningRate: metrics.learningRate, into: record)
            }
        }
    }

    /// Writes a checkpoint of the simulation's last completed round (global parameters and resume state).
    private func checkpoint(_ simulation: Simulation, learningRate: Double, into record: RunRecord) throws {
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
        try withRecord { record in
            if round > 0, try !record.checkpointRounds().contains(round) {
                try checkpoint(simulation, learningRate: simulation.configuration.learningRate(round: round), into: record)
            }
            try record.setStatus(.interrupted, message: "after round \(round) of \(simulation.configuration.rounds)")
        }
    }

    /// Marks the run complete.
    public func complete() throws { try withRecord { try $0.setStatus(.complete) } }

    /// Marks the run failed with the error's message.
    public func fail(_ error: Error) throws { try withRecord { try $0.setStatus(.failed, message: "\(error)") } }
}
