import CoCoFLCore
import Dispatch
import Foundation
import NN
import Platform
import Storage

/// Something the campaign runner reports while it works, for progress displays.
public enum CampaignEvent: Codable, Sendable {
    /// A run is complete in the file with the same configuration and is not run again.
    case skipped(index: Int, total: Int, name: String)
    /// A run starts: from round 0, or after the checkpointed round `resumingAfterRound`.
    case starting(index: Int, total: Int, name: String, resumingAfterRound: Int?)
    /// A step before the first round, e.g. profiling.
    case message(String)
    /// A round of run `index` finished; `remainingSeconds` estimates the rest of the campaign.
    case round(index: Int, total: Int, name: String, metrics: RoundMetrics, rounds: Int, remainingSeconds: Double?)
    /// A run ended (`complete` or `failed` with the message).
    case finished(index: Int, total: Int, name: String, status: RunStatus, message: String)
}

/// Something that follows the runs of a campaign runner from outside, e.g. MPI rank 0 making the other ranks train
/// their share of every round: told when a run is about to run its rounds (its simulation built and resumed), and
/// when the run has ended however it ended.
public protocol RunCoordinator: AnyObject {
    /// `simulation` is about to run its rounds; the coordinator may set its executor.
    func willRun(_ simulation: Simulation) throws
    /// The run that `willRun` announced has ended (complete, interrupted, failed or stopped by an error).
    func runEnded()
}

/// What a campaign did.
public struct CampaignOutcome: Sendable, Equatable {
    /// Runs that ran to completion in this invocation.
    public var completed: [String] = []
    /// Runs that were already complete.
    public var skipped: [String] = []
    /// Runs that failed, with their messages.
    public var failed: [String: String] = [:]
    /// The run that was stopped by `stopRequested` and the last round it completed (checkpointed, status
    /// `interrupted`); later runs were not started.
    public var interrupted: (run: String, afterRound: Int)?

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.completed == rhs.completed && lhs.skipped == rhs.skipped && lhs.failed == rhs.failed
            && lhs.interrupted?.run == rhs.interrupted?.run && lhs.interrupted?.afterRound == rhs.interrupted?.afterRound
    }
}

/// Executes a campaign's runs: skips runs that are complete with the same configuration, resumes interrupted
/// (`running`) or `failed` ones from their newest checkpoint, starts the others; a run that throws is recorded as
/// `failed` and the campaign goes on with the next one. Everything that can be checked before the first round
/// (strategy ids, datasets, clashes with runs already recorded) is checked up front, so a bad campaign fails in
/// seconds and writes nothing.
///
/// Each new run is written to its own run file `NAME.runs/<run>.h5`, linked from the campaign file `NAME.h5`
/// (`ResultsFile.runFilePath`); runs stored inside an older campaign file continue there. Files are opened only
/// while they are written, so every one can be read while the campaign runs.
public final class CampaignRunner {
    /// How each run of the campaign will start.
    public enum Start: Equatable, Sendable {
        case fresh
        case resume
        case skip
    }

    private let runs: [CampaignRun]
    private let catalog: StrategyCatalog
    private let datasets: DatasetCatalog
    private let toolVersion: String
    private let restart: Bool
    private let writesProfileTables: Bool
    private var campaignFile: String?
    private var data: [String: DatasetSplit] = [:]
    private var profiles: [String: ModelProfile] = [:]
    /// Profiles the user gave (`--profile`): used for runs of their model, input, classes and batch, whatever their
    /// repeat count, instead of measuring.
    private let suppliedProfiles: [ModelProfile]
    private var validated = false
    /// How each run starts, decided by `plan(campaignFile:)`.
    public private(set) var starts: [Start] = []
    /// Told when each run starts and ends, e.g. to make other processes (MPI ranks) follow the run.
    public var coordinator: (any RunCoordinator)?
    /// Polled before each device trains and after each round (e.g. a flag set by a SIGINT/SIGTERM handler); when
    /// it returns true the current run stops after its last completed round, is checkpointed and marked
    /// `interrupted`, and no further run starts.
    public var stopRequested: (() -> Bool)?

