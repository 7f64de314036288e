import Foundation

/// What a run is: recorded when the run is created, so that its result can be reproduced.
public struct RunSpecification: Equatable, Sendable {
    /// The strategy id, e.g. "cocofl" or "heterofl".
    public var strategy: String
    /// The dataset id, e.g. "fashion-mnist".
    public var dataset: String
    /// The model id, e.g. "resnet8".
    public var model: String
    /// The seed of the run's random generator (a UInt64 seed is stored by its bit pattern).
    public var seed: Int64
    /// The full resolved configuration as a JSON document.
    public var configuration: String
    /// The version of cocofl that ran it, e.g. "0.1.0".
    public var toolVersion: String

    /// Describes a run.
    public init(
        strategy: String, dataset: String, model: String, seed: Int64, configuration: String, toolVersion: String
    ) {
        self.strategy = strategy
        self.dataset = dataset
        self.model = model
        self.seed = seed
        self.configuration = configuration
        self.toolVersion = toolVersion
    }
}

/// Where a run stands; stored as the `status` attribute.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    /// Started and not finished: still running, or interrupted (then it can be resumed).
    case running
    /// Finished all its rounds.
    case complete
    /// Stopped by an error; `status_message` says which.
    case failed
    /// Stopped on request (SIGINT/SIGTERM) after a completed round, with a checkpoint of that round; a re-run
    /// resumes it.
    case interrupted
}

/// A run's name and status, as listed by `ResultsFile.runs()`.
public struct RunSummary: Equatable, Sendable {
    /// The run's name (its group under `/runs`).
    public var name: String
    /// Where the run stands.
    public var status: RunStatus
    /// Why it failed, or any note that came with the status; empty when there is none.
    public var statusMessage: String

    /// Pairs a run name with its status.
    public init(name: String, status: RunStatus, statusMessage: String) {
        self.name = name
        self.status = status
        self.statusMessage = statusMessage
    }
}

/// Everything recorded about a run besides its data.
public struct RunMetadata: Equatable, Sendable {
    /// The run's name.
    public var name: String
    /// What the run is.
    public var specification: RunSpecification
    /// Where the run stands.
    public var status: RunStatus
    /// Why it failed, or any note that came with the status; empty when there is none.
    public var statusMessage: String
    /// When the run was started (whole seconds, UTC).
    public var startedAt: Date
    /// When the run completed or failed; nil while it is running.
    public var finishedAt: Date?
}

/// One run of a campaign: the group `/runs/<name>` with its metadata, metrics, checkpoints and devices.
public final class RunRecord {
    /// The run's name.
    public let name: String
    /// The results file holding the run (kept open while the record is alive).
    public let results: ResultsFile
    /// The run's group.
    let group: HDF5Group

    private init(name: String, results: ResultsFile, group: HDF5Group) {
        self.name = name
        self.results = results
        self.group = group
    }

    /// The absolute path of the run's group, e.g. "/runs/a".
    public var path: String {
        group.path
    }

    static func create(
        _ name: String, in results: ResultsFile, specification: RunSpecification, startedAt: Date
    ) throws -> RunRecord {
        try ResultsNames.validate(name, as: "run name", filePath: results.path, parent: ResultsLayout.runs)
        let path = ResultsNames.join(ResultsLayout.runs, name)
        try validateJSON(specification.configuration, results: results, runPath: path)
        let root = try results.hdf5File.rootGroup()
        if try root.kind(of: path) != nil {
            throw results.error(
                .alreadyExists, at: path,
                "run '\(name)' already exists; open it with openRun to resume it, or choose another run name")
        }
        let group = try root.createGroup(path)
        let attributes = group.attributes
        try attributes.set("strategy", to: .string(specification.strategy))
        try attributes.set("dataset", to: .string(specification.dataset))
        try attributes.set("model", to: .string(specification.model))
        try attributes.set("seed", to: .int64(specification.seed))
        try attributes.set("configuration", to: .string(specification.configuration))
        try attributes.set("tool_version", to: .string(specification.toolVersion))
        try attributes.set("status", to: .string(RunStatus.running.rawValue))
        try attributes.set("status_message", to: .string(""))
        try attributes.set("started_at", to: .string(ResultsNames.timestamp(startedAt)))
        try attributes.set("finished_at", to: .string(""))
        try group.createGroup(ResultsLayout.metrics).createExtendibleDataset(
            ResultsLayout.roundMetric, of: Double.self, chunkLength: RunRecord.metricChunkLength)
        try group.createGroup(ResultsLayout.checkpoints)
        try results.flush()
        return RunRecord(name: name, results: results, group: group)
    }

