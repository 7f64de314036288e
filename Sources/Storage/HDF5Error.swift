import CHDF5

/// A failed HDF5 operation: which call failed, on which file and object, why, and what the library reported.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// What went wrong, so callers can react without parsing the message.
    public enum Kind: Sendable, Equatable {
        /// An HDF5 C function returned a failure status; `stack` holds the library's own messages.
        case libraryCall
        /// The path exists but is not an HDF5 file; it was left untouched.
        case notHDF5File
        /// A file, group, dataset or attribute that was asked for does not exist.
        case notFound
        /// A file, group, dataset or attribute that was to be created already exists.
        case alreadyExists
        /// The stored element type or object kind differs from what was asked for.
        case typeMismatch
        /// The number of values does not match the shape.
        case shapeMismatch
        /// The request does not fit the object (appending to a fixed-size dataset, writing a read-only file, …).
        case invalidRequest
        /// The file is HDF5 but damaged in a way that would hang or crash libhdf5; it was not opened.
        case damaged
    }

    /// What went wrong.
    public let kind: Kind
    /// The HDF5 C function (e.g. `H5Fopen`) or Storage operation (e.g. `HDF5Group.openDataset`) that failed.
    public let call: String
    /// The file the operation was working on, when known.
    public let filePath: String?
    /// The object path inside the file (e.g. `/runs/a/metrics`), when known.
    public let objectPath: String?
    /// Our explanation of the failure and how to fix it, when we have one.
    public let reason: String?
    /// The HDF5 error stack, innermost (most specific) message first.
    public let stack: [String]

    /// Creates an error; `stack` is normally filled by `check(_:call:at:)`.
    public init(
        kind: Kind, call: String, filePath: String? = nil, objectPath: String? = nil, reason: String? = nil,
        stack: [String] = []
    ) {
        self.kind = kind
        self.call = call
        self.filePath = filePath
        self.objectPath = objectPath
        self.reason = reason
        self.stack = stack
    }

    /// A one-paragraph message naming the call, the object, the file, the reason and the innermost HDF5 messages.
    public var description: String {
        var message = "\(call) failed"
        if let objectPath { message += " for '\(objectPath)'" }
        if let filePath { message += " in file '\(filePath)'" }
        if let reason { message += ": \(reason)" }
        if !stack.isEmpty {
            // The innermost records say what actually went wrong; the outer ones only repeat "unable to …".
            message += " (HDF5: " + stack.prefix(HDF5Error.reportedStackDepth).joined(separator: "; ") + ")"
        }
        return message
    }

    static let reportedStackDepth = 3
}

/// Where an operation happens, so that every error can name the file and the object.
struct ErrorSite: Sendable {
    /// The file path as the user gave it.
    var filePath: String?
    /// The absolute object path inside the file.
    var objectPath: String?

    /// An error raised by Storage itself (not by an HDF5 call) at this site.
    func error(_ kind: HDF5Error.Kind, call: String, reason: String) -> HDF5Error {
        HDF5Error(kind: kind, call: call, filePath: filePath, objectPath: objectPath, reason: reason)
    }
}

/// Returns `status` when it is not negative; otherwise throws `HDF5Error` with the call name, the site and the
/// messages of the current HDF5 error stack. Every HDF5 status code and identifier goes through here.
@discardableResult
func check<Status: BinaryInteger>(
    _ status: Status, call: String, at site: ErrorSite = ErrorSite(), reason: String? = nil
) throws -> Status {
    guard status < 0 else { return status }
    throw HDF5Error(
        kind: .libraryCall, call: call, filePath: site.filePath, objectPath: site.objectPath, reason: reason,
        stack: ErrorStackSnapshot.takeCurrent()?.messages() ?? [])
}

/// Owns a copy of this thread's HDF5 error stack (taking it also clears the library's stack).
final class ErrorStackSnapshot {
    let id: hid_t

    private init(id: hid_t) {
        self.id = id
    }

    deinit {
        H5Eclose_stack(id)
    }

    /// Copies and clears the calling thread's error stack; nil when the library cannot copy it.
    static func takeCurrent() -> ErrorStackSnapshot? {
        let id = H5Eget_current_stack()
        return id < 0 ? nil : ErrorStackSnapshot(id: id)
    }

    /// The messages of the stack, innermost first, each as "function: description".
    func messages() -> [String] {
        let collector = MessageCollector()
        let retained = Unmanaged.passRetained(collector)
        defer { retained.release() }
        _ = H5Ewalk2(
            id, H5E_WALK_UPWARD,
            { _, record, clientData in
                guard let record, let clientData else { return 0 }
                let collector = Unmanaged<MessageCollector>.fromOpaque(clientData).takeUnretainedValue()
                let function = record.pointee.func_name.map { String(cString: $0) } ?? "?"
                // Some descriptions embed ctime() output, which ends in a newline; keep messages on one line.
                let description = (record.pointee.desc.map { String(cString: $0) } ?? "")
                    .split(whereSeparator: \.isNewline).joined(separator: " ")
                collector.messages.append(description.isEmpty ? function : "\(function): \(description)")
                return 0
            }, retained.toOpaque())
        return collector.messages
    }

    private final class MessageCollector {
        var messages: [String] = []
    }
}
