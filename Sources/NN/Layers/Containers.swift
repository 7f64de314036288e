import CDNNL

/// Elementwise a + b on oneDNN's binary primitive, with `b` reordered to `a`'s layout when they differ.
final class Adder {
    private let context: ComputeContext
    private var primitive: Primitive?
    private let slot = LayoutSlot()
    private let outputs = BufferPool()

    init(context: ComputeContext) { self.context = context }

    func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape else { throw ModelError("cannot add tensors of shapes \(a.shape) and \(b.shape)") }
        if primitive == nil || !primitive!.memoryDescriptor(dnnl_query_src_md).sameLayout(as: a.descriptor) {
            var src0 = a.descriptor, src1 = a.descriptor, dst = a.descriptor
            var op = dnnl_binary_desc_t()
            try check(dnnl_binary_desc_init(&op, dnnl_binary_add, &src0, &src1, &dst), "dnnl_binary_desc_init")
            primitive = try Primitive("binary add", operation: &op, context: context)
        }
        let other = try slot.conform(b, to: a.descriptor, context: context)
        let output = try outputs.tensor(a.descriptor, context: context)
        try primitive!.execute([(DNNL_ARG_SRC_0, a), (DNNL_ARG_SRC_1, other), (DNNL_ARG_DST, output)])
        return output
    }
}

/// Layers applied in order (`torch.nn.Sequential`, or a group of a model's top-level modules).
/// Entries with a nil name hold no parameters (activations, pooling) and do not appear in keys.
public final class Sequential: Layer {
    /// The layers with their local names.
    public let layers: [(name: String?, layer: Layer)]

    public init(_ layers: [(String?, Layer)]) {
        self.layers = layers.map { (name: $0.0, layer: $0.1) }
    }

    public var children: [(String, Layer)] { layers.compactMap { entry in entry.name.map { ($0, entry.layer) } } }

    public func forward(_ input: Tensor, phase: Phase) throws -> Tensor {
        var x = input
        for entry in layers { x = try entry.layer.forward(x, phase: phase) }
        return x
    }

    public func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor? {
        var gradient = outputGradient
        for index in layers.indices.reversed() {
            let needInput = index > 0 || request.input
            let result = try layers[index].layer.backward(gradient, request: GradientRequest(input: needInput, parameters: request.parameters))
            if !needInput { return nil }
            guard let next = result else {
                throw ModelError("layer \(layers[index].name ?? "\(type(of: layers[index].layer))") returned no input gradient")
            }
            gradient = next
        }
        return gradient
    }
}

/// y = post(main(x) + shortcut(x)); the shortcut is the identity when nil (ResNet BasicBlock, MobileNetV2
/// inverted residual). Parameters of `main` are the block's own (`conv1`, `bn1`, …); the shortcut is named
/// `shortcut` with children `0`, `1` like the usual CIFAR implementations.
public final class Residual: Layer {
    public let main: Sequential
    public let shortcut: Sequential?
    public let post: Layer?
    private let adder: Adder
    private let gradientAdder: Adder

    public init(main: Sequential, shortcut: Sequential?, post: Layer?, context: ComputeContext) {
        self.main = main
        self.shortcut = shortcut
        self.post = post
        adder = Adder(context: context)
        gradientAdder = Adder(context: context)
    }

    public var children: [(String, Layer)] {
        main.children + (shortcut.map { [("shortcut", $0 as Layer)] } ?? [])
    }

    public func forward(_ input: Tensor, phase: Phase) throws -> Tensor {
        let a = try main.forward(input, phase: phase)
        let b = try shortcut?.forward(input, phase: phase) ?? input
        let sum = try adder.add(a, b)
        return try post?.forward(sum, phase: phase) ?? sum
    }

    public func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor? {
        let g = try post?.backward(outputGradient, request: .all) ?? outputGradient
        let mainGradient = try main.backward(g, request: request)
        let shortcutGradient = try shortcut?.backward(g, request: request) ?? (request.input ? g : nil)
        guard request.input, let mainGradient, let shortcutGradient else { return nil }
        return try gradientAdder.add(mainGradient, shortcutGradient)
    }
}

/// DenseNet layer: y = concat([f(x), x]) along channels (the order of the common CIFAR DenseNet). The concat
/// output is kept in a plain channels-last layout so that its gradient can be split at any channel offset.
public final class DenseConcat: Layer {
    public let body: Sequential
    private let context: ComputeContext
    private var concat: (primitive: Primitive, output: Tensor)?
    private let gradientSlot = LayoutSlot()
    private let passSlot = LayoutSlot()
    private let adder: Adder
    private var lastShapes: (body: [Int], input: [Int])?

    public init(body: Sequential, context: ComputeContext) {
        self.body = body
        self.context = context
        adder = Adder(context: context)
    }

    public var children: [(String, Layer)] { body.children }

    public func forward(_ input: Tensor, phase: Phase) throws -> Tensor {
        let features = try body.forward(input, phase: phase)
        let outputDims = [input.shape[0], features.shape[1] + input.shape[1], input.shape[2], input.shape[3]]
        if concat == nil || concat!.output.shape != outputDims
            || !concat!.primitive.memoryDescriptor(dnnl_query_src_md, index: 0).sameLayout(as: features.descriptor)
            || !concat!.primitive.memoryDescriptor(dnnl_query_src_md, index: 1).sameLayout(as: input.descriptor) {
            var dst = try memoryDescriptor(outputDims, dnnl_f32, dnnl_acdb)
            let sources = [features.descriptor, input.descriptor]
            var pd: dnnl_primitive_desc_t?
            try sources.withUnsafeBufferPointer { buffer in
                try check(dnnl_concat_primitive_desc_create(&pd, &dst, 2, 1, buffer.baseAddress, nil, context.engine),
                          "dnnl_concat_primitive_desc_create")
            }
            let primitive = try Primitive("concat", descriptor: pd!, context: context)
            concat = (primitive, try Tensor(descriptor: dst, context: context))
        }
        try concat!.primitive.execute([
            (cdnnl_arg_multiple_src(0), features), (cdnnl_arg_multiple_src(1), input), (DNNL_ARG_DST, concat!.output),
        ])
        lastShapes = phase.keepsState ? (features.shape, input.shape) : nil
        return concat!.output
    }

    public func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor? {
        guard let shapes = lastShapes, let concat else {
            throw ModelError("DenseConcat.backward called without a preceding training forward")
        }
        let whole = try gradientSlot.conform(outputGradient, to: concat.output.descriptor, context: context)
        let featureGradient = try Tensor(viewing: whole, as: slice(of: whole.descriptor, dims: shapes.body, channelOffset: 0))
        let bodyGradient = try body.backward(featureGradient, request: request)
        guard request.input, let bodyGradient else { return nil }
        let passDescriptor = try slice(of: whole.descriptor, dims: shapes.input, channelOffset: shapes.body[1])
        let passView = try Tensor(viewing: whole, as: passDescriptor)
        let pass = try passSlot.conform(passView, to: bodyGradient.descriptor, context: context)
        return try adder.add(bodyGradient, pass)
    }

    private func slice(of parent: dnnl_memory_desc_t, dims: [Int], channelOffset: Int) throws -> dnnl_memory_desc_t {
        var result = dnnl_memory_desc_t()
        var parentCopy = parent
        try withDims(dims) { d in
            try withDims([0, channelOffset, 0, 0]) { offsets in
                try check(dnnl_memory_desc_init_submemory(&result, &parentCopy, d, offsets), "dnnl_memory_desc_init_submemory")
            }
        }
        return result
    }
}
