import CDNNL
import Glibc

/// An error reported by a oneDNN call, naming the call and the status it returned.
public struct DNNLError: Error, CustomStringConvertible {
    /// The C function that failed.
    public let call: String
    /// The raw status code.
    public let status: dnnl_status_t
    /// What the caller was doing, for the message.
    public let context: String

    public var description: String {
        let reason: String
        switch status {
        case dnnl_out_of_memory: reason = "out of memory"
        case dnnl_invalid_arguments: reason = "invalid arguments"
        case dnnl_unimplemented: reason = "no implementation for these shapes, layouts or attributes"
        case dnnl_iterator_ends: reason = "iterator ends"
        case dnnl_runtime_error: reason = "runtime error"
        case dnnl_not_required: reason = "not required"
        default: reason = "status \(status.rawValue)"
        }
        return "oneDNN call \(call) failed: \(reason)" + (context.isEmpty ? "" : " (\(context))")
    }
}

/// Turns a oneDNN status into a thrown `DNNLError` naming the call.
@inline(__always)
func check(_ status: dnnl_status_t, _ call: @autoclosure () -> String, _ context: @autoclosure () -> String = "") throws {
    if status != dnnl_success { throw DNNLError(call: call(), status: status, context: context()) }
}

/// Owner of a oneDNN CPU engine and its in-order stream, plus the scratchpad shared by all primitives
/// (so a context and everything made with it belong to one thread at a time; use one context per thread)
/// and the engine's own accounting of live tensor and workspace bytes.
public final class ComputeContext: @unchecked Sendable {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    private(set) var scratchpad: UnsafeMutableRawPointer?
    private(set) var scratchpadBytes = 0
    /// Bytes of tensor memory currently allocated through this context.
    public private(set) var liveBytes = 0
    /// The largest value `liveBytes + scratchpadBytes` has reached since the last `resetPeak()`.
    public private(set) var peakBytes = 0

    /// Creates the CPU engine (index 0) and a stream on it.
    public init() throws {
        var engine: dnnl_engine_t?
        try check(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create")
        var stream: dnnl_stream_t?
        do {
            try check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
        } catch {
            dnnl_engine_destroy(engine)
            throw error
        }
        self.engine = engine!
        self.stream = stream!
    }

    deinit {
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
        scratchpad.map { free($0) }
    }

    /// Waits for all submitted primitives to finish.
    public func wait() throws {
        try check(dnnl_stream_wait(stream), "dnnl_stream_wait")
    }

    /// Makes the shared scratchpad at least `bytes` large. Called when a primitive is created, never per call.
    func reserveScratchpad(_ bytes: Int) {
        guard bytes > scratchpadBytes else { return }
        scratchpad.map { free($0) }
        scratchpad = alignedAllocate(bytes)
        scratchpadBytes = bytes
        notePeak()
    }

    func noteAllocation(_ bytes: Int) {
        liveBytes += bytes
        notePeak()
    }

    func noteRelease(_ bytes: Int) { liveBytes -= bytes }

    private func notePeak() { peakBytes = max(peakBytes, liveBytes + scratchpadBytes) }

    /// Restarts peak accounting from the current live bytes.
    public func resetPeak() { peakBytes = liveBytes + scratchpadBytes }
}

/// 64-byte aligned allocation for tensors (oneDNN kernels use aligned vector loads).
func alignedAllocate(_ bytes: Int) -> UnsafeMutableRawPointer {
    var pointer: UnsafeMutableRawPointer?
    let status = posix_memalign(&pointer, 64, max(bytes, 64))
    precondition(status == 0 && pointer != nil, "posix_memalign(\(bytes)) failed: out of memory")
    return pointer!
}

/// Owner of a oneDNN primitive descriptor and the primitive created from it.
final class Primitive {
    let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    let name: String
    private let context: ComputeContext
    private let scratchpadMemory: dnnl_memory_t?

    /// Creates the primitive descriptor from an operation descriptor, then the primitive.
    convenience init<Op>(
        _ name: String, operation: inout Op, context: ComputeContext,
        attributes: PrimitiveAttributes? = nil, hint: Primitive? = nil
    ) throws {
        let attr = try attributes ?? PrimitiveAttributes()
        var pd: dnnl_primitive_desc_t?
        try withUnsafePointer(to: &operation) { op in
            try check(
                dnnl_primitive_desc_create(&pd, UnsafeRawPointer(op), attr.handle, context.engine, hint?.descriptor),
                "dnnl_primitive_desc_create", name)
        }
        try self.init(name, descriptor: pd!, context: context)
    }

    /// Takes ownership of an already created primitive descriptor (reorder, concat, sum).
    init(_ name: String, descriptor pd: dnnl_primitive_desc_t, context: ComputeContext) throws {
        var primitive: dnnl_primitive_t?
        do {
            try check(dnnl_primitive_create(&primitive, pd), "dnnl_primitive_create", name)
        } catch {
            dnnl_primitive_desc_destroy(pd)
            throw error
        }
        self.descriptor = pd
        self.primitive = primitive!
        self.name = name
        self.context = context
        var scratch = dnnl_memory_desc_t()
        if let md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0) { scratch = md.pointee }
        let bytes = Int(dnnl_memory_desc_get_size(&scratch))
        if bytes > 0 {
            context.reserveScratchpad(bytes)
            var memory: dnnl_memory_t?
            try check(dnnl_memory_create(&memory, &scratch, context.engine, context.scratchpad), "dnnl_memory_create", "scratchpad of \(name)")
            scratchpadMemory = memory
        } else {
            scratchpadMemory = nil
        }
    }

