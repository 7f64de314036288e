import Dispatch
import Foundation
import NN
import Platform
import Storage

/// Something the campaign runner reports while it works, for progress displays.
public enum CampaignEvent: Sendable {
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

/// Executes a campaign's runs into one results file: skips runs that are complete with the same configuration,
/// resumes interrupted (`running`) or `failed` ones from their newest checkpoint, starts the others; a run that
/// throws is recorded as `failed` and the campaign goes on with the next one. Everything that can be checked
/// before the first round (strategy ids, datasets, clashes with runs already in the file) is checked up front, so
/// a bad campaign fails in seconds and writes nothing.
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
    private var results: ResultsFile?
    private var data: [String: DatasetSplit] = [:]
    private var profiles: [String: ModelProfile] = [:]
    private var validated = false
    /// How each run starts, decided by `plan(results:)`.
    public private(set) var starts: [Start] = []
    /// Polled before each device trains and after each round (e.g. a flag set by a SIGINT/SIGTERM handler); when
    /// it returns true the current run stops after its last completed round, is checkpointed and marked
    /// `interrupted`, and no further run starts.
    public var stopRequested: (() -> Bool)?

    /// A runner for `runs`. With `restart`, runs of this campaign already in the results file are deleted and run
    /// again from round 0 (other runs in the file are left alone). `profiles` are used instead of measuring when
    /// one matches a run's model, input, classes, batch and repeat count (e.g. a profile from another file).
    public init(runs: [CampaignRun], catalog: StrategyCatalog, datasets: DatasetCatalog, toolVersion: String,
                restart: Bool = false, profiles: [ModelProfile] = []) {
        self.runs = runs
        self.catalog = catalog
        self.datasets = datasets
        self.toolVersion = toolVersion
        self.restart = restart
        for profile in profiles {
            self.profiles[Self.profileKey(model: profile.model, shape: profile.inputShape, classes: profile.classes,
                                          batch: profile.batch, repeats: profile.repeats)] = profile
        }
    }

    /// Checks every run before any file is touched: unique names, known strategies, valid configurations and
    /// loadable datasets (each loaded once here and kept for the runs).
    public func validate(progress: (String) -> Void = { _ in }) throws {
        var names: Set<String> = []
        for run in runs {
            guard names.insert(run.name).inserted else {
                throw SimulationError("the campaign has two runs named '\(run.name)'; make the grid values distinct")
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

    /// Decides how each run starts given what `results` already holds; a run stored with another configuration
    /// is an error unless restarting. Writes nothing.
    public func plan(results: ResultsFile) throws {
        starts = try runs.map { run in
            guard try results.containsRun(run.name), !restart else { return .fresh }
            let stored = try results.openRun(run.name).metadata()
            let configuration = try? JSONDecoder().decode(RunConfiguration.self, from: Data(stored.specification.configuration.utf8))
            guard configuration == run.configuration else {
                throw SimulationError("\(results.path) already holds run '\(run.name)' with a different configuration; "
                                      + "pass --restart to run it again with this one, or write to another --out file")
            }
            return stored.status == .complete ? .skip : .resume
        }
        self.results = results
    }

    /// Runs the campaign into `results` (validating and planning first unless done), reporting through `events`.
    public func run(into results: ResultsFile, events: (CampaignEvent) -> Void = { _ in }) throws -> CampaignOutcome {
        if !validated { try validate { events(.message($0)) } }
        if self.results !== results || starts.count != runs.count { try plan(results: results) }
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
                let (runSimulation, runRecorder, resumedAfter) = try begin(run, start: start, into: results, events: events)
                (simulation, recorder) = (runSimulation, runRecorder)
                remainingRounds -= resumedAfter ?? 0
                events(.starting(index: number, total: total, name: run.name, resumingAfterRound: resumedAfter))
                runSimulation.stopRequested = stopRequested
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
                    events(.message("could not record the interruption of '\(run.name)' in \(results.path): \(Self.oneLine(error))"))
                }
                outcome.interrupted = (run.name, interruption.completedRounds)
                events(.finished(index: number, total: total, name: run.name, status: .interrupted,
                                 message: "after round \(interruption.completedRounds) of \(run.configuration.rounds)"))
                break
            } catch let error as HDF5Error where error.filePath == results.path && error.isWriteFailure {
                // A write into the results file failed (full disk, file-size limit, I/O error): HDF5's cache for
                // the file is now unusable, so nothing more is written (not even the failure) and the campaign
                // stops; what was flushed before stays readable.
                throw ResultsWriteError(path: results.path, run: run.name, cause: error)
            } catch {
                let message = Self.oneLine(error)
                do {
                    try recorder?.fail(error)
                } catch {
                    events(.message("could not record the failure of '\(run.name)' in \(results.path): \(Self.oneLine(error))"))
                }
                outcome.failed[run.name] = message
                // The failed run's remaining rounds will not be run in this invocation.
                remainingRounds -= run.configuration.rounds - (simulation?.completedRounds ?? 0)
                events(.finished(index: number, total: total, name: run.name, status: .failed, message: message))
            }
        }
        return outcome
    }