    /// A runner for `runs`. With `restart`, runs of this campaign already recorded are deleted and run again from
    /// round 0 (other runs in the file are left alone). `profiles` are used instead of measuring when one matches a
    /// run's model, input, classes, batch and repeat count (e.g. measured by a parent process). Without
    /// `writesProfileTables` (a worker or an array task running some of a campaign's runs) a profile it measures is
    /// kept in its runs only, not also as a table in the campaign file that other processes share.
    public init(runs: [CampaignRun], catalog: StrategyCatalog, datasets: DatasetCatalog, toolVersion: String,
                restart: Bool = false, profiles: [ModelProfile] = [], suppliedProfiles: [ModelProfile] = [],
                writesProfileTables: Bool = true) {
        self.suppliedProfiles = suppliedProfiles
        self.runs = runs
        self.catalog = catalog
        self.datasets = datasets
        self.toolVersion = toolVersion
        self.restart = restart
        self.writesProfileTables = writesProfileTables
        for profile in profiles { self.profiles[Self.profileKey(profile)] = profile }
    }

    /// The profiles measured or read so far, e.g. to hand to worker processes.
    public var knownProfiles: [ModelProfile] { profiles.keys.sorted().map { profiles[$0]! } }

    /// Checks every run before any file is touched: unique names, known strategies, valid configurations and
    /// loadable datasets (each loaded once here and kept for the runs).
    public func validate(progress: (String) -> Void = { _ in }) throws {
        var names: Set<String> = []
        for run in runs {
            guard names.insert(run.name).inserted else {
                throw CampaignRunError("the campaign has two runs named '\(run.name)'; make the grid values distinct")
            }
            _ = try catalog.entry(id: run.configuration.strategy)
            try run.configuration.validate()
        }
        for run in runs where data[Self.dataKey(run.configuration)] == nil {
            _ = try datasets.loader(named: run.configuration.dataset)
            progress("loading \(run.configuration.dataset)\(run.configuration.dataDirectory.map { " from \($0)" } ?? "")…")
            data[Self.dataKey(run.configuration)] = try datasets.load(name: run.configuration.dataset, directory: run.configuration.dataDirectory)
        }
        validated = true
    }

    /// Decides how each run starts given what the campaign file `path` (created when missing) already holds; a run
    /// stored with another configuration is an error unless restarting, and so is a run that another live process
    /// is writing. Writes nothing but an empty campaign file.
    public func plan(campaignFile path: String) throws {
        if !FileManager.default.fileExists(atPath: path) || (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) == 0 {
            _ = try ResultsFile(path: path, access: .createOrAppend(toolVersion: toolVersion))
        }
        let results = try ResultsFile(path: path, access: .readOnly)
        starts = try runs.map { run in
            if let holder = RunWriterLock.holder(runFile: ResultsFile.runFilePath(of: path, run: run.name)) {
                throw ResultsError(kind: .busy, filePath: path, objectPath: ResultsLayout.runPath(run.name),
                                   reason: "run '\(run.name)' is being written by \(holder) right now; wait for it to finish or stop it, then run the command again")
            }
            guard try results.containsRun(run.name), !restart else { return .fresh }
            let record = try results.openRun(run.name)
            let stored: RunConfiguration
            do {
                stored = try record.runConfiguration()
            } catch {
                throw CampaignRunError("\(Self.oneLine(error)); restart '\(run.name)' (run it again from round 0 with this version), or write to another results file",
                                       remedyIsRestart: true)
            }
            guard stored.sameResults(as: run.configuration) else {
                throw CampaignRunError("\(record.results.path) already holds run '\(run.name)' with a different configuration; "
                                      + "restart it (run it again from round 0 with this one), or write to another results file",
                                       remedyIsRestart: true)
            }
            return try record.summary().status == .complete ? .skip : .resume
        }
        campaignFile = path
    }

