import Foundation

/// The group structure of an HDF5 file, walked on its bytes before libhdf5 opens it.
///
/// libhdf5 1.10.8 bounds its reads by adding the size to the address, which wraps around for addresses near 2⁶⁴:
/// found by scripts/fuzz.sh (FuzzResultsFile), a group whose symbol table names its local heap at byte
/// 0xFFFF_FFFF_FFFF_FFFF made listing the file's groups copy from a null pointer (SIGSEGV). So the tree that
/// libhdf5 would walk — the root's symbol table entry in the superblock, then for every group its symbol table
/// message, local heap, B-tree nodes and symbol table nodes, and every object header with its continuation
/// blocks — is walked here first, and an address or size of 2⁶³ or more (no file is that large) is refused. What
/// points beyond the end of the file, or at a node without its signature, is not followed: libhdf5 reports those
/// itself when it reads them, and the rest of the file stays readable.
///
/// The walk covers the layout libhdf5 writes by default (superblock version 0 or 1 and groups with symbol tables,
/// which is what Storage writes); for a file with another layout (a version-2 or -3 superblock, groups that store
/// links in their headers) it returns nil and the objects are then found through libhdf5 (`H5Ovisit2`).
extension GlobalHeapCheck {
    /// A reachable object: its path and the address of its header.
    struct Object {
        let path: String
        let address: Int
    }

    enum Structure {
        /// Every object reachable from the root group.
        case objects([Object])
        /// What is wrong with the first address outside the file.
        case damaged(String)
        /// A layout the walk does not cover.
        case unsupported
    }

    /// Walks the group tree of `reader`'s file.
    static func structure(_ reader: ByteReader) -> Structure {
        var walk = GroupWalk(reader: reader)
        do {
            guard let root = try walk.rootHeader() else { return .unsupported }
            try walk.visit(header: root, path: "/")
            return walk.supported ? .objects(walk.objects) : .unsupported
        } catch let damage as StructureDamage {
            return .damaged(damage.description)
        } catch {
            return .unsupported
        }
    }
}

private struct StructureDamage: Error, CustomStringConvertible {
    let description: String
}

/// The walk's state: the objects found and the addresses already followed, so that a damaged file whose nodes point
/// at each other cannot loop.
private struct GroupWalk {
    let reader: ByteReader
    var objects: [GlobalHeapCheck.Object] = []
    var supported = true
    private var visitedHeaders: Set<Int> = []
    private var visitedNodes: Set<Int> = []

    init(reader: ByteReader) {
        self.reader = reader
    }

    private var fileSize: Int { reader.bytes.count }

    /// The root group's header address from a version-0 or -1 superblock (base address 0), or nil.
    func rootHeader() throws -> Int? {
        guard let version = reader.byte(at: 8), version <= 1, reader.integer(at: version == 0 ? 24 : 28, count: 8) == 0
        else { return nil }
        // Signature and versions (16 bytes), B-tree K values and flags (8; version 1: 12), four addresses (32),
        // then the root group's symbol table entry: link name offset (8), object header address (8), ...
        let entry = (version == 0 ? 24 : 28) + 32
        try checkDriverInformation(at: entry - 8)
        try checkScratch(entry: entry, path: "/")
        return try address(at: entry + 8, of: "the root group's header (superblock)", extent: 16)
    }

    /// The superblock's driver information block, when it has one (Storage's files do not): libhdf5 reads its
    /// declared size in one piece, clearing what lies past the end of the file (found by fuzzing: a 6 KB file
    /// declaring 1.7 GB took 1.7 GB of memory and seconds to open).
    private func checkDriverInformation(at offset: Int) throws {
        guard let value = reader.integer(at: offset, count: 8), value != UInt64.max else { return }
        let what = "the superblock's driver information block"
        // Version (1), reserved (3), the size of the information (4), the driver's name (8), then the information.
        guard let block = try address(at: offset, of: what, extent: 16),
            let size = reader.integer(at: block + 4, count: 4), size > UInt64(fileSize - block - 16)
        else { return }
        throw StructureDamage(
            description: "\(what) at byte \(block) declares \(size) bytes, more than the file holds (\(fileSize) bytes)")
    }

    /// A symbol table entry of cache type 1 also holds its group's B-tree and local heap addresses, which libhdf5
    /// may use instead of the header's.
    private func checkScratch(entry: Int, path: String) throws {
        guard reader.integer(at: entry + 16, count: 4) == 1 else { return }
        _ = try address(at: entry + 24, of: "the B-tree of group '\(path)' (cached in its symbol table entry)")
        _ = try address(at: entry + 32, of: "the local heap of group '\(path)' (cached in its symbol table entry)",
                        extent: 32)
    }