    /// Builds the simulation and recorder of one run, resumed from its newest checkpoint when there is one.
    private func begin(_ run: CampaignRun, start: Start, into results: ResultsFile, events: (CampaignEvent) -> Void)
        throws -> (Simulation, RunRecorder, Int?)
    {
        let configuration = run.configuration
        let split = data[Self.dataKey(configuration)]!
        // Strategies that never read the profile do not wait for it to be measured.
        let usesProfile = try catalog.entry(id: configuration.strategy).usesProfile
        func measuredProfile() throws -> ModelProfile? {
            usesProfile ? try profile(for: configuration, split: split, results: results, events: events) : nil
        }
        if start == .resume {
            let record = try results.openRun(run.name)
            let checkpoint = try record.latestCheckpoint()
            let profile = try record.storedProfile() ?? measuredProfile()
            let simulation = try Simulation(configuration: configuration, catalog: catalog, datasets: datasets, data: split, profile: profile)
            if let checkpoint {
                try simulation.restore(parameters: checkpoint.parameters,
                                       state: try RunRecorder.resumeState(of: checkpoint, record: record))
            }
            let recorder = try RunRecorder(resuming: record, from: checkpoint, checkpointInterval: run.checkpointInterval)
            return (simulation, recorder, checkpoint?.round ?? 0)
        }
        if try results.containsRun(run.name) { try results.deleteRun(run.name) }
        let simulation = try Simulation(configuration: configuration, catalog: catalog, datasets: datasets, data: split,
                                        profile: try measuredProfile())
        let recorder = try RunRecorder(results: results, name: run.name, simulation: simulation,
                                       checkpointInterval: run.checkpointInterval, toolVersion: toolVersion)
        return (simulation, recorder, nil)
    }

    /// The profile for a run's model, input and batch: one measurement per campaign (all its runs choose windows
    /// from the same table), taken from another run in the file when one stored it, measured otherwise.
    private func profile(for configuration: RunConfiguration, split: DatasetSplit, results: ResultsFile,
                         events: (CampaignEvent) -> Void) throws -> ModelProfile {
        let shape = [split.train.channels, split.train.height, split.train.width]
        let key = Self.profileKey(model: configuration.model, shape: shape, classes: split.train.classCount,
                                  batch: configuration.batchSize, repeats: configuration.profileRepeats)
        if let cached = profiles[key] { return cached }
        for name in try results.runNames() {
            if let stored = try? results.openRun(name).storedProfile(), stored.model == configuration.model, stored.inputShape == shape,
               stored.classes == split.train.classCount, stored.batch == configuration.batchSize, stored.repeats == configuration.profileRepeats {
                profiles[key] = stored
                return stored
            }
        }
        events(.message("profiling \(configuration.model) \(shape.map(String.init).joined(separator: "x")) batch \(configuration.batchSize): "
                        + "every trained window, \(configuration.profileRepeats) timed steps each…"))
        let start = DispatchTime.now().uptimeNanoseconds
        let profile = try Profiler(modelName: configuration.model, inputShape: shape, classes: split.train.classCount,
                                   batch: configuration.batchSize, repeats: configuration.profileRepeats).run()
        // Tenths: resnet8's table takes under a second here, and "0 s" read as if nothing had been measured.
        events(.message(String(format: "profiled %d windows in %.1f s (%d timed steps each, medians)", profile.windows.count,
                               Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, configuration.profileRepeats)))
        try results.writeProfile(ProfileTable(profile, toolVersion: toolVersion), model: configuration.model,
                                 name: "\(shape.map(String.init).joined(separator: "x"))-b\(configuration.batchSize)")
        profiles[key] = profile
        return profile
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
