import CHDF5
import Foundation

/// An open HDF5 dataset: an N-dimensional array of numbers, fixed-size or (one-dimensional) extendible.
public final class HDF5Dataset {
    /// The file that holds this dataset (kept open while the dataset is alive).
    public let file: HDF5File
    /// The absolute path of the dataset inside the file, e.g. "/runs/a/metrics/accuracy".
    public let path: String
    let id: hid_t

    /// Takes ownership of a dataset identifier that was just created or opened.
    init(file: HDF5File, path: String, id: hid_t) {
        self.file = file
        self.path = path
        self.id = id
    }

    deinit {
        H5Dclose(id)
    }

    /// The attributes of this dataset.
    public var attributes: HDF5Attributes {
        HDF5Attributes(owner: self, objectID: id, site: site)
    }

    /// The current size of each dimension, outermost first; [] for a scalar.
    public func shape() throws -> [Int] {
        HDF5Library.prepare()
        return try dataspace().dimensions(at: site).current.map { Int($0) }
    }

    /// Whether the dataset is one-dimensional with unlimited length, so that `append` works.
    public func isExtendible() throws -> Bool {
        HDF5Library.prepare()
        let maximum = try dataspace().dimensions(at: site).maximum
        return maximum.count == 1 && maximum[0] == chdf5_H5S_UNLIMITED()
    }

    /// The stored element type, or nil when it is not one Storage supports.
    public func elementType() throws -> HDF5ElementType? {
        HDF5Library.prepare()
        return HDF5ElementType(try storedType())
    }

    /// The compression filter the dataset was created with.
    public func compression() throws -> HDF5Compression {
        HDF5Library.prepare()
        let creation = try PropertyList(checking: H5Dget_create_plist(id), call: "H5Dget_create_plist", at: site)
        return try withExtendedLifetime(creation) {
            let filterCount = try check(H5Pget_nfilters(creation.id), call: "H5Pget_nfilters", at: site)
            for index in 0..<UInt32(filterCount) {
                var flags: UInt32 = 0
                var valueCount = 1
                var values: [UInt32] = [0]
                var configuration: UInt32 = 0
                let filter = try check(
                    H5Pget_filter2(creation.id, index, &flags, &valueCount, &values, 0, nil, &configuration),
                    call: "H5Pget_filter2", at: site)
                if filter == H5Z_FILTER_DEFLATE {
                    return .deflate(level: Int(values[0]))
                }
            }
            return HDF5Compression.none
        }
    }

