import CHDF5

/// An open HDF5 group: a folder of groups and datasets addressed by slash-separated paths such as "runs/a/metrics".
public final class HDF5Group {
    /// The file that holds this group (kept open while the group is alive).
    public let file: HDF5File
    /// The absolute path of the group inside the file, e.g. "/runs/a".
    public let path: String
    let id: hid_t

    /// Opens the group at the absolute `path` of `file`.
    init(file: HDF5File, path: String) throws {
        HDF5Library.prepare()
        self.file = file
        self.path = path
        id = try check(H5Gopen2(file.id, path, chdf5_H5P_DEFAULT()), call: "H5Gopen2", at: file.site(object: path))
    }

    /// Takes ownership of a group identifier that was just created.
    private init(file: HDF5File, path: String, id: hid_t) {
        self.file = file
        self.path = path
        self.id = id
    }

    deinit {
        H5Gclose(id)
    }

    /// The last component of the path ("/" for the root group).
    public var name: String {
        path == "/" ? "/" : String(path.split(separator: "/").last ?? "")
    }

    /// The attributes of this group.
    public var attributes: HDF5Attributes {
        HDF5Attributes(owner: self, objectID: id, site: file.site(object: path))
    }

    // MARK: Groups

    /// Creates the group at `path` (relative to this group, or absolute), creating missing intermediate groups.
    @discardableResult
    public func createGroup(_ path: String) throws -> HDF5Group {
        HDF5Library.prepare()
        let target = try absolutePath(of: path, call: "HDF5Group.createGroup")
        let site = file.site(object: target)
        try file.requireWritable(call: "HDF5Group.createGroup", object: target)
        if let existing = try kind(of: path) {
            throw site.error(
                .alreadyExists, call: "HDF5Group.createGroup",
                reason: "a \(existing) with this path already exists; open it or delete it first")
        }
        let linkList = try PropertyList.creatingIntermediateGroups(at: site)
        let id = try withExtendedLifetime(linkList) {
            try check(
                H5Gcreate2(self.id, path, linkList.id, chdf5_H5P_DEFAULT(), chdf5_H5P_DEFAULT()), call: "H5Gcreate2",
                at: site)
        }
        return HDF5Group(file: file, path: target, id: id)
    }

    /// Opens the existing group at `path` (relative to this group, or absolute).
    public func openGroup(_ path: String) throws -> HDF5Group {
        HDF5Library.prepare()
        let target = try absolutePath(of: path, call: "HDF5Group.openGroup")
        let site = file.site(object: target)
        switch try kind(of: path) {
        case .group:
            return try HDF5Group(file: file, path: target)
        case nil:
            throw site.error(.notFound, call: "HDF5Group.openGroup", reason: "no group at this path")
        case let other?:
            throw site.error(.typeMismatch, call: "HDF5Group.openGroup", reason: "this path is a \(other), not a group")
        }
    }

    /// Opens the group at `path`, creating it and any missing intermediate groups when it does not exist.
    public func openOrCreateGroup(_ path: String) throws -> HDF5Group {
        HDF5Library.prepare()
        _ = try absolutePath(of: path, call: "HDF5Group.openOrCreateGroup")
        return try kind(of: path) == nil ? createGroup(path) : openGroup(path)
    }

    /// The names of the links directly in this group, sorted by name.
    public func children() throws -> [String] {
        HDF5Library.prepare()
        let collector = NameCollector()
        let retained = Unmanaged.passRetained(collector)
        defer { retained.release() }
        try check(
            H5Literate(
                id, H5_INDEX_NAME, H5_ITER_INC, nil,
                { _, name, _, clientData in
                    guard let name, let clientData else { return 0 }
                    Unmanaged<NameCollector>.fromOpaque(clientData).takeUnretainedValue().names.append(
                        String(cString: name))
                    return 0
                }, retained.toOpaque()), call: "H5Literate", at: file.site(object: self.path))
        return collector.names
    }