    /// Runs the campaign into the campaign file `path` (validating and planning first unless done), reporting
    /// through `events`.
    public func run(campaignFile path: String, events: (CampaignEvent) -> Void = { _ in }) throws -> CampaignOutcome {
        if !validated { try validate { events(.message($0)) } }
        if campaignFile != path || starts.count != runs.count { try plan(campaignFile: path) }
        var outcome = CampaignOutcome()
        var remainingRounds = zip(runs, starts).reduce(0) { $0 + ($1.1 == .skip ? 0 : $1.0.configuration.rounds) }
        var roundSeconds = 0.0, roundsTimed = 0
        for (index, (run, start)) in zip(runs, starts).enumerated() {
            let (number, total) = (index + 1, runs.count)
            if let stopRequested, stopRequested() { break }
            if start == .skip {
                events(.skipped(index: number, total: total, name: run.name))
                outcome.skipped.append(run.name)
                continue
            }
            var recorder: RunRecorder?
            var simulation: Simulation?
            do {
                let (runSimulation, runRecorder, resumedAfter) = try begin(run, start: start, campaignFile: path, events: events)
                (simulation, recorder) = (runSimulation, runRecorder)
                remainingRounds -= resumedAfter ?? 0
                events(.starting(index: number, total: total, name: run.name, resumingAfterRound: resumedAfter))
                runSimulation.stopRequested = stopRequested
                try coordinator?.willRun(runSimulation)
                // Whatever ends the run (completion, interruption, failure, a write error), the others hear of it.
                defer { coordinator?.runEnded() }
                try runSimulation.run { metrics in
                    try runRecorder.append(metrics, simulation: runSimulation)
                    roundSeconds += metrics.seconds
                    roundsTimed += 1
                    remainingRounds -= 1
                    events(.round(index: number, total: total, name: run.name, metrics: metrics, rounds: run.configuration.rounds,
                                  remainingSeconds: Double(remainingRounds) * roundSeconds / Double(roundsTimed)))
                }
                try runRecorder.complete()
                outcome.completed.append(run.name)
                events(.finished(index: number, total: total, name: run.name, status: .complete, message: ""))
            } catch let interruption as RunInterrupted {
                do {
                    if let recorder, let simulation { try recorder.interrupt(simulation) }
                } catch {
                    events(.message("could not record the interruption of '\(run.name)' in \(recorder?.file ?? path): \(Self.oneLine(error))"))
                }
                outcome.interrupted = (run.name, interruption.completedRounds)
                events(.finished(index: number, total: total, name: run.name, status: .interrupted,
                                 message: "after round \(interruption.completedRounds) of \(run.configuration.rounds)"))
                break
            } catch let error as HDF5Error where error.isWriteFailure {
                // A write failed (full disk, file-size limit, I/O error): HDF5's cache for the file is now
                // unusable, so nothing more is written (not even the failure) and the campaign stops; what was
                // flushed before stays readable.
                throw ResultsWriteError(path: error.filePath ?? recorder?.file ?? path, run: run.name, cause: error)
            } catch {
                let message = Self.oneLine(error)
                do {
                    try recorder?.fail(error)
                } catch {
                    events(.message("could not record the failure of '\(run.name)' in \(recorder?.file ?? path): \(Self.oneLine(error))"))
                }
                outcome.failed[run.name] = message
                // The failed run's remaining rounds will not be run in this invocation.
                remainingRounds -= run.configuration.rounds - (simulation?.completedRounds ?? 0)
                events(.finished(index: number, total: total, name: run.name, status: .failed, message: message))
            }
        }
        return outcome
    }

    /// Measures (or reads) every profile the runs still to do need, before any of them starts: what a parent
    /// does once before handing runs to worker processes.
    public func acquireProfiles(events: (CampaignEvent) -> Void = { _ in }) throws {
        guard let path = campaignFile else { preconditionFailure("plan(campaignFile:) first") }
        for (run, start) in zip(runs, starts) where start != .skip {
            guard try catalog.entry(id: run.configuration.strategy).usesProfile else { continue }
            _ = try profile(for: run.configuration, split: data[Self.dataKey(run.configuration)]!, campaignFile: path, events: events)
        }
    }

    /// Deletes the runs that start fresh but are recorded already (`restart`, or an earlier attempt that never got
    /// its first round recorded), and links every run that starts fresh to its run file, so that worker processes
    /// only write run files. The campaign file is opened for writing only when something is to change (workers and
    /// array tasks share it). Must run before `run` in the parent of workers.
    public func prepareRunFiles() throws {
        guard let path = campaignFile else { preconditionFailure("plan(campaignFile:) first") }
        let fresh = zip(runs, starts).filter { $0.1 == .fresh }.map(\.0.name)
        // Read through a handle that is closed before the file is opened for writing.
        let linked: [Bool] = try {
            let reader = try ResultsFile(path: path, access: .readOnly)
            return try fresh.map { if case .linked? = try reader.runLocation($0) { true } else { false } }
        }()
        guard linked.contains(false) || (restart && !fresh.isEmpty) else { return }
        let results = try ResultsFile(path: path, access: .createOrAppend(toolVersion: toolVersion))
        try FileManager.default.createDirectory(atPath: ResultsFile.runFolder(of: path), withIntermediateDirectories: true)
        for (name, isLinked) in zip(fresh, linked) {
            if !isLinked || restart { try results.deleteRun(name) }
            try results.linkRun(name, toFile: ResultsFile.runFilePath(of: path, run: name))
        }
    }

