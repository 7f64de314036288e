import CHDF5

/// The value of an attribute: the kinds of metadata Storage writes (configuration, seeds, versions, statistics).
public enum HDF5AttributeValue: Equatable, Sendable {
    /// A UTF-8 string (h5py reads it as `str`).
    case string(String)
    /// A scalar 64-bit integer.
    case int64(Int64)
    /// A scalar 64-bit float.
    case double(Double)
    /// A one-dimensional array of 64-bit floats.
    case doubleArray([Double])
    /// A one-dimensional array of 64-bit integers.
    case int64Array([Int64])
}

/// How a string attribute is stored; both read back the same and open in h5py as `str`.
public enum HDF5StringLayout: Sendable, Equatable {
    /// A variable-length UTF-8 string (what h5py writes for Python `str`).
    case variableLength
    /// A fixed-length, NUL-padded UTF-8 string exactly as long as the value's bytes.
    case fixedLength
}

/// The attributes of a file, group or dataset, addressed by name (like h5py's `.attrs`).
public struct HDF5Attributes {
    /// Keeps the file, group or dataset whose identifier is `objectID` open.
    private let owner: AnyObject
    private let objectID: hid_t
    private let site: ErrorSite
    private let file: HDF5File

    init(owner: HDF5File, objectID: hid_t, site: ErrorSite) {
        self.owner = owner
        self.objectID = objectID
        self.site = site
        file = owner
    }

    init(owner: HDF5Group, objectID: hid_t, site: ErrorSite) {
        self.owner = owner
        self.objectID = objectID
        self.site = site
        file = owner.file
    }

    init(owner: HDF5Dataset, objectID: hid_t, site: ErrorSite) {
        self.owner = owner
        self.objectID = objectID
        self.site = site
        file = owner.file
    }

    /// Sets the attribute `name` to `value`, replacing any existing attribute of that name (whatever its type).
    public func set(_ name: String, to value: HDF5AttributeValue, stringLayout: HDF5StringLayout = .variableLength)
        throws
    {
        HDF5Library.prepare()
        let call = "HDF5Attributes.set"
        try file.requireWritable(call: call, object: site.objectPath ?? "/")
        try withExtendedLifetime(owner) {
            if try exists(name) {
                try check(
                    H5Adelete(objectID, name), call: "H5Adelete", at: site, reason: "attribute '\(name)'")
            }
            switch value {
            case .string(let text):
                try writeString(name, text, layout: stringLayout)
            case .int64(let number):
                try writeNumbers(name, [number], isScalar: true)
            case .double(let number):
                try writeNumbers(name, [number], isScalar: true)
            case .doubleArray(let numbers):
                try writeNumbers(name, numbers, isScalar: false)
            case .int64Array(let numbers):
                try writeNumbers(name, numbers, isScalar: false)
            }
        }
    }

    /// The value of the attribute `name`; integers of any size that fit Int64 read as Int64, floats as Double.
    public func value(_ name: String) throws -> HDF5AttributeValue {
        HDF5Library.prepare()
        let call = "HDF5Attributes.value"
        return try withExtendedLifetime(owner) {
            guard try exists(name) else {
                throw site.error(.notFound, call: call, reason: "no attribute '\(name)'; list them with names()")
            }
            let attribute = try AttributeHandle(
                checking: H5Aopen(objectID, name, chdf5_H5P_DEFAULT()), call: "H5Aopen", at: site,
                reason: "attribute '\(name)'")
            let type = try Datatype(checking: H5Aget_type(attribute.id), call: "H5Aget_type", at: site)
            let space = try Dataspace(checking: H5Aget_space(attribute.id), call: "H5Aget_space", at: site)
            let stored = try type.storedType(at: site)
            let isScalar = H5Sget_simple_extent_type(space.id) == H5S_SCALAR
            let count = try space.elementCount(at: site)
            switch stored.kind {
            case .string where count == 1:
                return .string(try readString(name, attribute: attribute, type: type, space: space))
            case .integer where stored.isLosslesslyReadable(as: .int64):
                let numbers = try readNumbers(name, attribute: attribute, count: count, as: Int64.self)
                return isScalar ? .int64(numbers[0]) : .int64Array(numbers)
            case .floatingPoint where stored.isLosslesslyReadable(as: .float64):
                let numbers = try readNumbers(name, attribute: attribute, count: count, as: Double.self)
                return isScalar ? .double(numbers[0]) : .doubleArray(numbers)
            default:
                throw site.error(
                    .typeMismatch, call: call,
                    reason: "attribute '\(name)' holds \(count) \(stored.name) value(s), which Storage cannot read")
            }
        }
    }

