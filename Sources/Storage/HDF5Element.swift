import CHDF5

/// The element types Storage reads and writes, with their in-memory and little-endian in-file HDF5 types.
public enum HDF5ElementType: String, Sendable, CaseIterable {
    /// 32-bit IEEE float (`Float`), stored as `H5T_IEEE_F32LE`.
    case float32
    /// 64-bit IEEE float (`Double`), stored as `H5T_IEEE_F64LE`.
    case float64
    /// Signed 8-bit integer (`Int8`), stored as `H5T_STD_I8LE`.
    case int8
    /// Unsigned 8-bit integer (`UInt8`), stored as `H5T_STD_U8LE`.
    case uint8
    /// Signed 32-bit integer (`Int32`), stored as `H5T_STD_I32LE`.
    case int32
    /// Signed 64-bit integer (`Int64`), stored as `H5T_STD_I64LE`.
    case int64

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .int8, .uint8: return 1
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        }
    }

    /// Whether this is a floating-point type.
    public var isFloatingPoint: Bool {
        self == .float32 || self == .float64
    }

    /// Whether this type can hold negative values.
    public var isSigned: Bool {
        self != .uint8
    }

    /// The native type used for buffers in memory.
    var memoryType: hid_t {
        switch self {
        case .float32: return chdf5_H5T_NATIVE_FLOAT()
        case .float64: return chdf5_H5T_NATIVE_DOUBLE()
        case .int8: return chdf5_H5T_NATIVE_INT8()
        case .uint8: return chdf5_H5T_NATIVE_UINT8()
        case .int32: return chdf5_H5T_NATIVE_INT32()
        case .int64: return chdf5_H5T_NATIVE_INT64()
        }
    }

    /// The fixed little-endian type written to files.
    var fileType: hid_t {
        switch self {
        case .float32: return chdf5_H5T_IEEE_F32LE()
        case .float64: return chdf5_H5T_IEEE_F64LE()
        case .int8: return chdf5_H5T_STD_I8LE()
        case .uint8: return chdf5_H5T_STD_U8LE()
        case .int32: return chdf5_H5T_STD_I32LE()
        case .int64: return chdf5_H5T_STD_I64LE()
        }
    }

    /// The stored-type description of this element type.
    var storedType: StoredType {
        StoredType(kind: isFloatingPoint ? .floatingPoint : .integer, byteCount: byteCount, isSigned: isSigned)
    }

    /// The element type matching a stored type exactly, if Storage supports it.
    init?(_ stored: StoredType) {
        guard let match = HDF5ElementType.allCases.first(where: { $0.storedType == stored }) else { return nil }
        self = match
    }
}

extension HDF5ElementType {
    /// The Swift type name for messages, e.g. "Float".
    public var swiftName: String {
        switch self {
        case .float32: return "Float"
        case .float64: return "Double"
        case .int8: return "Int8"
        case .uint8: return "UInt8"
        case .int32: return "Int32"
        case .int64: return "Int64"
        }
    }
}

/// A Swift number type that can be stored in HDF5 datasets: `Float`, `Double`, `Int8`, `UInt8`, `Int32`, `Int64`.
public protocol HDF5Element: BitwiseCopyable, Equatable, Sendable {
    /// The HDF5 element type this Swift type reads and writes.
    static var hdf5ElementType: HDF5ElementType { get }
}

extension Float: HDF5Element {
    /// Stored as 32-bit IEEE float.
    public static var hdf5ElementType: HDF5ElementType { .float32 }
}

extension Double: HDF5Element {
    /// Stored as 64-bit IEEE float.
    public static var hdf5ElementType: HDF5ElementType { .float64 }
}

extension Int8: HDF5Element {
    /// Stored as signed 8-bit integer.
    public static var hdf5ElementType: HDF5ElementType { .int8 }
}

extension UInt8: HDF5Element {
    /// Stored as unsigned 8-bit integer.
    public static var hdf5ElementType: HDF5ElementType { .uint8 }
}

extension Int32: HDF5Element {
    /// Stored as signed 32-bit integer.
    public static var hdf5ElementType: HDF5ElementType { .int32 }
}

extension Int64: HDF5Element {
    /// Stored as signed 64-bit integer.
    public static var hdf5ElementType: HDF5ElementType { .int64 }
}

/// An N-dimensional array in row-major (C, NumPy, PyTorch) order, e.g. a conv weight of shape [64, 3, 3, 3].
public struct HDF5Array<Element: HDF5Element>: Equatable, Sendable {
    /// The size of each dimension, outermost first; empty for a scalar.
    public var shape: [Int]
    /// The elements, last dimension varying fastest; `shape.reduce(1, *)` of them.
    public var values: [Element]

    /// Pairs values with a shape; the counts are checked when the array is written.
    public init(shape: [Int], values: [Element]) {
        self.shape = shape
        self.values = values
    }
}

/// How dataset contents are compressed on disk.
public enum HDF5Compression: Sendable, Hashable {
    /// Stored as is.
    case none
    /// Chunked and compressed with gzip (deflate) at `level` 1 (fastest) … 9 (smallest), after a byte shuffle.
    case deflate(level: Int)
}

/// The kind of object a link in a group points to.
public enum HDF5ObjectKind: Sendable, Equatable {
    /// A group (may contain other objects).
    case group
    /// A dataset (holds an array).
    case dataset
    /// Anything else, e.g. a committed datatype.
    case other
}

/// Chooses chunk dimensions for a compressed dataset: the whole array when it is small, otherwise the largest
/// dimensions halved until one chunk is at most `targetBytes` (HDF5 reads and decompresses whole chunks).
func chunkShape(for shape: [Int], elementByteCount: Int, targetBytes: Int = 1 << 20) -> [Int] {
    var chunk = shape.map { max($0, 1) }
    while chunk.reduce(elementByteCount, *) > targetBytes {
        guard let largest = chunk.indices.max(by: { chunk[$0] < chunk[$1] }), chunk[largest] > 1 else { break }
        chunk[largest] = (chunk[largest] + 1) / 2
    }
    return chunk
}
