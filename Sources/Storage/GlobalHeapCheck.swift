import Foundation

/// A check of the global heap collections of an HDF5 file, run before libhdf5 opens it.
///
/// Variable-length strings (every string attribute Storage writes) live in global heap collections. libhdf5 1.10.8
/// (Debian's) walks a collection's objects by adding each object's size to the position, and a damaged collection
/// with a free-space object (index 0) of size 0 never advances: reading any string of the file then loops forever
/// (found by scripts/fuzz.sh, FuzzResultsFile; an object size near 2⁶⁴ wraps the position backwards with the same
/// effect). The walk here is libhdf5's, on the file's bytes, stopping where libhdf5 would not.
///
/// A collection is found by its signature "GCOL" followed by version 1 and a size that fits the file; the scan
/// reads the whole file once in large blocks. Raw data could in principle hold those bytes and then a size-0 object,
/// and the file would be refused: as float32 "GCOL" is 5.4·10⁷, as int32 1,280,262,983, and text does not hold a
/// byte 1, so neither weights, metrics, labels nor strings do in practice.
enum GlobalHeapCheck {
    /// Bytes of a collection header with 8-byte lengths: signature, version, 3 reserved, collection size.
    private static let headerSize = 16
    /// Bytes of an object header: index (2), reference count (2), reserved (4), size (8).
    private static let objectHeaderSize = 16
    private static let blockSize = 1 << 22

    /// A description of the first damaged collection of the file at `path` (its offset and what is wrong), or nil
    /// when every collection can be walked; nil also when the file cannot be read (opening it then reports that).
    static func damage(path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let fileSize = try? handle.seekToEnd(), fileSize > UInt64(headerSize) else { return nil }
        // Lengths are 8 bytes unless the superblock at offset 0 says otherwise; the walk below assumes 8.
        guard (try? handle.seek(toOffset: 0)) != nil, let superblock = try? handle.read(upToCount: 16),
            superblock.count == 16, lengthSize(superblock: superblock) == 8
        else { return nil }
        var offset: UInt64 = 0
        // Blocks overlap by a header so that a signature split between two blocks is still found.
        while offset < fileSize {
            guard (try? handle.seek(toOffset: offset)) != nil,
                let block = try? handle.read(upToCount: blockSize + headerSize), block.count >= 4
            else { return nil }
            var found: [Int] = []
            block.withUnsafeBytes { raw in
                let bytes = raw.bindMemory(to: UInt8.self)
                var index = 0
                while index + 4 <= bytes.count, index < blockSize {
                    guard let pointer = memchr(bytes.baseAddress! + index, Int32(UInt8(ascii: "G")), min(blockSize, bytes.count - 3) - index)
                    else { break }
                    index = UnsafePointer<UInt8>(pointer.assumingMemoryBound(to: UInt8.self)) - bytes.baseAddress!
                    if bytes[index + 1] == UInt8(ascii: "C"), bytes[index + 2] == UInt8(ascii: "O"),
                        bytes[index + 3] == UInt8(ascii: "L")
                    {
                        found.append(index)
                    }
                    index += 1
                }
            }
            for index in found {
                let position = offset + UInt64(index)
                if let problem = walk(handle: handle, at: position, fileSize: fileSize) {
                    return "the global heap collection at byte \(position) \(problem)"
                }
            }
            offset += UInt64(blockSize)
        }
        return nil
    }

    /// The size of lengths from a superblock at offset 0 (versions 0–1 at byte 14, 2–3 at byte 10), or nil.
    private static func lengthSize(superblock: Data) -> Int? {
        let bytes = [UInt8](superblock)
        guard bytes.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) else { return nil }
        switch bytes[8] {
        case 0, 1: return Int(bytes[14])
        case 2, 3: return Int(bytes[10])
        default: return nil
        }
    }

    /// Walks the collection at `position` as libhdf5's deserializer does; what is wrong, or nil.
    private static func walk(handle: FileHandle, at position: UInt64, fileSize: UInt64) -> String? {
        guard (try? handle.seek(toOffset: position)) != nil,
            let header = try? handle.read(upToCount: headerSize), header.count == headerSize,
            header[header.startIndex + 4] == 1
        else { return nil }
        let size = header.littleEndianUInt64(at: 8)
        // Not a collection (a chance match in raw data) unless its size fits the file.
        guard size > UInt64(headerSize), size <= fileSize - position,
            (try? handle.seek(toOffset: position)) != nil, let chunk = try? handle.read(upToCount: Int(size)),
            chunk.count == Int(size)
        else { return nil }
        var cursor = headerSize
        while cursor < chunk.count {
            guard cursor + objectHeaderSize <= chunk.count else { return nil }  // trailing free space
            let index = chunk.littleEndianUInt16(at: cursor)
            let objectSize = chunk.littleEndianUInt64(at: cursor + 8)
            let remaining = UInt64(chunk.count - cursor)
            guard objectSize <= remaining else {
                return "is damaged: object \(index) claims \(objectSize) bytes, more than the collection holds"
            }
            let need = index == 0 ? objectSize : UInt64(objectHeaderSize) + (objectSize + 7) / 8 * 8
            if need == 0 {
                return "is damaged: its free space at byte \(position + UInt64(cursor)) has size 0, which makes "
                    + "libhdf5 loop forever"
            }
            guard need <= remaining else { return nil }  // libhdf5 stops the walk past the end
            cursor += Int(need)
        }
        return nil
    }
}

extension Data {
    fileprivate func littleEndianUInt64(at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(self[startIndex + offset + $1]) << (8 * UInt64($1)) }
    }

    fileprivate func littleEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(self[startIndex + offset]) | UInt16(self[startIndex + offset + 1]) << 8
    }
}
