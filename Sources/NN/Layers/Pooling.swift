import CDNNL

/// Pooling on oneDNN: max (with the workspace oneDNN needs for backward) or average (padding counted, like
/// PyTorch's default `count_include_pad=True`).
public class Pooling2D: Layer {
    private let algorithm: dnnl_alg_kind_t
    /// Kernel size, stride and padding; nil kernel means "the whole input" (global pooling).
    let kernelSize: Int?
    let stride: Int?
    let padding: Int
    private let context: ComputeContext

    private struct PlanKey: Hashable { let dims: [Int]; let training: Bool }
    private var plans: [PlanKey: Plan] = [:]
    private var lastTraining: Plan?

    private final class Plan {
        let forward: Primitive
        let geometry: (kernel: [Int], stride: [Int], padding: [Int], output: [Int])
        let outputs = BufferPool()
        let workspace: Tensor?
        var backward: Primitive?
        let gradientSlot = LayoutSlot()
        let inputGradients = BufferPool()
        var inputDims: [Int]
        init(forward: Primitive, geometry: (kernel: [Int], stride: [Int], padding: [Int], output: [Int]), workspace: Tensor?, inputDims: [Int]) {
            self.forward = forward
            self.geometry = geometry
            self.workspace = workspace
            self.inputDims = inputDims
        }
    }

    init(algorithm: dnnl_alg_kind_t, kernelSize: Int?, stride: Int?, padding: Int, context: ComputeContext) {
        self.algorithm = algorithm
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.context = context
    }

    /// Output dims for input dims.
    public func outputShape(_ input: [Int]) -> [Int] {
        let k = [kernelSize ?? input[2], kernelSize ?? input[3]]
        let s = [stride ?? kernelSize ?? input[2], stride ?? kernelSize ?? input[3]]
        return [input[0], input[1], (input[2] + 2 * padding - k[0]) / s[0] + 1, (input[3] + 2 * padding - k[1]) / s[1] + 1]
    }

    public func forward(_ input: Tensor, phase: Phase) throws -> Tensor {
        guard input.shape.count == 4 else { throw ModelError("\(type(of: self)) expects [N, C, H, W], got \(input.shape)") }
        let training = phase.keepsState
        let key = PlanKey(dims: input.shape, training: training)
        // Pooling takes its source in the layout the producer chose; rebuild if that layout changed.
        if let plan = plans[key], !plan.forward.memoryDescriptor(dnnl_query_src_md).sameLayout(as: input.descriptor) {
            plans[key] = nil
        }
        if plans[key] == nil {
            let kernel = [kernelSize ?? input.shape[2], kernelSize ?? input.shape[3]]
            let strides = [stride ?? kernel[0], stride ?? kernel[1]]
            let output = outputShape(input.shape)
            guard output[2] > 0, output[3] > 0 else {
                throw ModelError("\(type(of: self)) kernel \(kernel) is larger than its input \(input.shape)")
            }
            var src = input.descriptor
            var dst = try memoryDescriptor(output, dnnl_f32, dnnl_format_tag_any)
            var op = dnnl_pooling_v2_desc_t()
            try withDims(strides) { s in try withDims(kernel) { k in try withDims([0, 0]) { d in try withDims([padding, padding]) { p in
                try check(dnnl_pooling_v2_forward_desc_init(
                    &op, training ? dnnl_forward_training : dnnl_forward_inference, algorithm, &src, &dst, s, k, d, p, p),
                          "dnnl_pooling_v2_forward_desc_init")
            } } } }
            let primitive = try Primitive("pooling forward", operation: &op, context: context)
            let workspaceDescriptor = primitive.memoryDescriptor(dnnl_query_workspace_md)
            let workspace = workspaceDescriptor.byteCount > 0 ? try Tensor(descriptor: workspaceDescriptor, context: context) : nil
            plans[key] = Plan(forward: primitive, geometry: (kernel, strides, [padding, padding], output), workspace: workspace, inputDims: input.shape)
        }
        let plan = plans[key]!
        let output = try plan.outputs.tensor(plan.forward.memoryDescriptor(dnnl_query_dst_md), context: context)
        var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, input), (DNNL_ARG_DST, output)]
        if let workspace = plan.workspace { args.append((DNNL_ARG_WORKSPACE, workspace)) }
        try plan.forward.execute(args)
        lastTraining = training ? plan : nil
        return output
    }

    public func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor? {
        guard request.input else { return nil }
        guard let plan = lastTraining else {
            throw ModelError("\(type(of: self)).backward called without a preceding training forward")
        }
        if plan.backward == nil {
            var diffSrc = plan.forward.memoryDescriptor(dnnl_query_src_md)
            var diffDst = plan.forward.memoryDescriptor(dnnl_query_dst_md)
            var op = dnnl_pooling_v2_desc_t()
            let g = plan.geometry
            try withDims(g.stride) { s in try withDims(g.kernel) { k in try withDims([0, 0]) { d in try withDims(g.padding) { p in
                try check(dnnl_pooling_v2_backward_desc_init(&op, algorithm, &diffSrc, &diffDst, s, k, d, p, p),
                          "dnnl_pooling_v2_backward_desc_init")
            } } } }
            plan.backward = try Primitive("pooling backward", operation: &op, context: context, hint: plan.forward)
        }
        let primitive = plan.backward!
        let diffDst = try plan.gradientSlot.conform(outputGradient, to: primitive.memoryDescriptor(dnnl_query_diff_dst_md), context: context)
        let diffSrc = try plan.inputGradients.tensor(primitive.memoryDescriptor(dnnl_query_diff_src_md), context: context)
        var args: [(Int32, Tensor)] = [(DNNL_ARG_DIFF_DST, diffDst), (DNNL_ARG_DIFF_SRC, diffSrc)]
        if let workspace = plan.workspace { args.append((DNNL_ARG_WORKSPACE, workspace)) }
        try primitive.execute(args)
        return diffSrc
    }
}

