import CHDF5
import Foundation

/// An open HDF5 file; the file is closed when the last reference to it (or to one of its objects) goes away.
///
/// Closing happens in `deinit`, which cannot throw: call `flush()` after writing to learn about write errors.
public final class HDF5File {
    /// How to open or create a file.
    public enum Mode: Sendable, Equatable {
        /// Create the file, replacing an existing HDF5 file; refuses to overwrite a file that is not HDF5.
        case truncate
        /// Create the file; fails if anything exists at the path.
        case createExclusive
        /// Open an existing HDF5 file for reading.
        case readOnly
        /// Open an existing HDF5 file for reading and writing.
        case readWrite
    }

    /// The path the file was opened with.
    public let path: String
    /// The mode the file was opened with.
    public let mode: Mode
    let id: hid_t

    /// How opening an existing file treats other processes' locks (HDF5 locks a file while a process has it open:
    /// a writer excludes everyone, a reader excludes writers).
    public struct LockWaiting: Sendable, Equatable {
        /// How long to retry while another process holds the file (a round's write takes milliseconds).
        public var seconds: Double
        /// After waiting, open a file for writing without locking when only readers hold it. For a file whose
        /// single writer is guaranteed otherwise (a run's own file, under its run lock): a reader that keeps the file
        /// open must not stall a campaign; that reader keeps its stale view.
        public var writeDespiteReaders: Bool

        public init(seconds: Double, writeDespiteReaders: Bool = false) {
            self.seconds = seconds
            self.writeDespiteReaders = writeDespiteReaders
        }

        /// Retry for 2 s, then report the lock.
        public static let standard = LockWaiting(seconds: 2)
    }

    /// Opens or creates the file at `path`; a path holding a file that is not HDF5 is refused and left untouched.
    ///
    /// `verified`: run the damage checks before opening an existing file (off only for a file this process is
    /// continuing to write itself, which was checked when it was first opened).
    public init(path: String, mode: Mode, locks: LockWaiting = .standard, verified: Bool = true) throws {
        HDF5Library.prepare()
        let site = ErrorSite(filePath: path)
        let call = "HDF5File.init"
        let entry = FileSystemEntry(path: path)
        if entry == .directory {
            throw site.error(.invalidRequest, call: call, reason: "the path is a directory; give a file path")
        }
        switch mode {
        case .truncate:
            // An empty file holds nothing to lose (e.g. one made by mktemp); anything else must already be HDF5.
            if case .file(let byteCount) = entry, byteCount > 0, try !HDF5File.isHDF5File(path: path) {
                throw site.error(
                    .notHDF5File, call: call,
                    reason: "refusing to overwrite a file that is not HDF5 (it was left unchanged); "
                        + "choose another output path or move the file away")
            }
            id = try check(
                H5Fcreate(path, chdf5_H5F_ACC_TRUNC(), chdf5_H5P_DEFAULT(), chdf5_H5P_DEFAULT()), call: "H5Fcreate",
                at: site, reason: HDF5File.creationHint(path: path))
        case .createExclusive:
            if entry != .missing {
                throw site.error(
                    .alreadyExists, call: call,
                    reason: "a file already exists at this path; choose another path or open it with .readWrite")
            }
            id = try check(
                H5Fcreate(path, chdf5_H5F_ACC_EXCL(), chdf5_H5P_DEFAULT(), chdf5_H5P_DEFAULT()), call: "H5Fcreate",
                at: site, reason: HDF5File.creationHint(path: path))
        case .readOnly, .readWrite:
            if entry == .missing {
                throw site.error(.notFound, call: call, reason: "no such file; check the path")
            }
            if try !HDF5File.isHDF5File(path: path) {
                throw site.error(
                    .notHDF5File, call: call,
                    reason: "the file is not an HDF5 file (it was left unchanged); check the path")
            }
            let heaps = verified ? GlobalHeapCheck(path: path) : nil
            let checked = heaps?.damage == nil ? heaps?.checkBeforeOpening() : nil
            if let damage = heaps?.damage ?? checked?.damage {
                throw site.error(.damaged, call: call, reason: HDF5File.damageReason(damage))
            }
            let fileID = try HDF5File.open(path: path, mode: mode, locks: locks, site: site)
            // Before anything reads a string (when the walk above did not cover the file's layout): libhdf5 follows
            // a damaged heap reference through a wild pointer.
            if checked == nil, let damage = heaps?.referenceCheck(fileID: fileID).damage {
                H5Fclose(fileID)
                throw site.error(.damaged, call: call, reason: HDF5File.damageReason(damage))
            }
            id = fileID
        }
        self.path = path
        self.mode = mode
    }

    deinit {
        H5Fclose(id)
    }

