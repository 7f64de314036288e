import CDNNL
import CKernels

/// Batch normalization over the channel axis (`torch.nn.BatchNorm2d`): in training it normalizes with the batch
/// statistics and updates the running statistics with `momentum` (unbiased variance, like PyTorch); in evaluation
/// it uses the running statistics. Works on whatever layout the previous layer produced. With `fusedReLU` it is
/// BatchNorm followed by ReLU in one oneDNN pass (the ReLU mask kept in oneDNN's workspace for backward).
public final class BatchNorm2D: Layer {
    public let channels: Int
    public let epsilon: Float
    /// Weight of the newest batch in the running statistics (1/(t+1) at batch t gives the cumulative average,
    /// PyTorch's `momentum=None`).
    public var momentum: Float
    /// Whether a ReLU is applied in the same pass.
    public let fusedReLU: Bool
    /// γ [C].
    public let weight: Parameter
    /// β [C].
    public let bias: Parameter
    /// Running mean [C] (buffer, never trained).
    public let runningMean: Parameter
    /// Running variance [C] (buffer, never trained).
    public let runningVariance: Parameter
    private let context: ComputeContext

    private struct PlanKey: Hashable { let dims: [Int]; let phase: Phase }
    private var plans: [PlanKey: Plan] = [:]
    private var lastTraining: (plan: Plan, input: Tensor, phase: Phase)?

    private final class Plan {
        let forward: Primitive
        let outputs = BufferPool()
        let mean: Tensor
        let variance: Tensor
        var workspace: Tensor?
        var discardedGradients: (Tensor, Tensor)?
        var backward: Primitive?
        var backwardKind = dnnl_backward
        let gradientSlot = LayoutSlot()
        let inputGradients = BufferPool()
        init(forward: Primitive, channels: Int, context: ComputeContext) throws {
            self.forward = forward
            mean = try Tensor(zeros: [channels], context: context)
            variance = try Tensor(zeros: [channels], context: context)
        }
    }

    /// Creates the layer with γ = 1, β = 0, running mean 0 and running variance 1.
    public init(channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1, fusedReLU: Bool = false, context: ComputeContext) throws {
        self.channels = channels
        self.fusedReLU = fusedReLU
        self.epsilon = epsilon
        self.momentum = momentum
        self.context = context
        weight = try Parameter(shape: [channels], learnable: true, context: context)
        bias = try Parameter(shape: [channels], learnable: true, context: context)
        runningMean = try Parameter(shape: [channels], learnable: false, context: context)
        runningVariance = try Parameter(shape: [channels], learnable: false, context: context)
        fill(weight.value, 1)
        fill(runningVariance.value, 1)
    }

    public var localParameters: [(String, Parameter)] {
        [("weight", weight), ("bias", bias), ("running_mean", runningMean), ("running_var", runningVariance)]
    }

    private var flags: UInt32 {
        dnnl_use_scale.rawValue | dnnl_use_shift.rawValue | (fusedReLU ? dnnl_fuse_norm_relu.rawValue : 0)
    }