    /// Reads all elements in row-major order; reading into a wider type (Float → Double, Int32 → Int64) is allowed.
    public func read<Element: HDF5Element>(as elementType: Element.Type = Element.self) throws -> [Element] {
        HDF5Library.prepare()
        let call = "HDF5Dataset.read"
        let stored = try storedType()
        guard stored.isLosslesslyReadable(as: Element.hdf5ElementType) else {
            throw site.error(
                .typeMismatch, call: call,
                reason: "the dataset holds \(stored.name) elements, which do not fit \(Element.self) "
                    + "without loss; read it as \(HDF5ElementType(stored).map(\.swiftName) ?? "another type")")
        }
        let count = try dataspace().elementCount(at: site)
        guard count > 0 else { return [] }
        // A damaged or hostile file can declare any extent (scripts/fuzz.sh found one of 4·10¹⁸ bytes): refuse
        // what this machine cannot hold instead of dying in the allocator.
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<Element>.stride)
        let memory = ProcessInfo.processInfo.physicalMemory
        guard !overflow, UInt64(bytes) <= memory else {
            throw site.error(
                .invalidRequest, call: call,
                reason: "the dataset declares \(count) elements (\(overflow ? "more than 2⁶³" : "\(bytes)") bytes), more than this "
                    + "machine's \(memory / 1_048_576) MiB of memory; the file is damaged, or the array must be stored in smaller parts")
        }
        try requireCompactDataComplete(count: count, call: call)
        return try [Element](unsafeUninitializedCapacity: count) { buffer, initializedCount in
            try check(
                H5Dread(
                    id, Element.hdf5ElementType.memoryType, chdf5_H5S_ALL(), chdf5_H5S_ALL(), chdf5_H5P_DEFAULT(),
                    buffer.baseAddress),
                call: "H5Dread", at: site)
            initializedCount = count
        }
    }

    /// Reads all elements together with the shape.
    public func readArray<Element: HDF5Element>(as elementType: Element.Type = Element.self) throws
        -> HDF5Array<Element>
    {
        let values = try read(as: elementType)
        return HDF5Array(shape: try shape(), values: values)
    }

    /// Overwrites all elements; `values` must have exactly as many elements as the dataset.
    public func write<Element: HDF5Element>(_ values: [Element]) throws {
        HDF5Library.prepare()
        let call = "HDF5Dataset.write"
        try file.requireWritable(call: call, object: path)
        try requireStorable(Element.self, call: call)
        let count = try dataspace().elementCount(at: site)
        guard values.count == count else {
            throw site.error(
                .shapeMismatch, call: call,
                reason: "\(values.count) values given for a dataset of shape \(try shape()) (\(count) elements)")
        }
        guard count > 0 else { return }
        try values.withUnsafeBytes { bytes in
            _ = try check(
                H5Dwrite(
                    id, Element.hdf5ElementType.memoryType, chdf5_H5S_ALL(), chdf5_H5S_ALL(), chdf5_H5P_DEFAULT(),
                    bytes.baseAddress),
                call: "H5Dwrite", at: site)
        }
    }

    /// Appends `values` to an extendible dataset and, when `flush` is true, flushes the file so that the values
    /// survive a crash of the process.
    public func append<Element: HDF5Element>(contentsOf values: [Element], flush: Bool = true) throws {
        HDF5Library.prepare()
        let call = "HDF5Dataset.append"
        try file.requireWritable(call: call, object: path)
        try requireStorable(Element.self, call: call)
        let (current, maximum) = try dataspace().dimensions(at: site)
        guard current.count == 1, maximum[0] == chdf5_H5S_UNLIMITED() else {
            throw site.error(
                .invalidRequest, call: call,
                reason: "the dataset is not one-dimensional and extendible; create it with createExtendibleDataset")
        }
        guard !values.isEmpty else { return }
        let start = Int(current[0])
        var newLength = [current[0] + hsize_t(values.count)]
        try check(H5Dset_extent(id, &newLength), call: "H5Dset_extent", at: site)
        let fileSpace = try dataspace()
        try fileSpace.selectRange(start: start, count: values.count, at: site)
        let memorySpace = try Dataspace(shape: [values.count], at: site)
        try withExtendedLifetime((fileSpace, memorySpace)) {
            try values.withUnsafeBytes { bytes in
                _ = try check(
                    H5Dwrite(
                        id, Element.hdf5ElementType.memoryType, memorySpace.id, fileSpace.id, chdf5_H5P_DEFAULT(),
                        bytes.baseAddress),
                    call: "H5Dwrite", at: site)
            }
        }
        if flush {
            try check(H5Fflush(id, H5F_SCOPE_LOCAL), call: "H5Fflush", at: site)
        }
    }

    /// Appends one value to an extendible dataset and flushes the file.
    public func append<Element: HDF5Element>(_ value: Element) throws {
        try append(contentsOf: [value])
    }

    // MARK: Helpers

    private var site: ErrorSite {
        file.site(object: path)
    }

    /// A compact dataset keeps its data in its header; libhdf5 1.10.8 copies `count` elements out of it without
    /// checking that the header holds them, and a damaged file with fewer stored bytes (found by scripts/fuzz.sh:
    /// 0 bytes for 2 labels) makes it read through a null pointer. Refuse such a dataset as damaged.
    private func requireCompactDataComplete(count: Int, call: String) throws {
        let creation = try PropertyList(checking: H5Dget_create_plist(id), call: "H5Dget_create_plist", at: site)
        let layout = withExtendedLifetime(creation) { H5Pget_layout(creation.id) }
        guard layout == H5D_COMPACT else { return }
        let type = try Datatype(checking: H5Dget_type(id), call: "H5Dget_type", at: site)
        let needed = UInt64(count) * UInt64(withExtendedLifetime(type) { H5Tget_size(type.id) })
        let stored = H5Dget_storage_size(id)
        guard stored >= needed else {
            throw site.error(
                .damaged, call: call,
                reason: "the file is damaged: the compact dataset declares \(count) elements (\(needed) bytes) but "
                    + "stores \(stored) bytes; restore the file from a copy, or write it again")
        }
    }

    private func dataspace() throws -> Dataspace {
        try Dataspace(checking: H5Dget_space(id), call: "H5Dget_space", at: site)
    }

    private func storedType() throws -> StoredType {
        try Datatype(checking: H5Dget_type(id), call: "H5Dget_type", at: site).storedType(at: site)
    }

    /// Throws unless every `Element` value fits the stored type exactly.
    private func requireStorable<Element: HDF5Element>(_ type: Element.Type, call: String) throws {
        let stored = try storedType()
        guard let storedElementType = HDF5ElementType(stored),
            Element.hdf5ElementType.storedType.isLosslesslyReadable(as: storedElementType)
        else {
            throw site.error(
                .typeMismatch, call: call,
                reason: "the dataset holds \(stored.name) elements, which cannot hold every \(Element.self) value; "
                    + "write \(HDF5ElementType(stored).map(\.swiftName) ?? "a matching type") values")
        }
    }
}
