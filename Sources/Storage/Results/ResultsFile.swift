import Foundation

/// One campaign's results file: runs with their metrics, checkpoints and devices, and profiler tables, in the
/// versioned layout described in docs/hdf5-layout.md.
///
/// The file stays open while this object, or a `RunRecord` from it, is alive.
public final class ResultsFile {
    /// The layout version this build writes and the newest it reads. Version 2 stores each run's configuration
    /// with the schema's snake_case keys (version 1: Swift property names); runs of either are read.
    public static let currentFormatVersion: Int64 = 2

    /// How to open a results file.
    public enum Access: Sendable, Equatable {
        /// Create the file when the path is missing or empty, otherwise open it to add or continue runs;
        /// `toolVersion` (e.g. "0.1.0") goes into `created_by` of a new file.
        case createOrAppend(toolVersion: String)
        /// Open an existing results file for reading only.
        case readOnly
        /// Reopen a results file this process is writing (a run's own file, under its `RunWriterLock`, reopened
        /// for each round so that readers can open it between rounds): no damage checks, and a reader that keeps
        /// the file open does not stall the write.
        case continueWriting
    }

    /// The path the file was opened with.
    public let path: String
    /// The layout version stored in the file (`format_version`).
    public let formatVersion: Int64
    /// The underlying HDF5 file, for reading objects outside the documented layout.
    public let hdf5File: HDF5File

    /// Opens or creates the results file at `path`.
    ///
    /// Refuses, leaving the file untouched: a file that is not HDF5, an HDF5 file without `format_version`, and a
    /// file whose `format_version` is newer than `currentFormatVersion`.
    public init(path: String, access: Access) throws {
        self.path = path
        switch access {
        case .readOnly:
            let file = try HDF5File(path: path, mode: .readOnly)
            formatVersion = try ResultsFile.checkedFormatVersion(of: file)
            hdf5File = file
        case .createOrAppend(let toolVersion):
            switch FileSystemEntry(path: path) {
            case .missing, .file(byteCount: 0):
                let file = try HDF5File(path: path, mode: .truncate)
                try ResultsFile.initializeLayout(of: file, toolVersion: toolVersion)
                formatVersion = ResultsFile.currentFormatVersion
                hdf5File = file
            default:
                // Check the version through a read-only handle first, so a refused file is never opened for writing.
                let stored = try ResultsFile.checkedFormatVersion(of: HDF5File(path: path, mode: .readOnly))
                hdf5File = try HDF5File(path: path, mode: .readWrite)
                // An older file is upgraded: what is appended now is written in the current layout, and readers
                // of this version read the older runs in it too.
                if stored < ResultsFile.currentFormatVersion {
                    try hdf5File.attributes.set("format_version", to: .int64(ResultsFile.currentFormatVersion))
                }
                formatVersion = ResultsFile.currentFormatVersion
            }
        case .continueWriting:
            let file = try HDF5File(path: path, mode: .readWrite, locks: .init(seconds: 2, writeDespiteReaders: true),
                                    verified: false)
            formatVersion = try ResultsFile.checkedFormatVersion(of: file)
            hdf5File = file
        }
    }

    /// Whether the file was opened read-only.
    public var isReadOnly: Bool {
        hdf5File.mode == .readOnly
    }

    /// The `created_by` attribute, e.g. "cocofl 0.1.0".
    public func createdBy() throws -> String {
        try hdf5File.attributes.string("created_by")
    }

    /// Writes all buffered changes to the operating system.
    public func flush() throws {
        try hdf5File.flush()
    }

    // MARK: Runs

    /// Creates the run `name` with status `running` and `started_at` set to `startedAt`.
    @discardableResult
    public func createRun(_ name: String, specification: RunSpecification, startedAt: Date = Date()) throws
        -> RunRecord
    {
        try RunRecord.create(name, in: self, specification: specification, startedAt: startedAt)
    }

    /// Opens the existing run `name`, e.g. to resume it; a run linked to its own file is opened in that file
    /// (read-only when this file is, for writing otherwise).
    public func openRun(_ name: String) throws -> RunRecord {
        if case .linked(let file, let exists)? = try runLocation(name) {
            guard exists else {
                throw error(.notFound, at: ResultsNames.join(ResultsLayout.runs, name),
                            "run '\(name)' has not written its file '\(file)' yet (it has not started, or the file was moved)")
            }
            return try ResultsFile(path: file, access: isReadOnly ? .readOnly : .continueWriting).openRun(name)
        }
        return try RunRecord.open(name, in: self)
    }