    public func forward(_ input: Tensor, phase: Phase) throws -> Tensor {
        guard input.shape.count == 4, input.shape[1] == channels else {
            throw ModelError("BatchNorm2D(\(channels)) got input of shape \(input.shape); expected [N, \(channels), H, W]")
        }
        let training = phase == .training
        let key = PlanKey(dims: input.shape, phase: phase)
        var plan = plans[key]
        // The primitive is made for the input's layout; rebuild if a producer changed its layout.
        if let existing = plan, !existing.forward.memoryDescriptor(dnnl_query_src_md).sameLayout(as: input.descriptor) { plan = nil }
        if plan == nil {
            var data = input.descriptor
            var op = dnnl_batch_normalization_desc_t()
            let phaseFlags = flags | (training ? 0 : dnnl_use_global_stats.rawValue)
            try check(dnnl_batch_normalization_forward_desc_init(
                &op, phase.keepsState ? dnnl_forward_training : dnnl_forward_inference, &data, epsilon, phaseFlags),
                      "dnnl_batch_normalization_forward_desc_init")
            plan = try Plan(forward: Primitive("batch normalization forward", operation: &op, context: context),
                            channels: channels, context: context)
            let workspace = plan!.forward.memoryDescriptor(dnnl_query_workspace_md)
            if workspace.byteCount > 0 { plan!.workspace = try Tensor(descriptor: workspace, context: context) }
            plans[key] = plan
        }
        let p = plan!
        let output = try p.outputs.tensor(p.forward.memoryDescriptor(dnnl_query_dst_md), context: context)
        let statistics = training ? (p.mean, p.variance) : (runningMean.value, runningVariance.value)
        var args: [(Int32, Tensor)] = [
            (DNNL_ARG_SRC, input), (DNNL_ARG_DST, output), (DNNL_ARG_SCALE, weight.value), (DNNL_ARG_SHIFT, bias.value),
            (DNNL_ARG_MEAN, statistics.0), (DNNL_ARG_VARIANCE, statistics.1),
        ]
        if let workspace = p.workspace { args.append((DNNL_ARG_WORKSPACE, workspace)) }
        try p.forward.execute(args)
        if training {
            try context.wait()
            let perChannel = input.shape[0] * input.shape[2] * input.shape[3]
            ck_batchnorm_running_update(runningMean.values, runningVariance.values, p.mean.floats, p.variance.floats,
                                        channels, momentum, perChannel)
            runningMean.touch()
            runningVariance.touch()
        }
        lastTraining = phase.keepsState ? (p, input, phase) : nil
        return output
    }

    public func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor? {
        guard let (plan, input, phase) = lastTraining else {
            throw ModelError("BatchNorm2D.backward called without a preceding training forward")
        }
        // oneDNN computes the input gradient in both kinds; only `dnnl_backward` also gives dγ and dβ.
        let kind = request.parameters || phase != .training ? dnnl_backward : dnnl_backward_data
        let statistics = phase == .training ? (plan.mean, plan.variance) : (runningMean.value, runningVariance.value)
        let backwardFlags = flags | (phase == .training ? 0 : dnnl_use_global_stats.rawValue)
        if plan.backward == nil || plan.backwardKind != kind {
            var data = input.descriptor
            var diff = input.descriptor
            var op = dnnl_batch_normalization_desc_t()
            try check(dnnl_batch_normalization_backward_desc_init(&op, kind, &diff, &data, epsilon, backwardFlags),
                      "dnnl_batch_normalization_backward_desc_init")
            plan.backward = try Primitive("batch normalization backward", operation: &op, context: context, hint: plan.forward)
            plan.backwardKind = kind
        }
        let primitive = plan.backward!
        let diffDst = try plan.gradientSlot.conform(outputGradient, to: input.descriptor, context: context)
        let diffSrc = try plan.inputGradients.tensor(primitive.memoryDescriptor(dnnl_query_diff_src_md), context: context)
        var args: [(Int32, Tensor)] = [
            (DNNL_ARG_SRC, input), (DNNL_ARG_DIFF_DST, diffDst), (DNNL_ARG_MEAN, statistics.0), (DNNL_ARG_VARIANCE, statistics.1),
            (DNNL_ARG_SCALE, weight.value), (DNNL_ARG_SHIFT, bias.value), (DNNL_ARG_DIFF_SRC, diffSrc),
        ]
        if request.parameters {
            args += [(DNNL_ARG_DIFF_SCALE, weight.gradient!), (DNNL_ARG_DIFF_SHIFT, bias.gradient!)]
        } else if kind == dnnl_backward {
            // oneDNN has no data-only backward with global statistics; its dγ, dβ go to scratch buffers.
            if plan.discardedGradients == nil {
                plan.discardedGradients = (try Tensor(zeros: [channels], context: context), try Tensor(zeros: [channels], context: context))
            }
            args += [(DNNL_ARG_DIFF_SCALE, plan.discardedGradients!.0), (DNNL_ARG_DIFF_SHIFT, plan.discardedGradients!.1)]
        }
        if let workspace = plan.workspace { args.append((DNNL_ARG_WORKSPACE, workspace)) }
        try primitive.execute(args)
        return request.input ? diffSrc : nil
    }
}
