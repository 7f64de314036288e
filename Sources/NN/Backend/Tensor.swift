import CDNNL
import Glibc

/// A dense array owned in 64-byte aligned memory, described by a oneDNN memory descriptor.
///
/// `shape` is the logical shape in PyTorch order (N, C, H, W for activations; O, I, kH, kW for convolution
/// weights); the physical layout is whatever the descriptor says (plain or one of oneDNN's blocked layouts).
public final class Tensor {
    /// Logical shape (PyTorch order).
    public let shape: [Int]
    /// The oneDNN descriptor: type and physical layout.
    let descriptor: dnnl_memory_desc_t
    /// Start of the tensor's bytes.
    let data: UnsafeMutableRawPointer
    /// Bytes of the physical layout, padding included.
    public let byteCount: Int
    let memory: dnnl_memory_t
    private let context: ComputeContext
    /// The context this tensor's memory belongs to.
    var contextForCopies: ComputeContext { context }
    /// Set when this tensor is a view of another tensor's bytes; keeps the owner alive.
    private let base: Tensor?

    /// Allocates a tensor with the given descriptor; bytes are zeroed.
    init(descriptor: dnnl_memory_desc_t, context: ComputeContext) throws {
        self.descriptor = descriptor
        self.shape = descriptor.dimensions
        self.byteCount = descriptor.byteCount
        self.context = context
        self.base = nil
        data = alignedAllocate(byteCount)
        // memset, not `initializeMemory(as:repeating:count:)`: unspecialized in a debug build, that generic copies
        // byte by byte through value witnesses (measured: 40 % of a debug-built campaign's time).
        memset(data, 0, byteCount)
        var md = descriptor
        var memory: dnnl_memory_t?
        do {
            try check(dnnl_memory_create(&memory, &md, context.engine, data), "dnnl_memory_create", "shape \(shape)")
        } catch {
            free(data)
            throw error
        }
        self.memory = memory!
        context.noteAllocation(byteCount)
    }

    /// A view with another descriptor over the bytes of `base` (same byte count or smaller).
    init(viewing base: Tensor, as descriptor: dnnl_memory_desc_t) throws {
        precondition(descriptor.byteCount <= base.byteCount, "view larger than its base")
        self.descriptor = descriptor
        self.shape = descriptor.dimensions
        self.byteCount = descriptor.byteCount
        self.context = base.context
        self.base = base
        data = base.data
        var md = descriptor
        var memory: dnnl_memory_t?
        try check(dnnl_memory_create(&memory, &md, context.engine, data), "dnnl_memory_create", "view \(shape)")
        self.memory = memory!
    }

    /// Allocates a zeroed fp32 tensor of `shape` in the plain (PyTorch) layout.
    public convenience init(zeros shape: [Int], context: ComputeContext) throws {
        try self.init(descriptor: memoryDescriptor(shape, dnnl_f32, plainTag(rank: shape.count)), context: context)
    }

