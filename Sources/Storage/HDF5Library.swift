import CHDF5

/// Library-wide set-up that every entry point of the Storage module runs first.
enum HDF5Library {
    /// Initializes the library once per process.
    private static let opened: Bool = H5open() >= 0

    /// Opens the library and turns HDF5's automatic error printing off for the calling thread.
    ///
    /// The Debian build is thread-safe, and thread-safe HDF5 keeps the error-printing setting per thread, so one
    /// call at start-up is not enough: each public operation switches printing off for the thread it runs on.
    /// Errors reach the user through `check(_:call:at:)` instead of on stderr.
    static func prepare() {
        _ = opened
        H5Eset_auto2(chdf5_H5E_DEFAULT(), nil, nil)
    }
}

/// Owns a dataspace identifier.
final class Dataspace {
    let id: hid_t

    /// Takes ownership of an identifier returned by `call`, after checking it.
    init(checking id: hid_t, call: String, at site: ErrorSite) throws {
        self.id = try check(id, call: call, at: site)
    }

    /// A scalar dataspace for rank 0, otherwise a simple dataspace; `maximumShape` nil means fixed size.
    convenience init(shape: [Int], maximumShape: [hsize_t]? = nil, at site: ErrorSite) throws {
        if shape.isEmpty {
            try self.init(checking: H5Screate(H5S_SCALAR), call: "H5Screate", at: site)
            return
        }
        let dimensions = shape.map { hsize_t($0) }
        let id: hid_t
        if let maximumShape {
            id = H5Screate_simple(Int32(shape.count), dimensions, maximumShape)
        } else {
            id = H5Screate_simple(Int32(shape.count), dimensions, nil)
        }
        try self.init(checking: id, call: "H5Screate_simple", at: site)
    }

    deinit {
        H5Sclose(id)
    }

    /// Current and maximum dimensions; both empty for a scalar dataspace.
    func dimensions(at site: ErrorSite) throws -> (current: [hsize_t], maximum: [hsize_t]) {
        let rank = Int(try check(H5Sget_simple_extent_ndims(id), call: "H5Sget_simple_extent_ndims", at: site))
        var current = [hsize_t](repeating: 0, count: rank)
        var maximum = [hsize_t](repeating: 0, count: rank)
        if rank > 0 {
            try check(H5Sget_simple_extent_dims(id, &current, &maximum), call: "H5Sget_simple_extent_dims", at: site)
        }
        return (current, maximum)
    }

    /// The number of elements in the dataspace.
    func elementCount(at site: ErrorSite) throws -> Int {
        Int(try check(H5Sget_simple_extent_npoints(id), call: "H5Sget_simple_extent_npoints", at: site))
    }

    /// Selects the one-dimensional range `start ..< start + count`.
    func selectRange(start: Int, count: Int, at site: ErrorSite) throws {
        var offset = [hsize_t(start)]
        var size = [hsize_t(count)]
        try check(
            H5Sselect_hyperslab(id, H5S_SELECT_SET, &offset, nil, &size, nil), call: "H5Sselect_hyperslab",
            at: site)
    }
}

/// Owns a datatype identifier that the library created for us (never one of the predefined `H5T_*` types).
final class Datatype {
    let id: hid_t

    /// Takes ownership of an identifier returned by `call`, after checking it.
    init(checking id: hid_t, call: String, at site: ErrorSite) throws {
        self.id = try check(id, call: call, at: site)
    }

    deinit {
        H5Tclose(id)
    }

    /// A UTF-8 string type, variable-length when `byteCount` is nil, otherwise fixed-length and NUL-padded.
    static func utf8String(byteCount: Int?, at site: ErrorSite) throws -> Datatype {
        let type = try Datatype(checking: H5Tcopy(chdf5_H5T_C_S1()), call: "H5Tcopy", at: site)
        if let byteCount {
            try check(H5Tset_size(type.id, max(byteCount, 1)), call: "H5Tset_size", at: site)
            try check(H5Tset_strpad(type.id, H5T_STR_NULLPAD), call: "H5Tset_strpad", at: site)
        } else {
            try check(H5Tset_size(type.id, chdf5_H5T_VARIABLE()), call: "H5Tset_size", at: site)
        }
        try check(H5Tset_cset(type.id, H5T_CSET_UTF8), call: "H5Tset_cset", at: site)
        return type
    }

