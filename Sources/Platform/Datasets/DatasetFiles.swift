import CKernels
import CZlib
import Foundation

/// File-system helpers shared by the dataset loaders; every failure becomes a `DatasetError` naming the path.
enum DatasetFiles {
    /// `directory/name`, without doubling a trailing slash.
    static func path(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Whether `path` exists and is a directory.
    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Whether `path` exists and is not a directory.
    static func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// Throws the dataset's install hint when `directory` is missing, so that users see one clear message.
    static func requireDirectory(_ directory: String, hints: DatasetFileHints) throws {
        guard isDirectory(directory) else { throw hints.missing(directory) }
    }

    /// The size of a regular file in bytes.
    static func size(of path: String, hints: DatasetFileHints) throws -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT { throw hints.missing(path) }
            throw hints.unreadable(path, reason: String(cString: strerror(errno)))
        }
        return Int(status.st_size)
    }

    /// The whole content of `path`; with `nulTerminated` one extra zero byte follows the content (for C parsers).
    static func readAll(_ path: String, nulTerminated: Bool = false, hints: DatasetFileHints) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else {
            if errno == ENOENT { throw hints.missing(path) }
            throw hints.unreadable(path, reason: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        var status = stat()
        guard fstat(fileno(file), &status) == 0 else {
            throw hints.unreadable(path, reason: String(cString: strerror(errno)))
        }
        let size = Int(status.st_size)
        var readError: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size + (nulTerminated ? 1 : 0)) { buffer, initialized in
            let read = size == 0 ? 0 : fread(buffer.baseAddress, 1, size, file)
            if read != size {
                readError = ferror(file) != 0 ? String(cString: strerror(errno))
                    : "read \(read) of \(size) bytes; the file changed while it was read"
            }
            if nulTerminated { buffer[read] = 0 }
            initialized = read + (nulTerminated ? 1 : 0)
        }
        if let readError { throw hints.unreadable(path, reason: readError) }
        return bytes
    }

    /// Checks every byte label against `classCount` and widens them to Int32.
    static func widenLabels(
        _ bytes: [UInt8], classCount: Int, path: String, hints: DatasetFileHints
    ) throws -> [Int32] {
        try bytes.withUnsafeBufferPointer { source in
            let position = cocofl_find_u8_above(source.baseAddress, source.count, UInt8(clamping: classCount - 1))
            if position < source.count {
                throw hints.labelOutOfRange(
                    path, "label \(source[position]) of sample \(position) is outside 0...\(classCount - 1)")
            }
            return [Int32](unsafeUninitializedCapacity: source.count) { buffer, initialized in
                cocofl_widen_u8_to_i32(source.baseAddress, source.count, buffer.baseAddress)
                initialized = source.count
            }
        }
    }
}

/// Reads a gzip-compressed file through zlib; a file without the gzip magic is passed through unchanged.
final class GzipReader {
    /// The file being read, for error messages.
    let path: String
    private let hints: DatasetFileHints
    private let handle: gzFile

    /// Opens `path` for reading.
    init(path: String, hints: DatasetFileHints) throws {
        guard DatasetFiles.isFile(path) else { throw hints.missing(path) }
        guard let handle = gzopen(path, "rb") else {
            throw hints.unreadable(path, reason: String(cString: strerror(errno)))
        }
        self.path = path
        self.hints = hints
        self.handle = handle
        // A larger input buffer than zlib's 8 KiB default halves the time spent in read(2) for the big files.
        gzbuffer(handle, 1 << 18)
    }

    deinit { gzclose(handle) }

    /// Reads exactly `count` decompressed bytes into `destination`, or throws naming what the file lacked.
    ///
    /// `what` describes the bytes for the message, e.g. "the header" or "60000 images of 28×28".
    func readExactly(_ destination: UnsafeMutableRawPointer, count: Int, what: String) throws {
        var done = 0
        while done < count {
            let chunk = UInt32(min(count - done, 1 << 30))
            let read = gzread(handle, destination + done, chunk)
            if read < 0 { throw streamError() }
            if read == 0 { break }
            done += Int(read)
        }
        guard done == count else {
            if let truncation = truncationMessage() {
                throw hints.truncated(path, "\(truncation) after \(done) of the \(count) bytes of \(what)")
            }
            throw hints.truncated(path, "it holds \(done) of the \(count) bytes of \(what)")
        }
    }

    /// Throws unless the file ends here: extra bytes mean the header undercounts, a cut stream means damage.
    func expectEnd(after what: String) throws {
        var extra: UInt8 = 0
        let read = gzread(handle, &extra, 1)
        if read < 0 { throw streamError() }
        if read > 0 { throw hints.corrupt(path, "it has more bytes than \(what) announced by its header") }
        if let truncation = truncationMessage() {
            throw hints.truncated(path, "\(truncation) after \(what)")
        }
    }

    private var zlibStatus: (code: Int32, message: String) {
        var code: Int32 = Z_OK
        let message = gzerror(handle, &code).map { String(cString: $0) } ?? ""
        // zlib prefixes its message with the path, which our messages already start with.
        let prefix = path + ": "
        return (code, message.hasPrefix(prefix) ? String(message.dropFirst(prefix.count)) : message)
    }

    /// zlib reports a stream that stops in mid-member as Z_BUF_ERROR at end of input.
    private func truncationMessage() -> String? {
        let status = zlibStatus
        return status.code == Z_BUF_ERROR ? "the gzip stream ends early (\(status.message))" : nil
    }

    private func streamError() -> DatasetError {
        let status = zlibStatus
        if status.code == Z_BUF_ERROR { return hints.truncated(path, "the gzip stream ends early (\(status.message))") }
        if status.code == Z_ERRNO { return hints.unreadable(path, reason: String(cString: strerror(errno))) }
        return hints.corrupt(path, "the gzip data is damaged (zlib: \(status.message))")
    }
}
