import Foundation

/// Where a run of a results file is stored.
public enum RunLocation: Equatable, Sendable {
    /// In the results file itself (a group under `/runs`; every file before run files, and packed files).
    case embedded
    /// In its own run file, which `/runs/<name>` links to with an HDF5 external link: `file` is the resolved
    /// path, `exists` false while the run has not written it yet.
    case linked(file: String, exists: Bool)
}

// A campaign's results file `NAME.h5` links each run to its own file `NAME.runs/<run>.h5` (itself a results file
// holding that one run), so that each run is written by one process and every file can be read while the
// campaign runs (docs/hdf5-layout.md, "Run files").
extension ResultsFile {
    /// The folder of the run files of the results file at `path`: `NAME.runs` next to `NAME.h5`.
    public static func runFolder(of path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(url.deletingPathExtension().lastPathComponent + ".runs").path
    }

    /// The run file of run `name` of the results file at `path`.
    public static func runFilePath(of path: String, run name: String) -> String {
        URL(fileURLWithPath: runFolder(of: path)).appendingPathComponent(name + ".h5").path
    }

    /// Where run `name` is stored, or nil when the file has no run of that name.
    public func runLocation(_ name: String) throws -> RunLocation? {
        try ResultsNames.validate(name, as: "run name", filePath: path, parent: ResultsLayout.runs)
        let root = try hdf5File.rootGroup()
        guard try root.kind(of: ResultsLayout.runs) == .group else { return nil }
        let runs = try root.openGroup(ResultsLayout.runs)
        guard try runs.hasLink(name) else { return nil }
        guard let target = try runs.externalLinkTarget(name) else {
            return try runs.kind(of: name) == .group ? .embedded : nil
        }
        guard target.object == ResultsNames.join(ResultsLayout.runs, name) else {
            throw error(.damaged, at: ResultsNames.join(ResultsLayout.runs, name),
                        "the run links to object '\(target.object)' of '\(target.file)', not to '/runs/\(name)'; "
                            + "link runs with cocofl only, or pack the file again")
        }
        let file = target.file.hasPrefix("/")
            ? target.file
            : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(target.file).standardizedFileURL.path
        return .linked(file: file, exists: FileManager.default.fileExists(atPath: file))
    }

    /// The live process writing run `name` right now (it holds the run's `RunWriterLock`), or nil.
    public func liveWriter(ofRun name: String) throws -> RunWriterLock.Holder? {
        var runFiles = [ResultsFile.runFilePath(of: path, run: name)]
        if case .linked(let file, _)? = try runLocation(name) { runFiles.insert(file, at: 0) }
        // This file may itself be the run's file, opened directly (NAME.runs/<run>.h5).
        if URL(fileURLWithPath: path).lastPathComponent == name + ".h5" { runFiles.insert(path, at: 0) }
        return runFiles.lazy.compactMap { RunWriterLock.holder(runFile: $0) }.first
    }

    /// Links `/runs/<name>` to the run in its own results file `file` (stored relative to this file's folder when
    /// it lies below it, so that the pair can be moved together).
    public func linkRun(_ name: String, toFile file: String) throws {
        try ResultsNames.validate(name, as: "run name", filePath: path, parent: ResultsLayout.runs)
        if try runLocation(name) != nil {
            throw error(.alreadyExists, at: ResultsNames.join(ResultsLayout.runs, name),
                        "run '\(name)' already exists; delete it first to link another file")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path + "/"
        let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
        let stored = absolute.hasPrefix(folder) ? String(absolute.dropFirst(folder.count)) : absolute
        try hdf5File.rootGroup().openOrCreateGroup(ResultsLayout.runs)
            .createExternalLink(name, toFile: stored, object: ResultsNames.join(ResultsLayout.runs, name))
        try flush()
    }

    /// Deletes the run `name` and everything under it (a restarted run): its group, or its link and its run file.
    /// HDF5 does not shrink the file; the space is reused by later writes while the file is open.
    public func deleteRun(_ name: String) throws {
        guard let location = try runLocation(name) else { return }
        try hdf5File.rootGroup().openGroup(ResultsLayout.runs).deleteChild(name)
        try flush()
        if case .linked(let file, true) = location {
            do {
                try FileManager.default.removeItem(atPath: file)
            } catch {
                throw self.error(.unwritable, at: ResultsNames.join(ResultsLayout.runs, name),
                                 "the run's link was removed but its file '\(file)' could not be deleted (\(error.localizedDescription)); delete it by hand")
            }
        }
    }

    /// Writes a self-contained copy of this results file to `destination` (a new file): every run, linked runs
    /// copied in from their run files, and every profile table. Runs whose file does not exist yet are left out
    /// and returned.
    @discardableResult
    public func pack(into destination: String, toolVersion: String) throws -> [String] {
        let packed = try ResultsFile(path: destination, access: .createOrAppend(toolVersion: toolVersion))
        guard try packed.runNames().isEmpty, try packed.profiledModels().isEmpty else {
            throw packed.error(.alreadyExists, "the file already holds runs or profiles; pack into a new file")
        }
        let targetRuns = try packed.hdf5File.rootGroup().openGroup(ResultsLayout.runs)
        for name in try runNames() {
            switch try runLocation(name) {
            case .linked(let file, true)?:
                // From the run file itself: its lock and damage checks apply, not libhdf5's silent link following.
                let source = try ResultsFile(path: file, access: .readOnly)
                try source.hdf5File.rootGroup().openGroup(ResultsLayout.runs).copyExpandingExternalLinks(name, to: targetRuns, as: name)
            default:
                try hdf5File.rootGroup().openGroup(ResultsLayout.runs).copyExpandingExternalLinks(name, to: targetRuns, as: name)
            }
        }
        let targetProfiles = try packed.hdf5File.rootGroup().openGroup(ResultsLayout.profiles)
        for model in try profiledModels() {
            try hdf5File.rootGroup().openGroup(ResultsLayout.profiles).copyExpandingExternalLinks(model, to: targetProfiles, as: model)
        }
        try packed.flush()
        return try pendingRunNames()
    }
}
