import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The lock a process holds on a run for as long as it writes it: an `flock` on `<run file>.lock`, which names the
/// process and host. The kernel drops the lock when the process ends in any way (kill -9 included), so a held lock
/// means a live writer, and a run whose status is `running` without one was stopped without finishing.
///
/// It is what makes one writer per run file certain (two campaigns started on the same results see each other),
/// and what `cocofl inspect` reads to say which runs are running. A separate file because HDF5 itself takes
/// `flock`s on the run file while a round is written.
public final class RunWriterLock {
    /// The lock file.
    public let path: String
    private let descriptor: Int32

    /// Who holds a run's lock.
    public struct Holder: Equatable, Sendable, CustomStringConvertible {
        public var pid: Int
        public var host: String
        public var description: String { host.isEmpty ? "process \(pid)" : "process \(pid) on \(host)" }
    }

    /// The lock file of the run file `runFile`.
    public static func lockPath(runFile: String) -> String { runFile + ".lock" }

    /// Takes the lock of `runFile` (creating the lock file), or throws naming the process that holds it.
    public init(runFile: String, run: String) throws {
        path = Self.lockPath(runFile: runFile)
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ResultsError(kind: .unwritable, filePath: path, objectPath: nil,
                               reason: "cannot create the run's lock file (\(String(cString: strerror(errno)))); check that its folder is writable")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.holderText(descriptor: descriptor)
            close(descriptor)
            throw ResultsError(kind: .busy, filePath: runFile, objectPath: nil,
                               reason: "run '\(run)' is being written by \(holder.map(\.description) ?? "another process") (it holds \(path)); "
                                   + "wait for it to finish or stop it, then run the command again")
        }
        let text = "\(getpid()) \(ProcessInfo.processInfo.hostName)\n"
        _ = ftruncate(descriptor, 0)
        _ = text.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    deinit {
        // Removed before it is released: a lock file left behind would only say that nobody holds it.
        unlink(path)
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// The live process holding the lock of `runFile`, or nil when nobody holds it.
    public static func holder(runFile: String) -> Holder? {
        let descriptor = open(lockPath(runFile: runFile), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return nil
        }
        return holderText(descriptor: descriptor) ?? Holder(pid: 0, host: "")
    }

    private static func holderText(descriptor: Int32) -> Holder? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        let fields = String(decoding: buffer[..<count], as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard let first = fields.first, let pid = Int(first) else { return nil }
        return Holder(pid: pid, host: fields.dropFirst().first.map(String.init) ?? "")
    }
}