    /// Whether this group has a link called `name` (of any kind, even one whose target is missing).
    public func hasLink(_ name: String) throws -> Bool {
        HDF5Library.prepare()
        return try check(H5Lexists(id, name, chdf5_H5P_DEFAULT()), call: "H5Lexists", at: file.site(object: path)) > 0
    }

    /// The target of the child link `name` when it is an external link: the file as stored (a relative file
    /// resolves against this file's folder) and the object path inside it; nil for a hard or soft link.
    public func externalLinkTarget(_ name: String) throws -> (file: String, object: String)? {
        HDF5Library.prepare()
        let site = file.site(object: ResultsNames.join(path, name))
        let capacity = 4096
        var targetFile = [CChar](repeating: 0, count: capacity), targetObject = [CChar](repeating: 0, count: capacity)
        let kind = try check(
            chdf5_external_link_target(id, name, &targetFile, capacity, &targetObject, capacity),
            call: "H5Lget_info", at: site)
        guard kind == 1 else { return nil }
        return (String(cString: targetFile), String(cString: targetObject))
    }

    /// Creates the child link `name` to the object `object` of the file `targetFile` (relative paths resolve
    /// against this file's folder when the link is followed, by libhdf5, h5py and h5dump alike).
    public func createExternalLink(_ name: String, toFile targetFile: String, object: String) throws {
        HDF5Library.prepare()
        let site = file.site(object: ResultsNames.join(path, name))
        try file.requireWritable(call: "HDF5Group.createExternalLink", object: site.objectPath ?? name)
        try check(
            H5Lcreate_external(targetFile, object, id, name, chdf5_H5P_DEFAULT(), chdf5_H5P_DEFAULT()),
            call: "H5Lcreate_external", at: site)
    }

    /// Copies the child `name` (with everything below it, external links replaced by copies of their targets)
    /// to `destinationName` in `destination`, which may be in another file.
    public func copyExpandingExternalLinks(_ name: String, to destination: HDF5Group, as destinationName: String) throws {
        HDF5Library.prepare()
        try destination.file.requireWritable(call: "HDF5Group.copy", object: destination.path)
        try check(
            chdf5_copy_expanding_external_links(id, name, destination.id, destinationName),
            call: "H5Ocopy", at: file.site(object: ResultsNames.join(path, name)))
    }

    /// Whether an object exists at `path` (relative to this group, or absolute).
    public func contains(_ path: String) throws -> Bool {
        try kind(of: path) != nil
    }

    /// The kind of object at `path`, or nil when nothing is there (including a path through a dataset).
    public func kind(of path: String) throws -> HDF5ObjectKind? {
        HDF5Library.prepare()
        let target = try absolutePath(of: path, call: "HDF5Group.kind")
        let site = file.site(object: target)
        // H5Lexists needs every intermediate link to exist, so walk the path one component at a time.
        let components = path.split(separator: "/")
        var prefix = path.hasPrefix("/") ? "/" : ""
        for (index, component) in components.enumerated() {
            prefix += (prefix.isEmpty || prefix == "/" ? "" : "/") + component
            guard try check(H5Lexists(id, prefix, chdf5_H5P_DEFAULT()), call: "H5Lexists", at: site) > 0,
                try check(H5Oexists_by_name(id, prefix, chdf5_H5P_DEFAULT()), call: "H5Oexists_by_name", at: site) > 0
            else { return nil }
            let kind = try ObjectHandle(location: id, path: prefix, at: site).kind
            if index == components.count - 1 { return kind }
            if kind != .group { return nil }
        }
        return .group  // path was "/"
    }

    /// Deletes the link at `path` (a group with everything below it, or a dataset). HDF5 does not shrink the file.
    public func deleteChild(_ path: String) throws {
        HDF5Library.prepare()
        let target = try absolutePath(of: path, call: "HDF5Group.deleteChild")
        let site = file.site(object: target)
        try file.requireWritable(call: "HDF5Group.deleteChild", object: target)
        guard try kind(of: path) != nil else {
            throw site.error(.notFound, call: "HDF5Group.deleteChild", reason: "nothing to delete at this path")
        }
        try check(H5Ldelete(id, path, chdf5_H5P_DEFAULT()), call: "H5Ldelete", at: site)
    }