    /// Whether a run called `name` exists (stored in this file, or linked to a run file that exists).
    public func containsRun(_ name: String) throws -> Bool {
        switch try runLocation(name) {
        case .embedded?: return true
        case .linked(_, let exists)?: return exists
        case nil: return false
        }
    }

    /// The names of all runs, sorted (runs linked to a file that does not exist yet are `pendingRunNames()`).
    public func runNames() throws -> [String] {
        try linkNames(under: ResultsLayout.runs).filter { try containsRun($0) }
    }

    /// Runs linked to their own file that has not been written yet: a campaign's runs that have not started.
    public func pendingRunNames() throws -> [String] {
        try linkNames(under: ResultsLayout.runs).filter { try !containsRun($0) }
    }

    /// Every run with its status, sorted by name (what a resumed campaign needs to know).
    public func runs() throws -> [RunSummary] {
        try runNames().map { try openRun($0).summary() }
    }

    /// The link names directly under the group at `path`; empty when the group does not exist.
    private func linkNames(under path: String) throws -> [String] {
        let root = try hdf5File.rootGroup()
        guard try root.kind(of: path) == .group else { return [] }
        return try root.openGroup(path).children()
    }

    // MARK: Profiles

    /// Writes the profiler table `name` of `model`, replacing an existing one of that name.
    public func writeProfile(_ table: ProfileTable, model: String, name: String) throws {
        try table.write(to: self, model: model, name: name)
    }

    /// Reads the profiler table `name` of `model`.
    public func profile(model: String, name: String) throws -> ProfileTable {
        try ProfileTable.read(from: self, model: model, name: name)
    }

    /// The models that have profiler tables, sorted.
    public func profiledModels() throws -> [String] {
        let root = try hdf5File.rootGroup()
        guard try root.kind(of: ResultsLayout.profiles) == .group else { return [] }
        return try root.openGroup(ResultsLayout.profiles).children()
    }

    /// The names of the profiler tables of `model`, sorted; empty when it has none.
    public func profileNames(model: String) throws -> [String] {
        try ResultsNames.validate(model, as: "model name", filePath: path, parent: ResultsLayout.profiles)
        let root = try hdf5File.rootGroup()
        let modelPath = ResultsNames.join(ResultsLayout.profiles, model)
        guard try root.kind(of: modelPath) == .group else { return [] }
        return try root.openGroup(modelPath).children()
    }

    // MARK: Helpers

    /// An error about this file.
    func error(_ kind: ResultsError.Kind, at objectPath: String? = nil, _ reason: String) -> ResultsError {
        ResultsError(kind: kind, filePath: path, objectPath: objectPath, reason: reason)
    }

    private static func initializeLayout(of file: HDF5File, toolVersion: String) throws {
        try file.attributes.set("format_version", to: .int64(currentFormatVersion))
        try file.attributes.set("created_by", to: .string("cocofl \(toolVersion)"))
        let root = try file.rootGroup()
        try root.createGroup(ResultsLayout.runs)
        try root.createGroup(ResultsLayout.profiles)
        try file.flush()
    }

    /// The file's `format_version`, after checking that this build can read it.
    private static func checkedFormatVersion(of file: HDF5File) throws -> Int64 {
        let notResults = { (detail: String) in
            ResultsError(
                kind: .notAResultsFile, filePath: file.path, objectPath: "/",
                reason: "\(detail), so it is not a cocofl results file (it was left unchanged); "
                    + "choose another output path or move the file away")
        }
        guard try file.attributes.contains("format_version") else {
            throw notResults("the HDF5 file has no 'format_version' attribute")
        }
        guard case .int64(let version) = try file.attributes.value("format_version"), version >= 1 else {
            throw notResults("the 'format_version' attribute is not a positive integer")
        }
        guard version <= currentFormatVersion else {
            throw ResultsError(
                kind: .newerFormatVersion(found: version, newestReadable: currentFormatVersion),
                filePath: file.path, objectPath: "/",
                reason: "format_version \(version) is newer than this cocofl reads (up to \(currentFormatVersion)); "
                    + "use a newer cocofl for this file, or write to a new file (the file was left unchanged)")
        }
        return version
    }
}

/// The fixed names of the results layout (docs/hdf5-layout.md).
public enum ResultsLayout {
    public static let runs = "/runs"
    public static let profiles = "/profiles"
    public static let metrics = "metrics"
    public static let checkpoints = "checkpoints"
    public static let devices = "devices"
    public static let runProfile = "profile"
    public static let roundMetric = "round"
    public static let checkpointPrefix = "round_"

    /// The path of run `name`'s group, e.g. "/runs/a".
    public static func runPath(_ name: String) -> String { ResultsNames.join(runs, name) }
}