    /// Builds the simulation and recorder of one run, resumed from its newest checkpoint when there is one.
    private func begin(_ run: CampaignRun, start: Start, campaignFile path: String, events: (CampaignEvent) -> Void)
        throws -> (Simulation, RunRecorder, Int?)
    {
        let configuration = run.configuration
        let split = data[Self.dataKey(configuration)]!
        let runFile = ResultsFile.runFilePath(of: path, run: run.name)
        try FileManager.default.createDirectory(atPath: ResultsFile.runFolder(of: path), withIntermediateDirectories: true)
        // Strategies that never read the profile do not wait for it to be measured.
        let usesProfile = try catalog.entry(id: configuration.strategy).usesProfile
        func measuredProfile() throws -> ModelProfile? {
            usesProfile ? try profile(for: configuration, split: split, campaignFile: path, events: events) : nil
        }
        if start == .resume {
            let (storedIn, checkpoint, stored): (String, Checkpoint?, ModelProfile?) = try {
                let record = try ResultsFile(path: path, access: .readOnly).openRun(run.name)
                return (record.results.path, try record.latestCheckpoint(), try record.storedProfile())
            }()
            let simulation = try Simulation(configuration: configuration, catalog: catalog, datasets: datasets, data: split,
                                            profile: try stored ?? measuredProfile())
            let recorder = try RunRecorder(resuming: run.name, in: storedIn, lockFile: runFile, from: checkpoint,
                                           checkpointInterval: run.configuration.checkpointInterval)
            if let checkpoint {
                let state = try recorder.withRecord { try RunRecorder.resumeState(of: checkpoint, record: $0) }
                try simulation.restore(parameters: checkpoint.parameters, state: state)
            }
            return (simulation, recorder, checkpoint?.round ?? 0)
        }
        let simulation = try Simulation(configuration: configuration, catalog: catalog, datasets: datasets, data: split,
                                        profile: try measuredProfile())
        if case .linked? = try ResultsFile(path: path, access: .readOnly).runLocation(run.name) {} else { try prepareRunFiles() }
        // A run file left by an attempt that ended before its first checkpoint (or a restart) is replaced.
        if FileManager.default.fileExists(atPath: runFile) { try FileManager.default.removeItem(atPath: runFile) }
        let recorder = try RunRecorder(creating: run.name, in: runFile, lockFile: runFile, simulation: simulation,
                                       checkpointInterval: run.configuration.checkpointInterval, toolVersion: toolVersion)
        return (simulation, recorder, nil)
    }

    /// The profile for a run's model, input and batch: one measurement per campaign (all its runs choose windows
    /// from the same table), taken from another run of the campaign when one stored it, measured otherwise.
    private func profile(for configuration: RunConfiguration, split: DatasetSplit, campaignFile path: String,
                         events: (CampaignEvent) -> Void) throws -> ModelProfile {
        let key = Self.profileKey(configuration, split: split)
        // One table for every run of the campaign with this model, input and batch: what any of them reads.
        var needs: ProfileNeeds = []
        for run in runs where Self.profileKey(run.configuration, split: data[Self.dataKey(run.configuration)] ?? split) == key {
            needs.formUnion(try catalog.entry(id: run.configuration.strategy).profile)
        }
        if let cached = profiles[key], cached.contents.isSuperset(of: needs) { return cached }
        let shapeOfData = [split.train.channels, split.train.height, split.train.width]
        if let supplied = suppliedProfiles.first(where: {
            $0.model == configuration.model && $0.inputShape == shapeOfData && $0.classes == split.train.classCount
                && $0.batch == configuration.batchSize && $0.contents.isSuperset(of: needs)
        }) {
            profiles[key] = supplied
            return supplied
        }
        if let stored = try Self.storedProfile(key: key, needs: needs, campaignFile: path) {
            profiles[key] = stored
            return stored
        }
        let shape = [split.train.channels, split.train.height, split.train.width]
        let parts = [needs.contains(.windows) ? "every trained window" : nil,
                     needs.contains(.subModels) ? "the sub-model widths \(SubModelCost.standardRatios.map { "\($0)" }.joined(separator: ", "))" : nil]
        events(.message("profiling \(configuration.model) \(shape.map(String.init).joined(separator: "x")) batch \(configuration.batchSize): "
                        + parts.compactMap { $0 }.joined(separator: " and ") + ", \(configuration.profileRepeats) timed steps each…"))
        let start = DispatchTime.now().uptimeNanoseconds
        let profile = try Profiler(modelName: configuration.model, inputShape: shape, classes: split.train.classCount,
                                   batch: configuration.batchSize, repeats: configuration.profileRepeats).run(needs: needs)
        // Tenths: resnet8's table takes under a second here, and "0 s" read as if nothing had been measured.
        events(.message(String(format: "profiled %d windows and %d sub-models in %.1f s (%d timed steps each, medians)",
                               profile.windows.count, profile.subModels.count,
                               Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, configuration.profileRepeats)))
        if writesProfileTables {
            try ResultsFile(path: path, access: .createOrAppend(toolVersion: toolVersion))
                .writeProfile(ProfileTable(profile, toolVersion: toolVersion), model: configuration.model,
                              name: "\(shape.map(String.init).joined(separator: "x"))-b\(configuration.batchSize)")
        }
        profiles[key] = profile
        return profile
    }