/// Max pooling (`torch.nn.MaxPool2d`).
public final class MaxPool2D: Pooling2D {
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, context: ComputeContext) {
        super.init(algorithm: dnnl_pooling_max, kernelSize: kernelSize, stride: stride ?? kernelSize, padding: padding, context: context)
    }
}

/// Average pooling (`torch.nn.AvgPool2d`, padding counted in the average).
public final class AvgPool2D: Pooling2D {
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, context: ComputeContext) {
        super.init(algorithm: dnnl_pooling_avg_include_padding, kernelSize: kernelSize, stride: stride ?? kernelSize,
                   padding: padding, context: context)
    }
}

/// Global average pooling to [N, C, 1, 1] (`torch.nn.AdaptiveAvgPool2d(1)`).
public final class GlobalAvgPool2D: Pooling2D {
    public init(context: ComputeContext) {
        super.init(algorithm: dnnl_pooling_avg_include_padding, kernelSize: nil, stride: nil, padding: 0, context: context)
    }
}

/// Reshapes [N, C, H, W] to [N, C·H·W] in PyTorch element order (`torch.flatten(x, 1)`).
public final class Flatten: Layer {
    private let context: ComputeContext
    private let plainSlot = LayoutSlot()
    private let gradientSlot = LayoutSlot()
    private var lastInputShape: [Int]?

    public init(context: ComputeContext) { self.context = context }

    public func forward(_ input: Tensor, phase: Phase) throws -> Tensor {
        let plain = try plainSlot.conform(input, to: memoryDescriptor(input.shape, dnnl_f32, plainTag(rank: input.shape.count)), context: context)
        lastInputShape = phase.keepsState ? input.shape : nil
        return try Tensor(viewing: plain, as: memoryDescriptor([input.shape[0], input.count / input.shape[0]], dnnl_f32, dnnl_ab))
    }

    public func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor? {
        guard request.input else { return nil }
        guard let shape = lastInputShape else { throw ModelError("Flatten.backward called without a preceding training forward") }
        let plain = try gradientSlot.conform(outputGradient, to: memoryDescriptor(outputGradient.shape, dnnl_f32, dnnl_ab), context: context)
        return try Tensor(viewing: plain, as: memoryDescriptor(shape, dnnl_f32, plainTag(rank: shape.count)))
    }
}
