import CDNNL

/// The forward/backward bookkeeping shared by layers whose primitive has a weight and an optional bias
/// (convolution, inner product): one set of primitives per input shape and phase, weights reordered to the
/// primitive's layout once per weight update, reorders only where layouts differ, and buffers reused across calls.
final class WeightedKernel {
    /// Creates the operation descriptors for a given input shape.
    struct Operations {
        /// Forward descriptor for (input dims, training?).
        var forward: ([Int], Bool) throws -> Primitive
        /// Backward-data primitive for input dims, given the forward primitive as hint.
        var backwardData: ([Int], Primitive) throws -> Primitive
        /// Backward-weights primitive for input dims, given the forward primitive as hint.
        var backwardWeights: ([Int], Primitive) throws -> Primitive
    }

    private let context: ComputeContext
    private let weight: Parameter
    private let bias: Parameter?
    /// `weight.value` / `weight.gradient` seen with the primitive's weight dims (5-D when grouped).
    private let weightValue: Tensor
    private let weightGradient: Tensor
    private let operations: Operations
    private let name: String

    private struct PlanKey: Hashable { let dims: [Int]; let training: Bool }
    private var plans: [PlanKey: Plan] = [:]
    private var lastTraining: (plan: Plan, input: Tensor)?

    private final class Plan {
        let forward: Primitive
        let outputs = BufferPool()
        let inputSlot = LayoutSlot()
        let weightSlot = LayoutSlot()
        var weightVersion = -1
        var weights: Tensor?
        var backwardData: Primitive?
        let backwardDataGradientSlot = LayoutSlot()
        let backwardDataWeightSlot = LayoutSlot()
        let inputGradients = BufferPool()
        var backwardWeights: Primitive?
        let backwardWeightsGradientSlot = LayoutSlot()
        let backwardWeightsInputSlot = LayoutSlot()
        let weightGradients = BufferPool()
        var weightGradientReorder: Reorder?
        init(forward: Primitive) { self.forward = forward }
    }

    init(name: String, weight: Parameter, weightDims: [Int], bias: Parameter?, context: ComputeContext, operations: Operations) throws {
        self.name = name
        self.context = context
        self.weight = weight
        self.bias = bias
        self.operations = operations
        if weightDims == weight.shape {
            weightValue = weight.value
            weightGradient = weight.gradient!
        } else {
            let md = try memoryDescriptor(weightDims, dnnl_f32, plainTag(rank: weightDims.count))
            weightValue = try Tensor(viewing: weight.value, as: md)
            weightGradient = try Tensor(viewing: weight.gradient!, as: md)
        }
    }

    /// Implementation names oneDNN chose for the last training forward (for benchmarks and reports).
    var implementations: [String] {
        guard let plan = lastTraining?.plan else { return [] }
        return [plan.forward, plan.backwardData, plan.backwardWeights].compactMap { $0?.implementation }
    }

    func forward(_ input: Tensor, phase: Phase) throws -> Tensor {
        let training = phase.keepsState
        let key = PlanKey(dims: input.shape, training: training)
        let plan: Plan
        if let cached = plans[key] {
            plan = cached
        } else {
            plan = Plan(forward: try operations.forward(input.shape, training))
            plans[key] = plan
        }
        let forward = plan.forward
        let source = try plan.inputSlot.conform(input, to: forward.memoryDescriptor(dnnl_query_src_md), context: context)
        if plan.weightVersion != weight.version || plan.weights == nil {
            plan.weights = try plan.weightSlot.conform(weightValue, to: forward.memoryDescriptor(dnnl_query_weights_md), context: context)
            plan.weightVersion = weight.version
        }
        let output = try plan.outputs.tensor(forward.memoryDescriptor(dnnl_query_dst_md), context: context)
        var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, plan.weights!), (DNNL_ARG_DST, output)]
        if let bias { args.append((DNNL_ARG_BIAS, bias.value)) }
        try forward.execute(args)
        lastTraining = training ? (plan, source) : nil
        return output
    }

    func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor? {
        guard let (plan, input) = lastTraining else {
            throw ModelError("\(name).backward called without a preceding training forward")
        }
        var inputGradient: Tensor?
        if request.input {
            if plan.backwardData == nil { plan.backwardData = try operations.backwardData(input.shape, plan.forward) }
            let primitive = plan.backwardData!
            let diffDst = try plan.backwardDataGradientSlot.conform(outputGradient, to: primitive.memoryDescriptor(dnnl_query_diff_dst_md), context: context)
            let weights = try plan.backwardDataWeightSlot.conform(plan.weights!, to: primitive.memoryDescriptor(dnnl_query_weights_md), context: context)
            let diffSrc = try plan.inputGradients.tensor(primitive.memoryDescriptor(dnnl_query_diff_src_md), context: context)
            try primitive.execute([(DNNL_ARG_DIFF_DST, diffDst), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_DIFF_SRC, diffSrc)])
            inputGradient = diffSrc
        }
        if request.parameters {
            if plan.backwardWeights == nil { plan.backwardWeights = try operations.backwardWeights(input.shape, plan.forward) }
            let primitive = plan.backwardWeights!
            let source = try plan.backwardWeightsInputSlot.conform(input, to: primitive.memoryDescriptor(dnnl_query_src_md), context: context)
            let diffDst = try plan.backwardWeightsGradientSlot.conform(outputGradient, to: primitive.memoryDescriptor(dnnl_query_diff_dst_md), context: context)
            let diffWeightsDescriptor = primitive.memoryDescriptor(dnnl_query_diff_weights_md)
            let diffWeights = diffWeightsDescriptor.sameLayout(as: weightGradient.descriptor)
                ? weightGradient : try plan.weightGradients.tensor(diffWeightsDescriptor, context: context)
            var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, source), (DNNL_ARG_DIFF_DST, diffDst), (DNNL_ARG_DIFF_WEIGHTS, diffWeights)]
            if let bias { args.append((DNNL_ARG_DIFF_BIAS, bias.gradient!)) }
            try primitive.execute(args)
            if diffWeights !== weightGradient {
                if plan.weightGradientReorder == nil {
                    plan.weightGradientReorder = try Reorder(from: diffWeights.descriptor, to: weightGradient.descriptor, context: context)
                }
                try plan.weightGradientReorder!.run(diffWeights, into: weightGradient)
            }
        }
        return inputGradient
    }
}