    /// Allocates a plain fp32 tensor holding `values` (row-major, PyTorch order).
    public convenience init(shape: [Int], values: [Float], context: ComputeContext) throws {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        try self.init(zeros: shape, context: context)
        values.withUnsafeBufferPointer { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count * 4) }
    }

    deinit {
        dnnl_memory_destroy(memory)
        if base == nil {
            free(data)
            context.noteRelease(byteCount)
        }
    }

    /// Number of logical elements.
    public var count: Int { shape.reduce(1, *) }

    /// True when the physical layout is the plain row-major one.
    public var isPlain: Bool {
        guard let plain = try? memoryDescriptor(shape, descriptor.data_type, plainTag(rank: shape.count)) else { return false }
        return plain.sameLayout(as: descriptor)
    }

    /// fp32 elements of a plain tensor.
    var floats: UnsafeMutablePointer<Float> { data.assumingMemoryBound(to: Float.self) }

    /// The values in plain row-major (PyTorch) order, reordering from a blocked layout if needed.
    public func toArray() throws -> [Float] {
        try context.wait()
        if isPlain && descriptor.data_type == dnnl_f32 {
            return Array(UnsafeBufferPointer(start: floats, count: count))
        }
        let plain = try Tensor(zeros: shape, context: context)
        try Reorder(from: descriptor, to: plain.descriptor, context: context).run(self, into: plain)
        try context.wait()
        return Array(UnsafeBufferPointer(start: plain.floats, count: count))
    }

    /// Overwrites the values from plain row-major (PyTorch) order, reordering into a blocked layout if needed.
    public func assign(_ values: [Float]) throws {
        precondition(values.count == count, "assigning \(values.count) values to a tensor of shape \(shape)")
        if isPlain && descriptor.data_type == dnnl_f32 {
            values.withUnsafeBufferPointer { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count * 4) }
            return
        }
        let plain = try Tensor(shape: shape, values: values, context: context)
        try Reorder(from: plain.descriptor, to: descriptor, context: context).run(plain, into: self)
        try context.wait()
    }

    /// Copies all bytes from a tensor with the same descriptor.
    func copyBytes(from other: Tensor) {
        precondition(other.byteCount == byteCount)
        data.copyMemory(from: other.data, byteCount: byteCount)
    }
}

/// A cached reorder between two layouts.
final class Reorder {
    let primitive: Primitive
    let source: dnnl_memory_desc_t
    let destination: dnnl_memory_desc_t

    init(from source: dnnl_memory_desc_t, to destination: dnnl_memory_desc_t, context: ComputeContext, attributes: PrimitiveAttributes? = nil) throws {
        var src = source, dst = destination
        let attr = try attributes ?? PrimitiveAttributes()
        var pd: dnnl_primitive_desc_t?
        try check(dnnl_reorder_primitive_desc_create(&pd, &src, context.engine, &dst, context.engine, attr.handle),
                  "dnnl_reorder_primitive_desc_create", "\(source.dimensions)")
        primitive = try Primitive("reorder", descriptor: pd!, context: context)
        self.source = source
        self.destination = destination
    }

    func run(_ input: Tensor, into output: Tensor) throws {
        try primitive.execute([(DNNL_ARG_FROM, input), (DNNL_ARG_TO, output)])
    }
}

/// A reusable slot that hands back a tensor in a requested layout: the input itself when it already has that
/// layout, otherwise a reordered copy in a buffer kept for the next call. Layers use one slot per operand so that
/// reorders happen only where layouts differ, and neither primitives nor buffers are created per call.
final class LayoutSlot {
    private var reorder: Reorder?
    private var buffer: Tensor?

    func conform(_ tensor: Tensor, to target: dnnl_memory_desc_t, context: ComputeContext) throws -> Tensor {
        if tensor.descriptor.sameLayout(as: target) { return tensor }
        if reorder == nil || !reorder!.source.sameLayout(as: tensor.descriptor) || !reorder!.destination.sameLayout(as: target) {
            reorder = try Reorder(from: tensor.descriptor, to: target, context: context)
        }
        if buffer == nil || !buffer!.descriptor.sameLayout(as: target) {
            buffer = try Tensor(descriptor: target, context: context)
        }
        try reorder!.run(tensor, into: buffer!)
        return buffer!
    }
}

/// Keeps output tensors per descriptor so that a layer writes into the same buffer on every call with the same
/// shape. A layer's output is valid until that layer's next call with the same shape.
final class BufferPool {
    private var buffers: [Tensor] = []

    func tensor(_ descriptor: dnnl_memory_desc_t, context: ComputeContext) throws -> Tensor {
        if let hit = buffers.first(where: { $0.descriptor.sameLayout(as: descriptor) }) { return hit }
        let fresh = try Tensor(descriptor: descriptor, context: context)
        buffers.append(fresh)
        return fresh
    }
}