    /// The class, size and signedness of this type, for checking what it can be read as.
    func storedType(at site: ErrorSite) throws -> StoredType {
        let typeClass = H5Tget_class(id)
        try check(typeClass.rawValue, call: "H5Tget_class", at: site)
        let size = H5Tget_size(id)
        switch typeClass {
        case H5T_FLOAT:
            return StoredType(kind: .floatingPoint, byteCount: size, isSigned: true)
        case H5T_INTEGER:
            let sign = H5Tget_sign(id)
            return StoredType(kind: .integer, byteCount: size, isSigned: sign == H5T_SGN_2)
        case H5T_STRING:
            return StoredType(kind: .string, byteCount: size, isSigned: false)
        default:
            return StoredType(kind: .other, byteCount: size, isSigned: false)
        }
    }
}

/// Owns a property-list identifier.
final class PropertyList {
    let id: hid_t

    /// A new property list of the given class (e.g. `chdf5_H5P_DATASET_CREATE()`).
    init(class propertyListClass: hid_t, at site: ErrorSite) throws {
        id = try check(H5Pcreate(propertyListClass), call: "H5Pcreate", at: site)
    }

    /// Takes ownership of an identifier returned by `call`, after checking it.
    init(checking id: hid_t, call: String, at site: ErrorSite) throws {
        self.id = try check(id, call: call, at: site)
    }

    deinit {
        H5Pclose(id)
    }

    /// A link-creation list that creates missing intermediate groups, so "runs/a/metrics" works in one call.
    static func creatingIntermediateGroups(at site: ErrorSite) throws -> PropertyList {
        let list = try PropertyList(class: chdf5_H5P_LINK_CREATE(), at: site)
        try check(H5Pset_create_intermediate_group(list.id, 1), call: "H5Pset_create_intermediate_group", at: site)
        return list
    }
}

/// Owns an attribute identifier.
final class AttributeHandle {
    let id: hid_t

    /// Takes ownership of an identifier returned by `call`, after checking it; `reason` names the attribute.
    init(checking id: hid_t, call: String, at site: ErrorSite, reason: String? = nil) throws {
        self.id = try check(id, call: call, at: site, reason: reason)
    }

    deinit {
        H5Aclose(id)
    }
}

/// Owns a generic object identifier opened with `H5Oopen`, used to learn what kind of object a link points to.
final class ObjectHandle {
    let id: hid_t

    /// Opens the object at `path` relative to `location`.
    init(location: hid_t, path: String, at site: ErrorSite) throws {
        id = try check(H5Oopen(location, path, chdf5_H5P_DEFAULT()), call: "H5Oopen", at: site)
    }

    deinit {
        H5Oclose(id)
    }

    /// Whether the object is a group, a dataset or something else.
    var kind: HDF5ObjectKind {
        switch H5Iget_type(id) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        default: return .other
        }
    }
}

/// The class, size and signedness of a type stored in a file.
struct StoredType: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case floatingPoint, integer, string, other
    }

    var kind: Kind
    var byteCount: Int
    var isSigned: Bool

    /// Whether every stored value fits `target` exactly, so reading cannot round, wrap or clip.
    func isLosslesslyReadable(as target: HDF5ElementType) -> Bool {
        switch kind {
        case .floatingPoint:
            return target.isFloatingPoint && target.byteCount >= byteCount
        case .integer:
            guard !target.isFloatingPoint else { return false }
            if target.isSigned {
                return isSigned ? target.byteCount >= byteCount : target.byteCount > byteCount
            }
            return !isSigned && target.byteCount >= byteCount
        case .string, .other:
            return false
        }
    }

    /// A readable name for messages, e.g. "float32" or "uint16".
    var name: String {
        switch kind {
        case .floatingPoint: return "float\(byteCount * 8)"
        case .integer: return (isSigned ? "int" : "uint") + "\(byteCount * 8)"
        case .string: return "string"
        case .other: return "a non-numeric type"
        }
    }
}