    /// Renames the child link `name` to `newName` in this group; the object itself is not touched.
    public func renameChild(_ name: String, to newName: String) throws {
        HDF5Library.prepare()
        let target = try absolutePath(of: name, call: "HDF5Group.renameChild")
        let site = file.site(object: target)
        try file.requireWritable(call: "HDF5Group.renameChild", object: target)
        try check(H5Lmove(id, name, id, newName, chdf5_H5P_DEFAULT(), chdf5_H5P_DEFAULT()), call: "H5Lmove", at: site)
    }

    // MARK: Datasets

    /// Creates a dataset at `path` holding `array`, creating missing intermediate groups; compressed datasets are
    /// chunked (by `chunkShape`, or chunks of about 1 MiB when nil).
    @discardableResult
    public func createDataset<Element: HDF5Element>(
        _ path: String, array: HDF5Array<Element>, compression: HDF5Compression = .none, chunkShape: [Int]? = nil
    ) throws -> HDF5Dataset {
        try createDataset(
            path, values: array.values, shape: array.shape, compression: compression, chunkShape: chunkShape)
    }

    /// Creates a dataset at `path` holding `values` in row-major order with the given `shape` ([] for a scalar).
    @discardableResult
    public func createDataset<Element: HDF5Element>(
        _ path: String, values: [Element], shape: [Int], compression: HDF5Compression = .none,
        chunkShape: [Int]? = nil
    ) throws -> HDF5Dataset {
        HDF5Library.prepare()
        let call = "HDF5Group.createDataset"
        let target = try absolutePath(of: path, call: call)
        let site = file.site(object: target)
        if shape.contains(where: { $0 < 0 }) {
            throw site.error(.shapeMismatch, call: call, reason: "shape \(shape) has a negative dimension")
        }
        let expectedCount = shape.reduce(1, *)
        guard values.count == expectedCount else {
            throw site.error(
                .shapeMismatch, call: call,
                reason: "\(values.count) values do not fill shape \(shape) (\(expectedCount) elements)")
        }
        // Chunks must be non-empty and not larger than fixed dimensions, so empty arrays and scalars are stored
        // plainly (there is nothing to compress).
        var chunks: [Int]? = nil
        if compression != .none, !shape.isEmpty, expectedCount > 0 {
            chunks = chunkShape ?? Storage.chunkShape(for: shape, elementByteCount: Element.hdf5ElementType.byteCount)
        }
        let dataset = try makeDataset(
            path, target: target, elementType: Element.hdf5ElementType, shape: shape, maximumShape: nil,
            chunkShape: chunks, compression: compression, call: call)
        try dataset.write(values)
        return dataset
    }

    /// Creates an empty one-dimensional dataset of unlimited length at `path`, chunked by `chunkLength` elements,
    /// that grows with `HDF5Dataset.append` (per-round metrics).
    @discardableResult
    public func createExtendibleDataset<Element: HDF5Element>(
        _ path: String, of elementType: Element.Type, chunkLength: Int = 1024, compression: HDF5Compression = .none
    ) throws -> HDF5Dataset {
        HDF5Library.prepare()
        let call = "HDF5Group.createExtendibleDataset"
        let target = try absolutePath(of: path, call: call)
        guard chunkLength > 0 else {
            throw file.site(object: target).error(
                .invalidRequest, call: call, reason: "chunkLength must be positive, got \(chunkLength)")
        }
        return try makeDataset(
            path, target: target, elementType: Element.hdf5ElementType, shape: [0],
            maximumShape: [chdf5_H5S_UNLIMITED()], chunkShape: [chunkLength], compression: compression, call: call)
    }

