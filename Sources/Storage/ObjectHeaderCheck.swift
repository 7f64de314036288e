import CHDF5
import Foundation

/// The variable-length values stored in attributes, checked against the global heap before libhdf5 reads them.
///
/// libhdf5 1.10.8 reads a value's heap object by the index the value stores without checking that the collection
/// holds it, and copies the object's size into a buffer of the value's stored length (GlobalHeapCheck.swift says
/// what fuzzing found). So every object reachable from the root by hard links — found by the group walk before
/// H5Fopen (GroupStructureCheck.swift), or by H5Ovisit2 after it for layouts the walk does not cover — has its
/// object header parsed from the file's bytes (versions 1 and 2, with their continuation blocks), and each value
/// of every attribute of a variable-length type must be null
/// (address 0) or name an object of a collection the heap walk found, whose size is the value's length times the
/// size of its base type — what libhdf5 itself writes.
///
/// Not checked, and left to `AllocationGuard` and libhdf5's own checks: attributes in dense storage (a fractal heap;
/// only version-2 headers with many attributes use it), shared attribute messages and committed datatypes, and
/// variable-length values nested in compound or array types. Storage writes none of these.
extension GlobalHeapCheck {
    /// What the check of every attribute value found.
    struct ReferenceCheck {
        /// The stored values checked (non-null or not), in every object header parsed.
        var checkedValues = 0
        /// What is wrong with the first value that names no heap object it can be read from, or nil.
        var damage: String? = nil
    }

    /// The checks that need no libhdf5, run before H5Fopen: the group walk (GroupStructureCheck.swift) and, when
    /// it covers the file's layout, every attribute value of the objects it found; nil when the layout needs
    /// libhdf5's own traversal, through `referenceCheck(fileID:)` once the file is open.
    func checkBeforeOpening() -> ReferenceCheck? {
        image.withUnsafeBytes { raw -> ReferenceCheck? in
            let reader = ByteReader(bytes: raw.bindMemory(to: UInt8.self))
            switch Self.structure(reader) {
            case .damaged(let problem): return ReferenceCheck(damage: problem)
            case .unsupported: return nil
            case .objects(let objects): return check(objects, reader: reader)
            }
        }
    }

    /// Checks every attribute value of a variable-length type of the objects libhdf5 reaches; `fileID` is the file
    /// opened from this image.
    func referenceCheck(fileID: hid_t) -> ReferenceCheck {
        let objects = Self.reachableObjects(fileID: fileID)
        return image.withUnsafeBytes { raw -> ReferenceCheck in
            check(objects, reader: ByteReader(bytes: raw.bindMemory(to: UInt8.self)))
        }
    }

    private func check(_ objects: [Object], reader: ByteReader) -> ReferenceCheck {
        var check = ReferenceCheck()
        for object in objects {
            for attribute in reader.attributeMessages(header: object.address) {
                check.checkedValues += attribute.valueCount
                if let problem = damage(of: attribute, reader: reader) {
                    check.damage = "attribute '\(attribute.name)' of '\(object.path)' \(problem)"
                    return check
                }
            }
        }
        return check
    }

    private func damage(of attribute: AttributeMessage, reader: ByteReader) -> String? {
        for element in 0..<attribute.valueCount {
            let offset = attribute.valuesOffset + element * Limits.storedValueSize
            guard let length = reader.integer(at: offset, count: 4),
                let address = reader.integer(at: offset + 4, count: 8),
                let index = reader.integer(at: offset + 12, count: 4)
            else { return nil }
            guard address != 0 else { continue }  // a null value
            let value = attribute.valueCount == 1 ? "its value" : "its value \(element)"
            guard address <= UInt64(Int.max), let objects = collections[Int(address)] else {
                return "stores \(value) at byte \(address), where the file has no global heap collection"
            }
            guard index <= UInt64(UInt16.max), let size = objects[UInt16(index)] else {
                return "names object \(index) of the global heap collection at byte \(address), which holds "
                    + (objects.isEmpty ? "no objects" : "objects \(objects.keys.sorted().map(String.init).joined(separator: ", "))")
            }
            let (bytes, overflow) = length.multipliedReportingOverflow(by: UInt64(attribute.baseSize))
            guard !overflow, bytes == size else {
                return "stores \(value) of length \(length), but its object \(index) in the global heap collection "
                    + "at byte \(address) holds \(size) bytes"
            }
        }
        return nil
    }