    static func open(_ name: String, in results: ResultsFile) throws -> RunRecord {
        try ResultsNames.validate(name, as: "run name", filePath: results.path, parent: ResultsLayout.runs)
        let path = ResultsNames.join(ResultsLayout.runs, name)
        let root = try results.hdf5File.rootGroup()
        guard try root.kind(of: path) == .group else {
            let known = try results.runNames()
            throw results.error(
                .notFound, at: path,
                "no run '\(name)'; the file holds "
                    + (known.isEmpty ? "no runs" : "runs \(known.map { "'\($0)'" }.joined(separator: ", "))"))
        }
        return RunRecord(name: name, results: results, group: try root.openGroup(path))
    }

    // MARK: Metadata and status

    /// Everything recorded about the run besides its data.
    public func metadata() throws -> RunMetadata {
        let startedAt = try string("started_at")
        guard let started = ResultsNames.date(fromTimestamp: startedAt) else {
            throw results.error(
                .damaged, at: path, "attribute 'started_at' is '\(startedAt)', not an ISO-8601 UTC timestamp")
        }
        let finishedAt = try string("finished_at")
        let finished = ResultsNames.date(fromTimestamp: finishedAt)
        if !finishedAt.isEmpty, finished == nil {
            throw results.error(
                .damaged, at: path, "attribute 'finished_at' is '\(finishedAt)', not an ISO-8601 UTC timestamp")
        }
        let summary = try summary()
        return RunMetadata(
            name: name,
            specification: RunSpecification(
                strategy: try string("strategy"), dataset: try string("dataset"), model: try string("model"),
                seed: try group.attributes.int64("seed"), configuration: try string("configuration"),
                toolVersion: try string("tool_version")),
            status: summary.status, statusMessage: summary.statusMessage, startedAt: started, finishedAt: finished)
    }

    /// The run's name and status.
    public func summary() throws -> RunSummary {
        let text = try string("status")
        guard let status = RunStatus(rawValue: text) else {
            throw results.error(
                .damaged, at: path,
                "attribute 'status' is '\(text)', not one of "
                    + RunStatus.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return RunSummary(name: name, status: status, statusMessage: try string("status_message"))
    }

    /// Sets the status and its message and flushes; `complete` and `failed` set `finished_at` to `date`,
    /// `running` (a resumed run) clears it.
    public func setStatus(_ status: RunStatus, message: String = "", at date: Date = Date()) throws {
        try group.attributes.set("status", to: .string(status.rawValue))
        try group.attributes.set("status_message", to: .string(message))
        let finishedAt = status == .running ? "" : ResultsNames.timestamp(date)
        try group.attributes.set("finished_at", to: .string(finishedAt))
        try results.flush()
    }

    // MARK: Helpers

    /// Metric columns grow in chunks of this many rounds (2 KiB of float64).
    static let metricChunkLength = 256

    /// An error about an object of this run; `relativePath` nil means the run's group.
    public func error(_ kind: ResultsError.Kind, at relativePath: String? = nil, _ reason: String) -> ResultsError {
        results.error(kind, at: relativePath.map { ResultsNames.join(path, $0) } ?? path, reason)
    }

    private func string(_ name: String) throws -> String {
        try group.attributes.string(name)
    }

    private static func validateJSON(_ text: String, results: ResultsFile, runPath: String) throws {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw results.error(
                .invalidValue, at: runPath,
                "the run's configuration is not valid JSON (\(error.localizedDescription)); pass the resolved "
                    + "configuration encoded with JSONEncoder")
        }
    }
}
