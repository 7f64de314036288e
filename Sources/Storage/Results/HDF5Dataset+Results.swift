import CHDF5
import Foundation

// What the results layout needs beyond the general HDF5 layer: shrinking a metric column (resuming from an earlier
// checkpoint) and an array-of-strings attribute (the device groups' names).
extension HDF5Dataset {
    /// Shrinks or grows a one-dimensional extendible dataset to `length` elements (new elements read as the fill
    /// value, 0); does not flush.
    func resize(toLength length: Int) throws {
        HDF5Library.prepare()
        let call = "HDF5Dataset.resize"
        let site = file.site(object: path)
        try file.requireWritable(call: call, object: path)
        guard try isExtendible() else {
            throw site.error(
                .invalidRequest, call: call,
                reason: "the dataset is not one-dimensional and extendible; only such datasets change length")
        }
        var newLength = [hsize_t(max(length, 0))]
        try check(H5Dset_extent(id, &newLength), call: "H5Dset_extent", at: site)
    }

    /// Sets the attribute `name` to a one-dimensional array of variable-length UTF-8 strings (h5py reads it as
    /// an array of `str`), replacing any attribute of that name.
    func setStringArrayAttribute(_ name: String, to strings: [String]) throws {
        HDF5Library.prepare()
        let call = "HDF5Dataset.setStringArrayAttribute"
        let site = file.site(object: path)
        let reason = "attribute '\(name)'"
        try file.requireWritable(call: call, object: path)
        if let bad = strings.first(where: { $0.utf8.contains(0) }) {
            throw site.error(
                .invalidRequest, call: call,
                reason: "'\(bad)' contains a NUL character, which HDF5 strings cannot hold")
        }
        if try check(H5Aexists(id, name), call: "H5Aexists", at: site, reason: reason) > 0 {
            try check(H5Adelete(id, name), call: "H5Adelete", at: site, reason: reason)
        }
        let type = try Datatype.utf8String(byteCount: nil, at: site)
        let space = try Dataspace(shape: [strings.count], at: site)
        let attribute = try withExtendedLifetime((type, space)) {
            try AttributeHandle(
                checking: H5Acreate2(id, name, type.id, space.id, chdf5_H5P_DEFAULT(), chdf5_H5P_DEFAULT()),
                call: "H5Acreate2", at: site, reason: reason)
        }
        guard !strings.isEmpty else { return }
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        try withExtendedLifetime((attribute, type)) {
            try copies.withUnsafeBufferPointer { pointers in
                _ = try check(
                    H5Awrite(attribute.id, type.id, pointers.baseAddress), call: "H5Awrite", at: site, reason: reason)
            }
        }
    }

    /// The attribute `name` as an array of strings; it must hold variable-length strings.
    func stringArrayAttribute(_ name: String) throws -> [String] {
        HDF5Library.prepare()
        let call = "HDF5Dataset.stringArrayAttribute"
        let site = file.site(object: path)
        let reason = "attribute '\(name)'"
        guard try check(H5Aexists(id, name), call: "H5Aexists", at: site, reason: reason) > 0 else {
            throw site.error(.notFound, call: call, reason: "no attribute '\(name)'")
        }
        let attribute = try AttributeHandle(
            checking: H5Aopen(id, name, chdf5_H5P_DEFAULT()), call: "H5Aopen", at: site, reason: reason)
        let type = try Datatype(checking: H5Aget_type(attribute.id), call: "H5Aget_type", at: site)
        let space = try Dataspace(checking: H5Aget_space(attribute.id), call: "H5Aget_space", at: site)
        guard H5Tget_class(type.id) == H5T_STRING,
            try check(H5Tis_variable_str(type.id), call: "H5Tis_variable_str", at: site, reason: reason) > 0
        else {
            throw site.error(
                .typeMismatch, call: call, reason: "attribute '\(name)' does not hold variable-length strings")
        }
        let count = try space.elementCount(at: site)
        guard count > 0 else { return [] }
        // Read in the file's own character set: HDF5 does not convert between ASCII and UTF-8.
        let memoryType = try Datatype(checking: H5Tcopy(chdf5_H5T_C_S1()), call: "H5Tcopy", at: site)
        try check(H5Tset_size(memoryType.id, chdf5_H5T_VARIABLE()), call: "H5Tset_size", at: site)
        try check(H5Tset_cset(memoryType.id, H5Tget_cset(type.id)), call: "H5Tset_cset", at: site)
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        try AllocationGuard.limited {
            _ = try check(H5Aread(attribute.id, memoryType.id, &pointers), call: "H5Aread", at: site,
                          reason: reason)
        }
        defer { H5Dvlen_reclaim(memoryType.id, space.id, chdf5_H5P_DEFAULT(), &pointers) }
        return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }
}
