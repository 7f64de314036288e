import CKernels
import Foundation

/// A check of the global heap collections of an HDF5 file and of the variable-length values that name them.
///
/// Variable-length strings (every string attribute Storage writes) live in global heap collections, and libhdf5
/// 1.10.8 (Debian's) trusts three numbers of a damaged file in ways found by scripts/fuzz.sh (FuzzResultsFile):
/// - it walks a collection's objects by adding each object's size to the position, so a free-space object
///   (index 0) of size 0 never advances and reading any string of the file loops forever (an object size near 2⁶⁴
///   wraps the position backwards with the same effect);
/// - it allocates and clears a value's stored length before reading the object, so a damaged length (found:
///   4,177,526,772 for a 12-byte string) costs gigabytes of memory and tens of seconds;
/// - it takes the object a value names by index without checking that the collection holds it (an assertion,
///   compiled out of release builds), so a damaged index (found: 4,278,190,081) reads through a wild pointer.
///
/// `init(path:)` walks every collection as libhdf5 does, on the file's bytes, and keeps the objects it holds;
/// `damage` is the first collection libhdf5's walk would not get through. `checkBeforeOpening()` (or, for layouts
/// the group walk does not cover, `referenceCheck(fileID:)` once libhdf5 has opened the file) then checks every
/// value stored in an attribute against them (ObjectHeaderCheck.swift).
///
/// A collection is found by its signature "GCOL" followed by version 1 and a size that fits the file. Raw data
/// could in principle hold those bytes and then a size-0 object, and the file would be refused: as float32 "GCOL"
/// is 5.4·10⁷, as int32 1,280,262,983, and text does not hold a byte 1, so neither weights, metrics, labels nor
/// strings do in practice. The file is memory-mapped and scanned with memmem (about 0.1 s per GB).
final class GlobalHeapCheck {
    /// Bytes of a collection header with 8-byte lengths: signature, version, 3 reserved, collection size.
    private static let headerSize = 16
    /// Bytes of an object header: index (2), reference count (2), reserved (4), size (8).
    private static let objectHeaderSize = 16

    /// The file's bytes, memory-mapped.
    let image: Data
    /// The objects of every collection, by the collection's address: object index (1…) to size in bytes.
    let collections: [Int: [UInt16: UInt64]]
    /// What is wrong with the first collection libhdf5 could not walk, or nil.
    let damage: String?

    /// Maps and walks the file at `path`; nil when it cannot be read (opening it then reports that) or when its
    /// superblock declares addresses or lengths of other than 8 bytes (the walk and the checks assume 8).
    init?(path: String) {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else { return nil }
        var collections: [Int: [UInt16: UInt64]] = [:]
        var damage: String? = nil
        let supported = data.withUnsafeBytes { raw -> Bool in
            let bytes = raw.bindMemory(to: UInt8.self)
            guard bytes.count > Self.headerSize, let sizes = Self.fieldSizes(bytes), sizes == (8, 8) else {
                return false
            }
            for position in Self.occurrences(of: Array("GCOL".utf8), in: bytes) {
                switch Self.walk(bytes, at: position) {
                case .damaged(let problem):
                    damage = "the global heap collection at byte \(position) \(problem)"
                    return true
                case .collection(let objects): collections[position] = objects
                case .notACollection: break
                }
            }
            return true
        }
        guard supported else { return nil }
        self.image = data
        self.collections = collections
        self.damage = damage
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

    /// The sizes of addresses and lengths from a superblock at offset 0 (versions 0–1 at bytes 13–14, 2–3 at
    /// 9–10), or nil.
    private static func fieldSizes(_ bytes: UnsafeBufferPointer<UInt8>) -> (address: Int, length: Int)? {
        guard bytes.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) else { return nil }
        switch bytes[8] {
        case 0, 1: return (Int(bytes[13]), Int(bytes[14]))
        case 2, 3: return (Int(bytes[9]), Int(bytes[10]))
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
}