    /// The string attribute `name`.
    public func string(_ name: String) throws -> String {
        guard case .string(let text) = try value(name) else { throw mismatch(name, expected: "a string") }
        return text
    }

    /// The scalar integer attribute `name`.
    public func int64(_ name: String) throws -> Int64 {
        guard case .int64(let number) = try value(name) else { throw mismatch(name, expected: "a scalar integer") }
        return number
    }

    /// The scalar floating-point attribute `name`.
    public func double(_ name: String) throws -> Double {
        guard case .double(let number) = try value(name) else { throw mismatch(name, expected: "a scalar float") }
        return number
    }

    /// The floating-point array attribute `name`.
    public func doubleArray(_ name: String) throws -> [Double] {
        guard case .doubleArray(let numbers) = try value(name) else {
            throw mismatch(name, expected: "an array of floats")
        }
        return numbers
    }

    /// The integer array attribute `name`.
    public func int64Array(_ name: String) throws -> [Int64] {
        guard case .int64Array(let numbers) = try value(name) else {
            throw mismatch(name, expected: "an array of integers")
        }
        return numbers
    }

    /// The names of all attributes, sorted by name.
    public func names() throws -> [String] {
        HDF5Library.prepare()
        let collector = NameCollector()
        let retained = Unmanaged.passRetained(collector)
        defer { retained.release() }
        try withExtendedLifetime(owner) {
            _ = try check(
                H5Aiterate2(
                    objectID, H5_INDEX_NAME, H5_ITER_INC, nil,
                    { _, name, _, clientData in
                        guard let name, let clientData else { return 0 }
                        Unmanaged<NameCollector>.fromOpaque(clientData).takeUnretainedValue().names.append(
                            String(cString: name))
                        return 0
                    }, retained.toOpaque()), call: "H5Aiterate2", at: site)
        }
        return collector.names
    }

    /// Whether an attribute called `name` exists.
    public func contains(_ name: String) throws -> Bool {
        HDF5Library.prepare()
        return try withExtendedLifetime(owner) { try exists(name) }
    }

    /// Deletes the attribute `name`.
    public func delete(_ name: String) throws {
        HDF5Library.prepare()
        let call = "HDF5Attributes.delete"
        try file.requireWritable(call: call, object: site.objectPath ?? "/")
        try withExtendedLifetime(owner) {
            guard try exists(name) else {
                throw site.error(.notFound, call: call, reason: "no attribute '\(name)' to delete")
            }
            try check(H5Adelete(objectID, name), call: "H5Adelete", at: site, reason: "attribute '\(name)'")
        }
    }

    // MARK: Helpers

    private func exists(_ name: String) throws -> Bool {
        try check(H5Aexists(objectID, name), call: "H5Aexists", at: site, reason: "attribute '\(name)'") > 0
    }

    private func mismatch(_ name: String, expected: String) -> HDF5Error {
        let actual = (try? value(name)).map { "\($0)" } ?? "another type"
        return site.error(
            .typeMismatch, call: "HDF5Attributes.value",
            reason: "attribute '\(name)' is not \(expected) but \(actual); read it with value(_:)")
    }

    private func create(_ name: String, type: hid_t, space: Dataspace) throws -> AttributeHandle {
        try withExtendedLifetime(space) {
            try AttributeHandle(
                checking: H5Acreate2(objectID, name, type, space.id, chdf5_H5P_DEFAULT(), chdf5_H5P_DEFAULT()),
                call: "H5Acreate2", at: site, reason: "attribute '\(name)'")
        }
    }

