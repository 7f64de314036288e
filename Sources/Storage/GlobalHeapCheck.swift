import CKernels
import Foundation

/// A check of the global heap collections of an HDF5 file, run before libhdf5 opens it.
///
/// Variable-length strings (every string attribute Storage writes) live in global heap collections, and libhdf5
/// 1.10.8 (Debian's) trusts two numbers of a damaged file in ways found by scripts/fuzz.sh (FuzzResultsFile):
/// - it walks a collection's objects by adding each object's size to the position, so a free-space object
///   (index 0) of size 0 never advances and reading any string of the file loops forever (an object size near 2⁶⁴
///   wraps the position backwards with the same effect);
/// - it allocates and clears a value's stored length before reading the object, so a damaged length (found:
///   4,177,526,772 for a 12-byte string) costs gigabytes of memory and tens of seconds.
/// The walk here is libhdf5's, on the file's bytes, stopping where libhdf5 would not.
///
/// A collection is found by its signature "GCOL" followed by version 1 and a size that fits the file. Raw data
/// could in principle hold those bytes and then a size-0 object, and the file would be refused: as float32 "GCOL"
/// is 5.4·10⁷, as int32 1,280,262,983, and text does not hold a byte 1, so neither weights, metrics, labels nor
/// strings do in practice. The file is memory-mapped and scanned with memmem (about 0.1 s per GB).
enum GlobalHeapCheck {
    /// Bytes of a collection header with 8-byte lengths: signature, version, 3 reserved, collection size.
    private static let headerSize = 16
    /// Bytes of an object header: index (2), reference count (2), reserved (4), size (8).
    private static let objectHeaderSize = 16

    /// A description of the first damage found in the file at `path`, or nil when there is none; nil also when the
    /// file cannot be read (opening it then reports that).
    static func damage(path: String) -> String? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else { return nil }
        return data.withUnsafeBytes { raw -> String? in
            let bytes = raw.bindMemory(to: UInt8.self)
            // Lengths are 8 bytes unless the superblock at offset 0 says otherwise; the walk assumes 8.
            guard bytes.count > headerSize, lengthSize(bytes) == 8 else { return nil }
            var collections: [Int: [UInt16: UInt64]] = [:]
            for position in occurrences(of: Array("GCOL".utf8), in: bytes) {
                switch walk(bytes, at: position) {
                case .damaged(let problem): return "the global heap collection at byte \(position) \(problem)"
                case .collection(let objects): collections[position] = objects
                case .notACollection: break
                }
            }
            for (address, objects) in collections {
                let needle = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(address) >> (8 * UInt64($0))) }
                for position in occurrences(of: needle, in: bytes) where position >= 4 && position + 12 <= bytes.count {
                    if let problem = oversized(bytes, reference: position - 4, objects: objects) {
                        return "the global heap collection at byte \(address) \(problem)"
                    }
                }
            }
            return nil
        }
    }

    /// Every offset at which `needle` starts.
    private static func occurrences(of needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>) -> [Int] {
        var found: [Int] = []
        var start = 0
        while true {
            let hit = ck_find_bytes(bytes.baseAddress, bytes.count, start, needle, needle.count)
            guard hit >= 0 else { return found }
            found.append(hit)
            start = hit + 1
        }
    }

    /// The size of lengths from a superblock at offset 0 (versions 0–1 at byte 14, 2–3 at byte 10), or nil.
    private static func lengthSize(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) else { return nil }
        switch bytes[8] {
        case 0, 1: return Int(bytes[14])
        case 2, 3: return Int(bytes[10])
        default: return nil
        }
    }

    private static func integer(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int, count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    private enum Walk {
        case notACollection
        case damaged(String)
        /// The objects by index (1…) and their sizes in bytes.
        case collection([UInt16: UInt64])
    }

    /// Walks the collection at `position` as libhdf5's deserializer does.
    private static func walk(_ bytes: UnsafeBufferPointer<UInt8>, at position: Int) -> Walk {
        guard position + headerSize <= bytes.count, bytes[position + 4] == 1 else { return .notACollection }
        let size = integer(bytes, at: position + 8, count: 8)
        // Not a collection (a chance match in raw data) unless its size fits the file.
        guard size > UInt64(headerSize), size <= UInt64(bytes.count - position) else { return .notACollection }
        let end = position + Int(size)
        var objects: [UInt16: UInt64] = [:]
        var cursor = position + headerSize
        while cursor + objectHeaderSize <= end {  // what is left after the last header is free space
            let index = UInt16(integer(bytes, at: cursor, count: 2))
            let objectSize = integer(bytes, at: cursor + 8, count: 8)
            let remaining = UInt64(end - cursor)
            guard objectSize <= remaining else {
                return .damaged("is damaged: object \(index) claims \(objectSize) bytes, more than the collection holds")
            }
            let need = index == 0 ? objectSize : UInt64(objectHeaderSize) + (objectSize + 7) / 8 * 8
            if need == 0 {
                return .damaged("is damaged: its free space at byte \(cursor) has size 0, which makes libhdf5 loop forever")
            }
            if index > 0 { objects[index] = objectSize }
            guard need <= remaining else { break }  // libhdf5 stops the walk past the end
            cursor += Int(need)
        }
        return .collection(objects)
    }

    /// A stored variable-length value at `reference` (length 4 bytes, collection address 8, object index 4) whose
    /// length exceeds its object: what is wrong, or nil (also when the bytes name no object of the collection).
    private static func oversized(_ bytes: UnsafeBufferPointer<UInt8>, reference: Int, objects: [UInt16: UInt64])
        -> String?
    {
        let length = integer(bytes, at: reference, count: 4)
        let object = integer(bytes, at: reference + 12, count: 4)
        guard object > 0, object <= UInt64(UInt16.max), let size = objects[UInt16(object)], length > size else {
            return nil
        }
        return "is named at byte \(reference) by a value of length \(length), but its object \(object) holds \(size) "
            + "bytes (libhdf5 would allocate the full length)"
    }
}