    deinit {
        scratchpadMemory.map { dnnl_memory_destroy($0) }
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// The memory descriptor the primitive chose for `query` (e.g. `dnnl_query_src_md`).
    func memoryDescriptor(_ query: dnnl_query_t, index: Int32 = 0) -> dnnl_memory_desc_t {
        guard let md = dnnl_primitive_desc_query_md(descriptor, query, index) else { return dnnl_memory_desc_t() }
        return md.pointee
    }

    /// The implementation oneDNN picked, e.g. `brgconv:avx512_core`.
    var implementation: String {
        var info: UnsafePointer<CChar>?
        _ = withUnsafeMutablePointer(to: &info) { dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, $0) }
        return info.map { String(cString: $0) } ?? "unknown"
    }

    /// Runs the primitive on the context's stream with the given (argument, tensor) pairs.
    func execute(_ arguments: [(Int32, Tensor)]) throws {
        var args = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.memory) }
        if let scratchpadMemory {
            try check(dnnl_memory_set_data_handle(scratchpadMemory, context.scratchpad), "dnnl_memory_set_data_handle", name)
            args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratchpadMemory))
        }
        try check(dnnl_primitive_execute(primitive, context.stream, Int32(args.count), args), "dnnl_primitive_execute", name)
        withExtendedLifetime(arguments) {}
    }
}

/// Owner of a oneDNN primitive attribute set (user scratchpad, output scales, post-ops).
final class PrimitiveAttributes {
    let handle: dnnl_primitive_attr_t

    init() throws {
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create")
        handle = attr!
        try check(dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user), "dnnl_primitive_attr_set_scratchpad_mode")
    }

    deinit { dnnl_primitive_attr_destroy(handle) }

    /// Per-output-channel (mask 2) or common (mask 0) output scales.
    func setOutputScales(_ scales: [Float], mask: Int32) throws {
        try check(dnnl_primitive_attr_set_output_scales(handle, Int64(scales.count), mask, scales), "dnnl_primitive_attr_set_output_scales")
    }

    /// Sets the post-ops: an optional sum (the destination's previous contents, read as `sumType`, multiplied by
    /// `sumScale` and added) and then an optional ReLU.
    func setPostOps(sum sumType: dnnl_data_type_t?, sumScale: Float = 1, relu: Bool, shiftAfterReLU: Float = 0) throws {
        guard sumType != nil || relu else { return }
        var ops: dnnl_post_ops_t?
        try check(dnnl_post_ops_create(&ops), "dnnl_post_ops_create")
        defer { dnnl_post_ops_destroy(ops) }
        if let sumType { try check(dnnl_post_ops_append_sum_v2(ops, sumScale, sumType), "dnnl_post_ops_append_sum_v2") }
        if relu { try check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0), "dnnl_post_ops_append_eltwise") }
        if relu && shiftAfterReLU != 0 {
            try check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_linear, 1, shiftAfterReLU), "dnnl_post_ops_append_eltwise")
        }
        try check(dnnl_primitive_attr_set_post_ops(handle, ops), "dnnl_primitive_attr_set_post_ops")
    }
}

// MARK: - Memory descriptors

/// Builds a memory descriptor from logical dims (oneDNN order: N, C, H, W), type and layout tag.
func memoryDescriptor(_ dims: [Int], _ type: dnnl_data_type_t, _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    try withDims(dims) { pointer in
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), pointer, type, tag), "dnnl_memory_desc_init_by_tag", "dims \(dims)")
    }
    return md
}

/// A `dnnl_dims_t` tuple from a Swift array.
func dnnlDims(_ values: [Int]) -> dnnl_dims_t {
    var dims: dnnl_dims_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    withUnsafeMutableBytes(of: &dims) { raw in
        let p = raw.bindMemory(to: Int64.self)
        for (i, v) in values.enumerated() { p[i] = Int64(v) }
    }
    return dims
}

/// Calls `body` with a pointer to the first element of a `dnnl_dims_t` built from `values`.
func withDims<R>(_ values: [Int], _ body: (UnsafePointer<Int64>) throws -> R) rethrows -> R {
    var dims = dnnlDims(values)
    return try withUnsafePointer(to: &dims) { try body(UnsafeRawPointer($0).assumingMemoryBound(to: Int64.self)) }
}

extension dnnl_memory_desc_t {
    /// Logical dimensions.
    var dimensions: [Int] {
        var copy = dims
        return withUnsafeBytes(of: &copy) { raw in
            (0..<Int(ndims)).map { Int(raw.load(fromByteOffset: $0 * 8, as: Int64.self)) }
        }
    }

    /// Bytes the memory with this descriptor occupies, padding included.
    var byteCount: Int {
        var copy = self
        return Int(dnnl_memory_desc_get_size(&copy))
    }

    /// True when both descriptors describe the same memory layout.
    func sameLayout(as other: dnnl_memory_desc_t) -> Bool {
        var a = self, b = other
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    /// The same dims in another data type, keeping the layout (used for int8 copies of fp32 layouts).
    func with(type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        var copy = self
        copy.data_type = type
        return copy
    }
}

/// The plain (dense, PyTorch-order) layout tag for a rank.
func plainTag(rank: Int) -> dnnl_format_tag_t {
    switch rank {
    case 1: return dnnl_a
    case 2: return dnnl_ab
    case 3: return dnnl_abc
    case 4: return dnnl_abcd
    case 5: return dnnl_abcde
    default: preconditionFailure("unsupported rank \(rank)")
    }
}

/// Passes a pointer to `value` when `present`, else nil (for optional operands such as a bias).
func withOptionalPointer<T, R>(to value: inout T, present: Bool, _ body: (UnsafeMutablePointer<T>?) throws -> R) rethrows -> R {
    if present { return try withUnsafeMutablePointer(to: &value) { try body($0) } }
    return try body(nil)
}