    /// The address at `offset` when it lies inside the file with `extent` bytes after it; nil (not followed) when it
    /// lies beyond the end, which libhdf5 reports itself when it reads there. Throws for an address or extent of
    /// 2⁶³ or more, where libhdf5's bound checks (address + size) wrap around; `what` names it in the error.
    private func address(at offset: Int, of what: String, extent: UInt64 = 1) throws -> Int? {
        guard let value = reader.integer(at: offset, count: 8) else { return nil }
        guard value <= UInt64(Int.max), extent <= UInt64(Int.max) else {
            throw StructureDamage(
                description: "\(what) is at byte \(value) (\(extent) bytes), outside any file; libhdf5 would read "
                    + "through a wild pointer")
        }
        guard value < UInt64(fileSize), extent <= UInt64(fileSize) - value else { return nil }
        return Int(value)
    }

    mutating func visit(header: Int, path: String, depth: Int = 0) throws {
        // Deeper nesting than any sound file has is left to libhdf5's own traversal, not recursed into here.
        guard depth < Limits.groupDepth else {
            supported = false
            return
        }
        guard visitedHeaders.insert(header).inserted else { return }
        objects.append(GlobalHeapCheck.Object(path: path, address: header))
        var symbolTable: Int? = nil
        let problem = reader.forEachMessage(header: header) { type, _, data in
            switch type {
            case 0x0011: symbolTable = data.lowerBound  // symbol table: B-tree address, local heap address
            case 0x0002, 0x0006: supported = false  // link info and link messages: links stored in the header
            default: break
            }
        }
        if let problem { throw StructureDamage(description: "object '\(path)': \(problem)") }
        guard let table = symbolTable,
            let tree = try address(at: table, of: "the B-tree of group '\(path)'"),
            let heap = try address(at: table + 8, of: "the local heap of group '\(path)'", extent: 32),
            // A node without its signature is refused by libhdf5 itself, with an error, when it is read: not followed.
            reader.integer(at: heap, count: 4) == UInt64(0x5041_4548)  // "HEAP"
        else { return }
        // libhdf5 allocates the name segment's declared size: one larger than the file is damage, not a name list.
        guard let segmentSize = reader.integer(at: heap + 8, count: 8), segmentSize <= UInt64(fileSize) else {
            throw StructureDamage(
                description: "the local heap of group '\(path)' at byte \(heap) declares more bytes than the file has")
        }
        guard let segment = try address(
            at: heap + 24, of: "the name segment of group '\(path)'s local heap", extent: max(segmentSize, 1))
        else { return }
        try visit(node: tree, group: path, names: segment..<(segment + Int(segmentSize)), groupDepth: depth, depth: 0)
    }

    /// A group B-tree node ("TREE", type 0): its children are nodes (level > 0) or symbol table nodes (level 0).
    private mutating func visit(node: Int, group: String, names: Range<Int>, groupDepth: Int, depth: Int) throws {
        guard visitedNodes.insert(node).inserted, depth < 64 else { return }
        guard reader.integer(at: node, count: 4) == UInt64(0x4545_5254), reader.byte(at: node + 4) == 0,
            let level = reader.byte(at: node + 5), let entries = reader.int(at: node + 6, count: 2)
        else { return }  // "TREE", type 0 (groups)
        // Signature, type, level, entries (8), two siblings (16), then key 0 and (child, key) pairs of 8 bytes each.
        for entry in 0..<entries {
            guard let child = try address(at: node + 32 + 16 * entry, of: "a B-tree child of group '\(group)'") else {
                continue
            }
            if level > 0 {
                try visit(node: child, group: group, names: names, groupDepth: groupDepth, depth: depth + 1)
            } else {
                try visit(symbols: child, group: group, names: names, groupDepth: groupDepth)
            }
        }
    }

    /// A symbol table node ("SNOD"): 40-byte entries of link name offset and object header address.
    private mutating func visit(symbols node: Int, group: String, names: Range<Int>, groupDepth: Int) throws {
        guard visitedNodes.insert(node).inserted else { return }
        guard reader.integer(at: node, count: 4) == UInt64(0x444F_4E53), let count = reader.int(at: node + 6, count: 2)
        else { return }  // "SNOD"
        for index in 0..<count {
            let entry = node + 8 + 40 * index
            guard let header = try address(at: entry + 8, of: "an object header of group '\(group)'", extent: 16)
            else { continue }
            let name = linkName(offset: reader.int(at: entry, count: 8), in: names) ?? "#\(index)"
            let path = group == "/" ? "/" + name : group + "/" + name
            try checkScratch(entry: entry, path: path)
            try visit(header: header, path: path, depth: groupDepth + 1)
        }
    }

    /// The NUL-terminated name at `offset` of a local heap's name segment, or nil.
    private func linkName(offset: Int?, in names: Range<Int>) -> String? {
        guard let offset, offset < names.count else { return nil }
        let start = names.lowerBound + offset
        var end = start
        while end < names.upperBound, let byte = reader.byte(at: end), byte != 0 { end += 1 }
        return String(decoding: reader.bytes[start..<end], as: UTF8.self)
    }
}