    private final class VisitedObjects {
        var objects: [Object] = []
    }

    /// Every object reachable from the root group, with the address of its header; what libhdf5 could not visit
    /// of a damaged file is left out (reading it then fails in libhdf5).
    static func reachableObjects(fileID: hid_t) -> [Object] {
        let visited = VisitedObjects()
        let status = H5Ovisit2(
            fileID, H5_INDEX_NAME, H5_ITER_NATIVE,
            { _, name, info, context in
                guard let info, let context else { return -1 }
                let visited = Unmanaged<VisitedObjects>.fromOpaque(context).takeUnretainedValue()
                let relative = name.map { String(cString: $0) } ?? "."
                if info.pointee.addr <= UInt64(Int.max) {
                    visited.objects.append(Object(path: relative == "." ? "/" : "/" + relative, address: Int(info.pointee.addr)))
                }
                return 0
            }, Unmanaged.passUnretained(visited).toOpaque(), UInt32(H5O_INFO_BASIC))
        if status < 0 { H5Eclear2(chdf5_H5E_DEFAULT()) }
        return withExtendedLifetime(visited) { visited.objects }
    }
}

enum Limits {
    /// Bytes of a stored variable-length value with 8-byte addresses: length (4), collection address (8), index (4).
    static let storedValueSize = 16
    /// Header and continuation blocks followed per object: far more than any sound file has; a bound against loops.
    static let blocks = 4096
    /// Groups nested deeper than this are left to libhdf5's traversal (a bound on the walk's recursion).
    static let groupDepth = 256
}

/// An attribute message of a variable-length type: where its stored values are.
struct AttributeMessage {
    let name: String
    /// Bytes of one element of the base type (1 for strings).
    let baseSize: Int
    let valueCount: Int
    let valuesOffset: Int
}

/// Bounds-checked little-endian reads of the file's bytes and the object header layout (HDF5 file format
/// specification 3.0, sections IV.A.1 and IV.A.2).
struct ByteReader {
    let bytes: UnsafeBufferPointer<UInt8>