    private func writeString(_ name: String, _ text: String, layout: HDF5StringLayout) throws {
        let bytes = Array(text.utf8)
        if bytes.contains(0) {
            throw site.error(
                .invalidRequest, call: "HDF5Attributes.set",
                reason: "attribute '\(name)' contains a NUL character, which HDF5 strings cannot hold")
        }
        let type = try Datatype.utf8String(byteCount: layout == .fixedLength ? bytes.count : nil, at: site)
        let space = try Dataspace(shape: [], at: site)
        let attribute = try create(name, type: type.id, space: space)
        try withExtendedLifetime((attribute, type)) {
            switch layout {
            case .variableLength:
                try text.withCString { characters in
                    var pointer: UnsafePointer<CChar>? = characters
                    try check(
                        H5Awrite(attribute.id, type.id, &pointer), call: "H5Awrite", at: site,
                        reason: "attribute '\(name)'")
                }
            case .fixedLength:
                // An empty string still needs one (NUL) byte: HDF5 string types are at least one byte long.
                let padded = bytes.isEmpty ? [UInt8(0)] : bytes
                try check(
                    H5Awrite(attribute.id, type.id, padded), call: "H5Awrite", at: site,
                    reason: "attribute '\(name)'")
            }
        }
    }

    private func writeNumbers<Element: HDF5Element>(_ name: String, _ numbers: [Element], isScalar: Bool) throws {
        let space = try Dataspace(shape: isScalar ? [] : [numbers.count], at: site)
        let attribute = try create(name, type: Element.hdf5ElementType.fileType, space: space)
        guard !numbers.isEmpty else { return }
        try withExtendedLifetime(attribute) {
            try numbers.withUnsafeBytes { bytes in
                _ = try check(
                    H5Awrite(attribute.id, Element.hdf5ElementType.memoryType, bytes.baseAddress), call: "H5Awrite",
                    at: site, reason: "attribute '\(name)'")
            }
        }
    }

    private func readNumbers<Element: HDF5Element>(
        _ name: String, attribute: AttributeHandle, count: Int, as type: Element.Type
    ) throws -> [Element] {
        guard count > 0 else { return [] }
        return try [Element](unsafeUninitializedCapacity: count) { buffer, initializedCount in
            try check(
                H5Aread(attribute.id, Element.hdf5ElementType.memoryType, buffer.baseAddress), call: "H5Aread",
                at: site, reason: "attribute '\(name)'")
            initializedCount = count
        }
    }

    private func readString(_ name: String, attribute: AttributeHandle, type: Datatype, space: Dataspace) throws
        -> String
    {
        let reason = "attribute '\(name)'"
        if try check(H5Tis_variable_str(type.id), call: "H5Tis_variable_str", at: site, reason: reason) > 0 {
            // Read in the file's own character set: HDF5 does not convert between ASCII and UTF-8.
            let memoryType = try Datatype(checking: H5Tcopy(chdf5_H5T_C_S1()), call: "H5Tcopy", at: site)
            try check(H5Tset_size(memoryType.id, chdf5_H5T_VARIABLE()), call: "H5Tset_size", at: site)
            try check(H5Tset_cset(memoryType.id, H5Tget_cset(type.id)), call: "H5Tset_cset", at: site)
            var pointer: UnsafeMutablePointer<CChar>? = nil
            try AllocationGuard.limited {
                _ = try check(H5Aread(attribute.id, memoryType.id, &pointer), call: "H5Aread", at: site,
                              reason: reason)
            }
            defer { H5Dvlen_reclaim(memoryType.id, space.id, chdf5_H5P_DEFAULT(), &pointer) }
            return pointer.map { String(cString: $0) } ?? ""
        }
        let memoryType = try Datatype(checking: H5Tcopy(type.id), call: "H5Tcopy", at: site)
        var bytes = [UInt8](repeating: 0, count: H5Tget_size(type.id))
        try withExtendedLifetime(memoryType) {
            _ = try check(H5Aread(attribute.id, memoryType.id, &bytes), call: "H5Aread", at: site, reason: reason)
        }
        if let end = bytes.firstIndex(of: 0) {
            bytes.removeSubrange(end...)
        }
        if H5Tget_strpad(type.id) == H5T_STR_SPACEPAD {
            while bytes.last == UInt8(ascii: " ") { bytes.removeLast() }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private final class NameCollector {
        var names: [String] = []
    }
}
