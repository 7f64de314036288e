import CDNNL

/// Elementwise activation on oneDNN's eltwise primitive; backward uses the saved output (a ReLU mask in effect),
/// so no input needs to be kept.
public class Activation: Layer {
    private let algorithm: dnnl_alg_kind_t
    private let alpha: Float
    private let beta: Float
    private let context: ComputeContext
    private var forwardPlans: [[Int]: Primitive] = [:]
    private let outputs = BufferPool()
    private var lastOutput: (primitive: Primitive, output: Tensor)?
    private var backwardPrimitive: Primitive?
    private let gradientSlot = LayoutSlot()
    private let inputGradients = BufferPool()

    init(algorithm: dnnl_alg_kind_t, alpha: Float, beta: Float, context: ComputeContext) {
        self.algorithm = algorithm
        self.alpha = alpha
        self.beta = beta
        self.context = context
    }

    public func forward(_ input: Tensor, phase: Phase) throws -> Tensor {
        var primitive = forwardPlans[input.shape]
        if let existing = primitive, !existing.memoryDescriptor(dnnl_query_src_md).sameLayout(as: input.descriptor) { primitive = nil }
        if primitive == nil {
            var data = input.descriptor
            var op = dnnl_eltwise_desc_t()
            try check(dnnl_eltwise_forward_desc_init(&op, dnnl_forward_training, algorithm, &data, alpha, beta),
                      "dnnl_eltwise_forward_desc_init")
            primitive = try Primitive("eltwise forward", operation: &op, context: context)
            forwardPlans[input.shape] = primitive
            backwardPrimitive = nil
        }
        let output = try outputs.tensor(primitive!.memoryDescriptor(dnnl_query_dst_md), context: context)
        try primitive!.execute([(DNNL_ARG_SRC, input), (DNNL_ARG_DST, output)])
        lastOutput = phase.keepsState ? (primitive!, output) : nil
        return output
    }

    public func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor? {
        guard request.input else { return nil }
        guard let (forward, output) = lastOutput else {
            throw ModelError("\(type(of: self)).backward called without a preceding training forward")
        }
        if backwardPrimitive == nil || !backwardPrimitive!.memoryDescriptor(dnnl_query_dst_md).sameLayout(as: output.descriptor) {
            var data = output.descriptor
            var diff = output.descriptor
            var op = dnnl_eltwise_desc_t()
            try check(dnnl_eltwise_backward_desc_init(&op, algorithm, &diff, &data, alpha, beta), "dnnl_eltwise_backward_desc_init")
            backwardPrimitive = try Primitive("eltwise backward", operation: &op, context: context, hint: forward)
        }
        let diffDst = try gradientSlot.conform(outputGradient, to: output.descriptor, context: context)
        let diffSrc = try inputGradients.tensor(output.descriptor, context: context)
        try backwardPrimitive!.execute([(DNNL_ARG_DST, output), (DNNL_ARG_DIFF_DST, diffDst), (DNNL_ARG_DIFF_SRC, diffSrc)])
        return diffSrc
    }
}

/// max(x, 0).
public final class ReLU: Activation {
    public init(context: ComputeContext) {
        super.init(algorithm: dnnl_eltwise_relu_use_dst_for_bwd, alpha: 0, beta: 0, context: context)
    }
}

/// min(max(x, 0), 6).
public final class ReLU6: Activation {
    public init(context: ComputeContext) {
        super.init(algorithm: dnnl_eltwise_clip_v2_use_dst_for_bwd, alpha: 0, beta: 6, context: context)
    }
}