    /// A profile with `key` and at least `needs` stored by one of the campaign's runs (the campaign file is closed
    /// again before the caller writes it). A run whose profile cannot be read is passed over: the profile is then
    /// measured again.
    private static func storedProfile(key: String, needs: ProfileNeeds, campaignFile path: String) throws -> ModelProfile? {
        let results = try ResultsFile(path: path, access: .readOnly)
        for name in try results.runNames() {
            if let stored = try? results.openRun(name).storedProfile(), profileKey(stored) == key,
               stored.contents.isSuperset(of: needs) {
                return stored
            }
        }
        return nil
    }

    private static func profileKey(_ configuration: RunConfiguration, split: DatasetSplit) -> String {
        profileKey(model: configuration.model, shape: [split.train.channels, split.train.height, split.train.width],
                   classes: split.train.classCount, batch: configuration.batchSize, repeats: configuration.profileRepeats)
    }

    private static func profileKey(_ profile: ModelProfile) -> String {
        profileKey(model: profile.model, shape: profile.inputShape, classes: profile.classes, batch: profile.batch, repeats: profile.repeats)
    }

    private static func profileKey(model: String, shape: [Int], classes: Int, batch: Int, repeats: Int) -> String {
        "\(model) \(shape) \(classes) b\(batch) r\(repeats)"
    }

    private static func dataKey(_ configuration: RunConfiguration) -> String {
        "\(configuration.dataset)|\(configuration.dataDirectory ?? "")"
    }

    /// An error's message on one line (a run's status message and a progress line must not break the layout).
    public static func oneLine(_ error: Error) -> String {
        "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

extension HDF5Error {
    /// Whether the library failed to write or flush the file (full disk, file-size limit, I/O error), as
    /// opposed to a read of a damaged object or a wrong request.
    var isWriteFailure: Bool {
        kind == .libraryCall && (call == "H5Fflush" || stack.contains { $0.contains("write failed") || $0.contains("unable to flush") })
    }
}

/// A campaign that cannot run as asked (two runs of one name, a run already stored with another configuration or
/// by a version this one cannot read), with what to do.
public struct CampaignRunError: Error, CustomStringConvertible {
    /// The one-line message.
    public let description: String
    /// Whether the fix is to run the campaign's runs again from round 0 (the runner's `restart`), so that a
    /// command line can name its option for it.
    public let remedyIsRestart: Bool
    /// An error with the given one-line message.
    public init(_ description: String, remedyIsRestart: Bool = false) {
        self.description = description
        self.remedyIsRestart = remedyIsRestart
    }
}

/// A write into the campaign's results file failed; the campaign stopped there.
public struct ResultsWriteError: Error, CustomStringConvertible {
    /// The results file.
    public let path: String
    /// The run that was being recorded.
    public let run: String
    /// The failed HDF5 call.
    public let cause: HDF5Error

    /// The operating system's reason (e.g. "No space left on device"), when HDF5 reported one.
    public var systemReason: String? {
        for message in cause.stack {
            if let start = message.range(of: "error message = '"),
               let end = message[start.upperBound...].firstIndex(of: "'") {
                return String(message[start.upperBound..<end])
            }
        }
        return nil
    }

    public var description: String {
        "cannot write the results file '\(path)' while recording '\(run)': \(systemReason ?? "\(cause.call) failed")"
            + " (a full disk, a file-size limit or an I/O error); the rounds recorded before stay readable (cocofl inspect \(path)); "
            + "free space or write to another disk, then run the same command again to resume from the last checkpoint"
    }
}

extension ProfileTable {
    /// The table of a measured profile, for `/profiles/<model>/<name>`.
    public init(_ profile: ModelProfile, toolVersion: String) {
        self.init(inputShape: profile.inputShape, batch: profile.batch, repeatCount: profile.repeats, toolVersion: toolVersion,
                  rows: profile.windows.map {
                      Row(first: $0.first, last: $0.last, timeSeconds: $0.timeSeconds, timeRatio: $0.timeRatio,
                          memoryBytes: Double($0.memoryBytes), memoryRatio: $0.memoryRatio,
                          uploadBytes: Double($0.uploadBytes), uploadRatio: $0.uploadRatio)
                  })
    }
}
