import Foundation

/// Caps the address space libhdf5 may grow by while it reads variable-length strings.
///
/// libhdf5 1.10.8 allocates and clears a variable-length value's stored length before it reads the value, and a
/// damaged file can store any 32-bit length: found by scripts/fuzz.sh (FuzzResultsFile), a 6 KB results file made
/// a read of its 12-byte `created_by` string take 31 s and 8 GB. `GlobalHeapCheck` refuses such a value when the
/// file is opened, in every attribute it can parse (ObjectHeaderCheck.swift); this guard is the second line for
/// those it cannot (dense attribute storage, shared messages, values nested in compound types). So string reads
/// run with the soft address-space limit (RLIMIT_AS) set to the current size plus `allowance`: a larger request
/// fails inside libhdf5, which reports a memory-allocation error, and the limit is restored afterwards.
///
/// The limit is process-wide for the microseconds of the read: the guards of concurrent readers are serialised by a
/// lock, but another thread that maps more than `allowance` in that moment would see its allocation fail. The
/// campaign runner and the commands read files between training steps, never beside them; a program that trains
/// on other threads while it reads results files shares that (small) risk.
enum AllocationGuard {
    /// Headroom for one guarded read; strings in results and dataset files are far smaller.
    static let allowance = 1 << 30
    private static let lock = NSLock()

    /// Runs `body` with the address space capped at its current size plus `allowance`; an HDF5 error from a failed
    /// allocation becomes a `.damaged` error that says so.
    static func limited<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try capped(body)
        } catch let error as HDF5Error where error.stack.contains(where: { $0.localizedCaseInsensitiveContains("alloc") }) {
            throw HDF5Error(
                kind: .damaged, call: error.call, filePath: error.filePath, objectPath: error.objectPath,
                reason: "\(error.reason.map { $0 + ": " } ?? "")the file stores a string longer than "
                    + "\(allowance >> 30) GiB, so it is damaged; restore it from a copy, or write it again",
                stack: error.stack)
        }
    }

    private static func capped<Result>(_ body: () throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        var saved = rlimit()
        guard getrlimit(RLIMIT_AS_ID, &saved) == 0, let size = currentAddressSpace() else { return try body() }
        let cap = rlim_t(size + allowance)
        // RLIM_INFINITY is the largest rlim_t, so plain comparisons cover it.
        guard cap < saved.rlim_cur, cap <= saved.rlim_max
        else { return try body() }
        var limited = saved
        limited.rlim_cur = cap
        guard setrlimit(RLIMIT_AS_ID, &limited) == 0 else { return try body() }
        defer { _ = setrlimit(RLIMIT_AS_ID, &saved) }
        return try body()
    }

    /// The process's virtual size in bytes (VmSize of /proc/self/status), or nil when unknown.
    private static func currentAddressSpace() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmSize:") }),
            let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kib * 1024
    }

    #if canImport(Glibc)
    private static let RLIMIT_AS_ID = __rlimit_resource_t(RLIMIT_AS.rawValue)
    #else
    private static let RLIMIT_AS_ID = RLIMIT_AS
    #endif
}