    func integer(at offset: Int, count: Int) -> UInt64? {
        guard offset >= 0, count <= 8, offset <= bytes.count - count else { return nil }
        return (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    func int(at offset: Int, count: Int) -> Int? {
        integer(at: offset, count: count).flatMap { $0 <= UInt64(Int.max) ? Int($0) : nil }
    }

    func byte(at offset: Int) -> UInt8? {
        offset >= 0 && offset < bytes.count ? bytes[offset] : nil
    }

    /// The attribute messages of a variable-length type in the object header at `header`; what cannot be parsed
    /// is skipped.
    func attributeMessages(header: Int) -> [AttributeMessage] {
        var found: [AttributeMessage] = []
        forEachMessage(header: header) { type, flags, data in
            // 0x000C: attribute; flag 0x02: the message is shared (stored elsewhere).
            if type == 0x000C, flags & 0x02 == 0, let attribute = variableLengthAttribute(in: data) {
                found.append(attribute)
            }
        }
        return found
    }

    /// Calls `body` with each message's type, flags and data, following continuation messages (type 0x0010) that
    /// lie inside the file; returns what is wrong when one is at 2⁶³ or more, where libhdf5's bound checks wrap
    /// around, else nil.
    @discardableResult
    func forEachMessage(header: Int, _ body: (Int, UInt8, Range<Int>) -> Void) -> String? {
        var blocks: [(start: Int, end: Int, version: Int)] = []
        var version2Flags: UInt8 = 0
        if integer(at: header, count: 4) == UInt64(0x5244_484F) {  // "OHDR"
            guard byte(at: header + 4) == 2, let flags = byte(at: header + 5) else { return nil }
            version2Flags = flags
            var cursor = header + 6 + (flags & 0x20 != 0 ? 16 : 0) + (flags & 0x10 != 0 ? 4 : 0)
            let sizeBytes = 1 << Int(flags & 0x03)
            guard let size = int(at: cursor, count: sizeBytes), size <= bytes.count - cursor else { return nil }
            cursor += sizeBytes
            blocks.append((cursor, cursor + size, 2))
        } else {
            guard byte(at: header) == 1, let size = int(at: header + 8, count: 4) else { return nil }
            blocks.append((header + 16, header + 16 + size, 1))
        }
        var seen: Set<Int> = []
        var next = 0
        while next < blocks.count, next < Limits.blocks {
            let block = blocks[next]
            next += 1
            guard seen.insert(block.start).inserted, block.end <= bytes.count else { continue }
            var cursor = block.start
            let prefix = block.version == 1 ? 8 : 4 + (version2Flags & 0x04 != 0 ? 2 : 0)
            while cursor + prefix <= block.end {
                let type: Int
                let flags: UInt8
                let size: Int
                if block.version == 1 {
                    guard let t = int(at: cursor, count: 2), let s = int(at: cursor + 2, count: 2),
                        let f = byte(at: cursor + 4)
                    else { return nil }
                    (type, size, flags) = (t, s, f)
                } else {
                    guard let t = byte(at: cursor), let s = int(at: cursor + 1, count: 2), let f = byte(at: cursor + 3)
                    else { return nil }
                    (type, size, flags) = (Int(t), s, f)
                }
                let data = cursor + prefix
                guard data + size <= block.end else { break }
                if type == 0x0010, let address = integer(at: data, count: 8), let extent = integer(at: data + 8, count: 8) {
                    guard address <= UInt64(Int.max), extent <= UInt64(Int.max) else {
                        return "its header continues at byte \(address) for \(extent) bytes, outside any file"
                    }
                    // One beyond the end of the file is libhdf5's to report.
                    guard address < UInt64(bytes.count), extent <= UInt64(bytes.count) - address else {
                        body(type, flags, data..<(data + size))
                        cursor = data + size
                        continue
                    }
                    let (offset, length) = (Int(address), Int(extent))
                    // Version-2 continuation blocks start with "OCHK" and end with a checksum.
                    if block.version == 1 {
                        blocks.append((offset, offset + length, 1))
                    } else if length >= 8, integer(at: offset, count: 4) == UInt64(0x4B48_434F) {
                        blocks.append((offset + 4, offset + length - 4, 2))
                    }
                }
                body(type, flags, data..<(data + size))
                cursor = data + size
            }
        }
        return nil
    }

    /// The attribute message in `data` when its type is variable-length (class 9), or nil.
    private func variableLengthAttribute(in data: Range<Int>) -> AttributeMessage? {
        let start = data.lowerBound
        guard let version = byte(at: start), (1...3).contains(version),
            let nameSize = int(at: start + 2, count: 2), let typeSize = int(at: start + 4, count: 2),
            let spaceSize = int(at: start + 6, count: 2), nameSize > 0
        else { return nil }
        // Versions 2 and 3 have flags: 0x01 the datatype, 0x02 the dataspace is shared.
        if version >= 2, let flags = byte(at: start + 1), flags & 0x03 != 0 { return nil }
        func padded(_ size: Int) -> Int { version == 1 ? (size + 7) / 8 * 8 : size }
        let name = start + (version == 3 ? 9 : 8)
        let type = name + padded(nameSize)
        let space = type + padded(typeSize)
        let values = space + padded(spaceSize)
        guard let typeClass = byte(at: type), typeClass & 0x0F == 9,
            int(at: type + 4, count: 4) == Limits.storedValueSize,
            let baseSize = int(at: type + 12, count: 4),
            let count = valueCount(space: space), values <= data.upperBound
        else { return nil }
        // Only what the message holds: a count beyond it is libhdf5's to refuse.
        let stored = min(count, (data.upperBound - values) / Limits.storedValueSize)
        let nameBytes = bytes[name..<min(name + nameSize - 1, data.upperBound)]
        return AttributeMessage(
            name: String(decoding: nameBytes, as: UTF8.self), baseSize: baseSize, valueCount: stored,
            valuesOffset: values)
    }

    /// The number of elements of the dataspace message at `space` (versions 1 and 2), or nil.
    private func valueCount(space: Int) -> Int? {
        guard let version = byte(at: space), let rank = byte(at: space + 1) else { return nil }
        let dimensions: Int
        switch version {
        case 1: dimensions = space + 8
        case 2:
            guard let kind = byte(at: space + 3) else { return nil }
            if kind == 2 { return 0 }  // a null dataspace
            dimensions = space + 4
        default: return nil
        }
        var count = 1
        for axis in 0..<Int(rank) {
            guard let extent = int(at: dimensions + 8 * axis, count: 8) else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            count = overflow ? Int.max : product
        }
        return count
    }
}