    /// H5Fopen, retrying while another process holds the file's lock; a lock that outlasts the wait is an error
    /// saying who holds it, never "damaged".
    private static func open(path: String, mode: Mode, locks: LockWaiting, site: ErrorSite) throws -> hid_t {
        let flags = mode == .readOnly ? chdf5_H5F_ACC_RDONLY() : chdf5_H5F_ACC_RDWR()
        let deadline = Date().addingTimeInterval(locks.seconds)
        var pause = 0.005
        while true {
            do {
                return try openFile(path: path, flags: flags, locking: true, site: site)
            } catch let error as HDF5Error where error.stack.contains(where: { $0.contains("unable to lock file") }) {
                if Date() < deadline {
                    Thread.sleep(forTimeInterval: pause)
                    pause = min(pause * 2, 0.1)
                    continue
                }
                let holder = HDF5File.lockHolder(path: path)
                if mode == .readWrite, locks.writeDespiteReaders, holder?.exclusive != true {
                    return try openFile(path: path, flags: flags, locking: false, site: site)
                }
                // Not damage: HDF5 locks a file while any process has it open (a writer excludes every reader).
                let who = holder.map { "process \($0.pid)" } ?? "another process"
                throw HDF5Error(
                    kind: .invalidRequest, call: "H5Fopen", filePath: path,
                    reason: "the file is locked: \(who) has it open"
                        + (holder?.exclusive == false ? " for reading" : " for writing (a campaign or run still writing it?)")
                        + String(format: " (waited %.0f s); ", locks.seconds)
                        + "wait until it finishes, or read it anyway with HDF5_USE_FILE_LOCKING=FALSE in the environment (the rounds "
                        + "flushed so far; a read can fail while a round is being written)",
                    stack: error.stack)
            }
        }
    }

    /// H5Fopen with HDF5's file locking on or off (H5Pset_file_locking); the error stack is taken before the
    /// property list is closed, which would clear it.
    private static func openFile(path: String, flags: UInt32, locking: Bool, site: ErrorSite) throws -> hid_t {
        let access = try check(H5Pcreate(chdf5_H5P_FILE_ACCESS()), call: "H5Pcreate", at: site)
        defer { H5Pclose(access) }
        try check(H5Pset_file_locking(access, locking, true), call: "H5Pset_file_locking", at: site)
        return try check(
            H5Fopen(path, flags, access), call: "H5Fopen", at: site,
            reason: "the file could not be opened; it may be truncated or damaged")
    }

    /// The process holding a lock on the file at `path` and whether the lock is exclusive (a writer), from
    /// /proc/locks (Linux); nil when unknown.
    static func lockHolder(path: String) -> (pid: Int, exclusive: Bool)? {
        var status = stat()
        guard stat(path, &status) == 0,
            let locks = try? String(contentsOfFile: "/proc/locks", encoding: .utf8)
        else { return nil }
        // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF": the kind, the pid, then major:minor:inode.
        for line in locks.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5].split(separator: ":").last == Substring(String(status.st_ino)),
                let pid = Int(fields[4])
            else { continue }
            return (pid, fields[3] == "WRITE")
        }
        return nil
    }

    /// Whether the file at `path` starts with an HDF5 signature; throws when it cannot be read.
    public static func isHDF5File(path: String) throws -> Bool {
        HDF5Library.prepare()
        return try check(H5Fis_hdf5(path), call: "H5Fis_hdf5", at: ErrorSite(filePath: path)) > 0
    }

    /// The root group "/", from which all groups and datasets are reached.
    public func rootGroup() throws -> HDF5Group {
        try HDF5Group(file: self, path: "/")
    }

    /// The attributes of the file (stored on the root group, as h5py's `File.attrs`).
    public var attributes: HDF5Attributes {
        HDF5Attributes(owner: self, objectID: id, site: site(object: "/"))
    }

    /// Writes all buffered data and metadata of this file to the operating system, so a crash keeps it.
    public func flush() throws {
        HDF5Library.prepare()
        try check(H5Fflush(id, H5F_SCOPE_LOCAL), call: "H5Fflush", at: ErrorSite(filePath: path))
    }

    /// The error site for an object of this file.
    func site(object: String? = nil) -> ErrorSite {
        ErrorSite(filePath: path, objectPath: object)
    }

    /// Throws unless the file was opened for writing.
    func requireWritable(call: String, object: String) throws {
        guard mode != .readOnly else {
            throw site(object: object).error(
                .invalidRequest, call: call, reason: "the file is open read-only; open it with .readWrite to change it")
        }
    }

    private static func damageReason(_ damage: String) -> String {
        "the file is damaged and was not opened (\(damage)); restore it from a copy, or re-run what wrote it"
    }

    private static func creationHint(path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        return "could not create the file; check that the directory '\(directory.isEmpty ? "." : directory)' "
            + "exists and is writable"
    }
}

/// What is at a path in the file system.
enum FileSystemEntry: Equatable {
    case missing
    case directory
    case file(byteCount: Int)

    init(path: String) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            self = .missing
            return
        }
        if isDirectory.boolValue {
            self = .directory
            return
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
        // An unknown size counts as non-empty, so that truncation never overwrites a file it could not inspect.
        self = .file(byteCount: size ?? 1)
    }
}