    /// Opens the existing dataset at `path` (relative to this group, or absolute).
    public func openDataset(_ path: String) throws -> HDF5Dataset {
        HDF5Library.prepare()
        let call = "HDF5Group.openDataset"
        let target = try absolutePath(of: path, call: call)
        let site = file.site(object: target)
        switch try kind(of: path) {
        case .dataset:
            let id = try check(H5Dopen2(self.id, path, chdf5_H5P_DEFAULT()), call: "H5Dopen2", at: site)
            return HDF5Dataset(file: file, path: target, id: id)
        case nil:
            throw site.error(.notFound, call: call, reason: "no dataset at this path")
        case let other?:
            throw site.error(.typeMismatch, call: call, reason: "this path is a \(other), not a dataset")
        }
    }

    /// Reads the whole dataset at `path` with its shape.
    public func readDataset<Element: HDF5Element>(_ path: String, as elementType: Element.Type = Element.self)
        throws -> HDF5Array<Element>
    {
        try openDataset(path).readArray(as: elementType)
    }

    // MARK: Helpers

    private func makeDataset(
        _ path: String, target: String, elementType: HDF5ElementType, shape: [Int], maximumShape: [hsize_t]?,
        chunkShape: [Int]?, compression: HDF5Compression, call: String
    ) throws -> HDF5Dataset {
        let site = file.site(object: target)
        try file.requireWritable(call: call, object: target)
        if let existing = try kind(of: path) {
            throw site.error(
                .alreadyExists, call: call, reason: "a \(existing) with this path already exists; delete it first")
        }
        let space = try Dataspace(shape: shape, maximumShape: maximumShape, at: site)
        let creation = try PropertyList(class: chdf5_H5P_DATASET_CREATE(), at: site)
        if let chunkShape {
            guard chunkShape.count == shape.count, chunkShape.allSatisfy({ $0 > 0 }) else {
                throw site.error(
                    .invalidRequest, call: call,
                    reason: "chunk shape \(chunkShape) must have one positive size per dimension of \(shape)")
            }
            let chunkDimensions = chunkShape.map { hsize_t($0) }
            try check(
                H5Pset_chunk(creation.id, Int32(chunkDimensions.count), chunkDimensions), call: "H5Pset_chunk",
                at: site)
        }
        if case .deflate(let level) = compression {
            guard (0...9).contains(level) else {
                throw site.error(.invalidRequest, call: call, reason: "deflate level must be 0…9, got \(level)")
            }
            guard try check(H5Zfilter_avail(H5Z_FILTER_DEFLATE), call: "H5Zfilter_avail", at: site) > 0 else {
                throw site.error(.invalidRequest, call: call, reason: "this HDF5 library has no deflate filter")
            }
        }
        // Filters work on chunks only; unchunked datasets (scalars, empty arrays) have nothing to compress.
        if case .deflate(let level) = compression, chunkShape != nil {
            // Shuffling groups the bytes of equal significance, which makes floats compress much better.
            try check(H5Pset_shuffle(creation.id), call: "H5Pset_shuffle", at: site)
            try check(H5Pset_deflate(creation.id, UInt32(level)), call: "H5Pset_deflate", at: site)
        }
        let linkList = try PropertyList.creatingIntermediateGroups(at: site)
        let id = try withExtendedLifetime((space, creation, linkList)) {
            try check(
                H5Dcreate2(
                    self.id, path, elementType.fileType, space.id, linkList.id, creation.id, chdf5_H5P_DEFAULT()),
                call: "H5Dcreate2", at: site)
        }
        return HDF5Dataset(file: file, path: target, id: id)
    }

    /// The absolute path of `path` (relative to this group unless it starts with "/"); rejects empty components.
    func absolutePath(of path: String, call: String) throws -> String {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        let body = path.hasPrefix("/") ? components.dropFirst() : components[...]
        if path == "/" { return "/" }
        guard !body.isEmpty, body.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw file.site(object: path).error(
                .invalidRequest, call: call,
                reason: "'\(path)' is not a valid object path; use names separated by single '/' "
                    + "(no empty, '.' or '..' components)")
        }
        if path.hasPrefix("/") { return path }
        return self.path == "/" ? "/" + path : self.path + "/" + path
    }

    private final class NameCollector {
        var names: [String] = []
    }
}
