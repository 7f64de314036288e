import CDNNL
import CKernels

/// Arithmetic of a frozen unit.
public enum FrozenPrecision: String, Sendable, Codable {
    /// int8 activations and weights on oneDNN's VNNI kernels; the input gradient through int8 deconvolutions.
    case int8
    /// The same folded computation in fp32: the reference for the int8 path and the calibration pass.
    case fp32
}

/// An activation passed between units: fp32, or int8 with its scale (real = scale · stored).
public struct UnitActivation {
    public let tensor: Tensor
    /// nil for fp32 tensors.
    public let scale: Float?
}

/// What an fp32 pass of a frozen unit measured; int8 scales are derived from it.
struct FrozenUnitStatistics {
    var inputAbsMax: Float = 0
    var inputMinimum: Float = 0
    /// max |a_k| of each stage's output (the last entry is the unit output).
    var stageAbsMax: [Float]
    /// max |r| of the residual branch (shortcut output or identity) in the unit's output scale.
    var residualAbsMax: Float = 0
    /// max |g_k| of the gradient entering each stage's transposed convolution.
    var stageGradientAbsMax: [Float]
    /// Per-channel max |g_k| for depthwise stages (whose transposed convolution does not mix channels).
    var stageGradientChannelAbsMax: [[Float]]
    var shortcutGradientAbsMax: Float = 0
}

/// A CoCoFL frozen unit: a chain of convolutions with BatchNorm folded in (each optionally followed by ReLU),
/// an optional residual (identity or a folded 1×1/3×3 convolution shortcut) and an optional ReLU after the add.
/// Forward runs in int8 (or fp32) on channels-last tensors; with `keepForBackward` only the post-ReLU int8
/// activations are kept (they are the ReLU masks), and `backward` computes only the input gradient through
/// transposed convolutions with the same quantized weights. Units of other shapes are not frozen this way.
public final class FrozenUnit {
    public let name: String
    public let precision: FrozenPrecision
    let stages: [FoldedConvolution]
    let shortcut: FoldedConvolution?
    let hasResidual: Bool
    let postReLU: Bool
    private let context: ComputeContext
    /// Round surviving ReLU outputs up to at least one quantum so int8 activations are exact ReLU masks.
    var maskExactness = true
    /// Filled by fp32 passes with `recordStatistics`.
    var statistics: FrozenUnitStatistics
    var recordStatistics = false
    /// int8 scales: input, then each stage output (the last is the unit output).
    private(set) var inputScale: Float = 1
    private(set) var inputUnsigned = false
    private(set) var stageScales: [Float]
    /// int8 scale of the residual branch, preloaded into the output buffer before the last convolution adds to it.
    private(set) var residualScale: Float = 1
    private(set) var gradientScales: [Float]
    /// Per-channel gradient scales of depthwise stages (empty for others).
    private(set) var gradientChannelScales: [[Float]] = []
    private(set) var shortcutGradientScale: Float = 1
    private var plans: [[Int]: Plan] = [:]
    private var lastPlan: Plan?
    /// Ops that ran in fp32 although the unit is int8 (reported, e.g. a transposed convolution without an int8 kernel).
    public private(set) var fallbacks: [String] = []

    /// Builds the frozen form of a model unit, or returns nil if the unit is not a conv-BN chain.
    public static func make(unit: Model.Unit, precision: FrozenPrecision, context: ComputeContext) throws -> FrozenUnit? {
        guard unit.layer.layers.count == 1 else { return nil }
        let inner = unit.layer.layers[0].layer
        if let residual = inner as? Residual {
            guard let stages = try chain(residual.main) else { return nil }
            var shortcut: FoldedConvolution?
            if let path = residual.shortcut {
                guard let folded = try chain(path), folded.count == 1, !folded[0].relu else { return nil }
                shortcut = folded[0]
            }
            if let post = residual.post, !(post is ReLU) { return nil }
            return FrozenUnit(name: unit.name, precision: precision, stages: stages, shortcut: shortcut, hasResidual: true,
                              postReLU: residual.post != nil, context: context)
        }
        if let sequential = inner as? Sequential, let stages = try chain(sequential) {
            return FrozenUnit(name: unit.name, precision: precision, stages: stages, shortcut: nil, hasResidual: false,
                              postReLU: false, context: context)
        }
        return nil
    }

    /// Parses [Conv2D, BatchNorm2D, (ReLU)]… into folded convolutions.
    private static func chain(_ sequence: Sequential) throws -> [FoldedConvolution]? {
        let layers = sequence.layers.map(\.layer)
        var result: [FoldedConvolution] = []
        var index = 0
        while index < layers.count {
            guard let convolution = layers[index] as? Conv2D, index + 1 < layers.count,
                  let batchNorm = layers[index + 1] as? BatchNorm2D else { return nil }
            index += 2
            var relu = batchNorm.fusedReLU
            if index < layers.count, layers[index] is ReLU { relu = true; index += 1 }
            result.append(try FoldedConvolution(convolution: convolution, batchNorm: batchNorm, relu: relu))
        }
        return result.isEmpty ? nil : result
    }

    private init(name: String, precision: FrozenPrecision, stages: [FoldedConvolution], shortcut: FoldedConvolution?,
                 hasResidual: Bool, postReLU: Bool, context: ComputeContext) {
        self.name = name
        self.precision = precision
        self.stages = stages
        self.shortcut = shortcut
        self.hasResidual = hasResidual
        self.postReLU = postReLU
        self.context = context
        statistics = FrozenUnitStatistics(stageAbsMax: Array(repeating: 0, count: stages.count),
                                          stageGradientAbsMax: Array(repeating: 0, count: stages.count),
                                          stageGradientChannelAbsMax: stages.map { [Float](repeating: 0, count: $0.isDepthwise ? $0.outputChannels : 0) })
        stageScales = Array(repeating: 1, count: stages.count)
        gradientScales = Array(repeating: 1, count: stages.count)
    }

    /// Whether the unit output is non-negative (stored as uint8 in int8 mode).
    var outputUnsigned: Bool { postReLU || (!hasResidual && stages.last!.relu) }

    /// The scale of the unit output in int8 mode.
    var outputScale: Float { stageScales[stages.count - 1] }

    /// Sets the int8 scales from fp32 statistics, using the full int8 range (absmax/127, or /255 for
    /// non-negative tensors). Drops any primitives built for older scales.
    func calibrate(from measured: FrozenUnitStatistics) {
        func scale(_ absMax: Float, unsigned: Bool) -> Float { max(absMax, 1e-8) / (unsigned ? 255 : 127) }
        inputUnsigned = measured.inputMinimum >= 0
        inputScale = scale(measured.inputAbsMax, unsigned: inputUnsigned)
        for k in stages.indices {
            let last = k == stages.count - 1
            let unsigned = last ? outputUnsigned : stages[k].relu
            stageScales[k] = scale(measured.stageAbsMax[k], unsigned: unsigned)
            gradientScales[k] = scale(measured.stageGradientAbsMax[k], unsigned: false)
        }
        gradientChannelScales = measured.stageGradientChannelAbsMax.map { $0.map { scale($0, unsigned: false) } }
        shortcutGradientScale = scale(measured.shortcutGradientAbsMax, unsigned: false)
        residualScale = scale(measured.residualAbsMax, unsigned: false)
        plans.removeAll()
        lastPlan = nil
    }

    // MARK: Plans

    private final class StagePlan {
        var forward: Primitive!
        var weights: Tensor!
        var bias: Tensor!
        var output: Tensor!
        var backward: Primitive?
        var backwardWeights: Tensor?
        var gradientInput: Tensor?     // quantized (int8) or masked (fp32) gradient entering the deconvolution
        var gradientOutput: Tensor?    // fp32 gradient w.r.t. the stage input
        /// Set when the transposed convolution has no kernel with a sum post-op: it writes here, then we add.
        var accumulationBuffer: Tensor?
    }

    private final class Plan {
        let inputDims: [Int]
        var input: Tensor!
        var inputReorder: Reorder?
        var stages: [StagePlan] = []
        var shortcut: StagePlan?
        var residualView: Tensor?
        var identityReorder: Reorder?
        var gradientSlot = LayoutSlot()
        var maskedGradient: Tensor?
        var shortcutGradientInput: Tensor?
        var valid = false
        init(inputDims: [Int]) { self.inputDims = inputDims }
    }

    private var int8: Bool { precision == .int8 }

    private func type(unsigned: Bool) -> dnnl_data_type_t { int8 ? (unsigned ? dnnl_u8 : dnnl_s8) : dnnl_f32 }

    private func stageDims(_ input: [Int], _ stage: FoldedConvolution) -> [Int] {
        [input[0], stage.outputChannels, stage.outputSize(input[2]), stage.outputSize(input[3])]
    }

    private func plan(for dims: [Int]) throws -> Plan {
        if let plan = plans[dims] { return plan }
        let plan = Plan(inputDims: dims)
        plan.input = try Tensor(descriptor: memoryDescriptor(dims, type(unsigned: inputUnsigned), dnnl_acdb), context: context)
        var current = dims
        var currentScale = inputScale
        var currentType = type(unsigned: inputUnsigned)
        for (k, stage) in stages.enumerated() {
            let last = k == stages.count - 1
            let outputDims = stageDims(current, stage)
            let outputType = type(unsigned: last ? outputUnsigned : stage.relu)
            let stagePlan = StagePlan()
            stagePlan.output = try Tensor(descriptor: memoryDescriptor(outputDims, outputType, dnnl_acdb), context: context)
            try buildForward(stagePlan, stage: stage, inputDims: current, inputType: currentType, inputScale: currentScale,
                             outputType: outputType, outputScale: stageScales[k],
                             sum: last && hasResidual ? type(unsigned: false) : nil,
                             sumScale: int8 ? residualScale / stageScales[k] : 1,
                             relu: last ? (hasResidual ? postReLU : stage.relu || postReLU) : stage.relu)
            plan.stages.append(stagePlan)
            current = outputDims
            currentScale = stageScales[k]
            currentType = outputType
        }
        if hasResidual {
            let output = plan.stages.last!.output!
            guard output.shape == (shortcut.map { stageDims(dims, $0) } ?? dims) else {
                throw ModelError("frozen unit \(name): residual shapes differ (\(output.shape) vs input \(dims))")
            }
            let residualDescriptor = output.descriptor.with(type: type(unsigned: false))
            plan.residualView = try Tensor(viewing: output, as: residualDescriptor)
            if let shortcut {
                let shortcutPlan = StagePlan()
                shortcutPlan.output = plan.residualView
                try buildForward(shortcutPlan, stage: shortcut, inputDims: dims, inputType: type(unsigned: inputUnsigned),
                                 inputScale: inputScale, outputType: residualDescriptor.data_type, outputScale: residualScale,
                                 sum: nil, relu: false)
                plan.shortcut = shortcutPlan
            } else {
                let attributes = try PrimitiveAttributes()
                if int8 { try attributes.setOutputScales([inputScale / residualScale], mask: 0) }
                plan.identityReorder = try Reorder(from: plan.input.descriptor, to: residualDescriptor, context: context, attributes: attributes)
            }
        }
        plans[dims] = plan
        return plan
    }

    private func buildForward(
        _ stagePlan: StagePlan, stage: FoldedConvolution, inputDims: [Int], inputType: dnnl_data_type_t, inputScale: Float,
        outputType: dnnl_data_type_t, outputScale: Float, sum: dnnl_data_type_t?, sumScale: Float = 1, relu: Bool
    ) throws {
        var src = try memoryDescriptor(inputDims, inputType, dnnl_acdb)
        var wei = try memoryDescriptor(stage.convolutionWeightDims, int8 ? dnnl_s8 : dnnl_f32, dnnl_format_tag_any)
        var bia = try memoryDescriptor([stage.outputChannels], dnnl_f32, dnnl_a)
        var dst = stagePlan.output.descriptor
        var op = dnnl_convolution_desc_t()
        try withDims([stage.stride, stage.stride]) { strides in
            try withDims([stage.padding, stage.padding]) { pad in
                try check(dnnl_convolution_forward_desc_init(&op, dnnl_forward_inference, dnnl_convolution_direct,
                                                              &src, &wei, &bia, &dst, strides, pad, pad),
                          "dnnl_convolution_forward_desc_init", "frozen unit \(name)")
            }
        }
        let attributes = try PrimitiveAttributes()
        var bias = stage.bias
        if int8 {
            // acc = Σ q_x q_w; real = s_in · s_w[o] · (acc + b/(s_in · s_w[o])); stored = real / s_out.
            try attributes.setOutputScales(stage.weightScales.map { inputScale * $0 / outputScale }, mask: 2)
            bias = zip(stage.bias, stage.weightScales).map { $0 / (inputScale * $1) }
        }
        // int8: after ReLU, add half a quantum before rounding so that every positive value stays ≥ 1 while exact
        // zeros stay 0 (round half to even): the stored activations are then exact ReLU masks for backward.
        try attributes.setPostOps(sum: sum, sumScale: sumScale, relu: relu, shiftAfterReLU: int8 && maskExactness ? 0.5 : 0)
        stagePlan.forward = try Primitive("frozen \(precision.rawValue) convolution", operation: &op, context: context, attributes: attributes)
        let plainWeights = try memoryDescriptor(stage.convolutionWeightDims, int8 ? dnnl_s8 : dnnl_f32, plainTag(rank: stage.convolutionWeightDims.count))
        let source = try Tensor(descriptor: plainWeights, context: context)
        if int8 {
            stage.quantizedWeights.withUnsafeBytes { source.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        } else {
            stage.weights.withUnsafeBytes { source.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        stagePlan.weights = try Tensor(descriptor: stagePlan.forward.memoryDescriptor(dnnl_query_weights_md), context: context)
        try Reorder(from: source.descriptor, to: stagePlan.weights.descriptor, context: context).run(source, into: stagePlan.weights)
        stagePlan.bias = try Tensor(shape: [stage.outputChannels], values: bias, context: context)
    }

    // MARK: Forward

    /// Runs the unit. The input may be fp32 in any layout or int8 with a scale; the output is int8 with
    /// `outputScale` (int8 mode) or fp32 channels-last. With `keepForBackward` the next `backward` is valid.
    public func forward(_ input: UnitActivation, keepForBackward: Bool) throws -> UnitActivation {
        let plan = try plan(for: input.tensor.shape)
        try load(input, into: plan)
        if recordStatistics {
            try context.wait()
            let values = plan.input.floats, count = plan.input.count
            statistics.inputAbsMax = max(statistics.inputAbsMax, ck_absmax(values, count))
            statistics.inputMinimum = min(statistics.inputMinimum, ck_min(values, count))
        }
        if hasResidual {
            if let shortcutPlan = plan.shortcut {
                try shortcutPlan.forward.execute([(DNNL_ARG_SRC, plan.input), (DNNL_ARG_WEIGHTS, shortcutPlan.weights),
                                                  (DNNL_ARG_BIAS, shortcutPlan.bias), (DNNL_ARG_DST, shortcutPlan.output)])
            } else {
                try plan.identityReorder!.run(plan.input, into: plan.residualView!)
            }
            if recordStatistics {
                try context.wait()
                statistics.residualAbsMax = max(statistics.residualAbsMax, ck_absmax(plan.residualView!.floats, plan.residualView!.count))
            }
        }
        var current: Tensor = plan.input
        for (k, stagePlan) in plan.stages.enumerated() {
            try stagePlan.forward.execute([(DNNL_ARG_SRC, current), (DNNL_ARG_WEIGHTS, stagePlan.weights),
                                           (DNNL_ARG_BIAS, stagePlan.bias), (DNNL_ARG_DST, stagePlan.output)])
            current = stagePlan.output
            if recordStatistics {
                try context.wait()
                statistics.stageAbsMax[k] = max(statistics.stageAbsMax[k], ck_absmax(current.floats, current.count))
            }
        }
        plan.valid = keepForBackward
        lastPlan = keepForBackward ? plan : nil
        return UnitActivation(tensor: current, scale: int8 ? outputScale : nil)
    }

    private func load(_ input: UnitActivation, into plan: Plan) throws {
        let source = input.tensor
        if source.descriptor.sameLayout(as: plan.input.descriptor) && (input.scale ?? 1) == (int8 ? inputScale : 1) {
            plan.input.copyBytes(from: source)
            return
        }
        if plan.inputReorder == nil || !plan.inputReorder!.source.sameLayout(as: source.descriptor) {
            let attributes = try PrimitiveAttributes()
            // stored_in = real / s_in, real = (input.scale ?? 1) · stored_source.
            let factor = (input.scale ?? 1) / (int8 ? inputScale : 1)
            if factor != 1 { try attributes.setOutputScales([factor], mask: 0) }
            plan.inputReorder = try Reorder(from: source.descriptor, to: plan.input.descriptor, context: context, attributes: attributes)
        }
        try plan.inputReorder!.run(source, into: plan.input)
    }

    // MARK: Backward

    /// The gradient with respect to the unit input (fp32, channels-last) for the gradient of its output.
    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        guard let plan = lastPlan, plan.valid else {
            throw ModelError("frozen unit \(name): backward without a forward that kept state")
        }
        let outputDims = plan.stages.last!.output.shape
        let gradient = try plan.gradientSlot.conform(outputGradient, to: memoryDescriptor(outputDims, dnnl_f32, dnnl_acdb), context: context)
        try context.wait()
        // Gradient through the post-add (or last-stage) ReLU, shared by the main path and the residual.
        let outputMasked = outputUnsigned
        if plan.maskedGradient == nil { plan.maskedGradient = try Tensor(descriptor: gradient.descriptor, context: context) }
        let masked = plan.maskedGradient!
        let lastOutput = plan.stages.last!.output!
        if outputMasked {
            if int8 {
                ck_mask_gradient_u8(gradient.floats, lastOutput.data.assumingMemoryBound(to: UInt8.self), gradient.count, masked.floats)
            } else {
                ck_mask_gradient(gradient.floats, lastOutput.floats, gradient.count, masked.floats)
            }
        } else {
            masked.copyBytes(from: gradient)
        }
        // Residual branch first, into the input-gradient buffer of stage 0; the main path then adds to it.
        let inputGradient = try gradientOutput(of: plan.stages[0], dims: plan.inputDims)
        if hasResidual {
            if let shortcut, let shortcutPlan = plan.shortcut {
                let quantized = try prepareGradient(masked, for: shortcut, scale: shortcutGradientScale, channelScales: [], plan: shortcutPlan, record: { absMax, _ in self.statistics.shortcutGradientAbsMax = max(self.statistics.shortcutGradientAbsMax, absMax) })
                try transposedConvolution(shortcutPlan, stage: shortcut, input: quantized, scale: shortcutGradientScale, channelScales: [], output: inputGradient, accumulate: false)
            } else {
                inputGradient.copyBytes(from: masked)
            }
        }
        var gradientIn = masked
        for k in stages.indices.reversed() {
            let stage = stages[k], stagePlan = plan.stages[k]
            let channelScales = int8 ? gradientChannelScales[k] : []
            let quantized = try prepareGradient(gradientIn, for: stage, scale: gradientScales[k], channelScales: channelScales, plan: stagePlan, record: { absMax, channelAbsMax in
                self.statistics.stageGradientAbsMax[k] = max(self.statistics.stageGradientAbsMax[k], absMax)
                if stage.isDepthwise { self.statistics.stageGradientChannelAbsMax[k] = zip(self.statistics.stageGradientChannelAbsMax[k], channelAbsMax).map { max($0, $1) } }
            })
            let output = k == 0 ? inputGradient : try gradientOutput(of: stagePlan, dims: plan.stages[k - 1].output.shape)
            try transposedConvolution(stagePlan, stage: stage, input: quantized, scale: gradientScales[k], channelScales: channelScales, output: output, accumulate: k == 0 && hasResidual)
            if k > 0 {
                try context.wait()
                let previous = plan.stages[k - 1]
                if stages[k - 1].relu {
                    if int8 {
                        ck_mask_gradient_u8(output.floats, previous.output.data.assumingMemoryBound(to: UInt8.self), output.count, output.floats)
                    } else {
                        ck_mask_gradient(output.floats, previous.output.floats, output.count, output.floats)
                    }
                }
                gradientIn = output
            }
        }
        return inputGradient
    }

    private func gradientOutput(of stagePlan: StagePlan, dims: [Int]) throws -> Tensor {
        if let existing = stagePlan.gradientOutput { return existing }
        let tensor = try Tensor(descriptor: memoryDescriptor(dims, dnnl_f32, dnnl_acdb), context: context)
        stagePlan.gradientOutput = tensor
        return tensor
    }

    /// int8: q = round(g / s_g), with one s_g per channel for depthwise stages; fp32: g itself (and, when
    /// calibrating, max |g| overall and per channel).
    private func prepareGradient(_ gradient: Tensor, for stage: FoldedConvolution, scale: Float, channelScales: [Float],
                                 plan stagePlan: StagePlan, record: (Float, [Float]) -> Void) throws -> Tensor {
        try context.wait()
        let channels = gradient.shape[1], pixels = gradient.count / channels
        if recordStatistics {
            var perChannel = [Float](repeating: 0, count: stage.isDepthwise ? channels : 0)
            if stage.isDepthwise {
                perChannel.withUnsafeMutableBufferPointer { ck_absmax_per_channel(gradient.floats, pixels, channels, $0.baseAddress) }
            }
            record(ck_absmax(gradient.floats, gradient.count), perChannel)
        }
        guard int8 else { return gradient }
        if stagePlan.gradientInput == nil {
            stagePlan.gradientInput = try Tensor(descriptor: gradient.descriptor.with(type: dnnl_s8), context: context)
        }
        let quantized = stagePlan.gradientInput!
        if channelScales.isEmpty {
            ck_quantize_gradient(gradient.floats, nil, nil, 1 / scale, pixels, channels, quantized.data.assumingMemoryBound(to: Int8.self))
        } else {
            let inverse = channelScales.map { 1 / $0 }
            ck_quantize_gradient(gradient.floats, nil, inverse, 1, pixels, channels, quantized.data.assumingMemoryBound(to: Int8.self))
        }
        return quantized
    }

    private func transposedConvolution(_ stagePlan: StagePlan, stage: FoldedConvolution, input: Tensor, scale: Float,
                                       channelScales: [Float], output: Tensor, accumulate: Bool) throws {
        if stagePlan.backward == nil {
            try buildBackward(stagePlan, stage: stage, input: input, scale: scale, channelScales: channelScales, output: output, accumulate: accumulate)
        }
        if let buffer = stagePlan.accumulationBuffer {
            try stagePlan.backward!.execute([(DNNL_ARG_SRC, input), (DNNL_ARG_WEIGHTS, stagePlan.backwardWeights!), (DNNL_ARG_DST, buffer)])
            try context.wait()
            ck_add(output.floats, buffer.floats, output.floats, output.count)
        } else {
            try stagePlan.backward!.execute([(DNNL_ARG_SRC, input), (DNNL_ARG_WEIGHTS, stagePlan.backwardWeights!), (DNNL_ARG_DST, output)])
        }
    }

    private func buildBackward(_ stagePlan: StagePlan, stage: FoldedConvolution, input: Tensor, scale: Float,
                               channelScales: [Float], output: Tensor, accumulate: Bool) throws {
        func build(_ weightType: dnnl_data_type_t, _ sourceType: dnnl_data_type_t, _ accumulate: Bool) throws -> Primitive {
            var src = input.descriptor.with(type: sourceType)
            var wei = try memoryDescriptor(stage.deconvolutionWeightDims, weightType, dnnl_format_tag_any)
            var dst = output.descriptor
            var op = dnnl_deconvolution_desc_t()
            try withDims([stage.stride, stage.stride]) { strides in
                try withDims([stage.padding, stage.padding]) { pad in
                    try check(dnnl_deconvolution_forward_desc_init(&op, dnnl_forward_inference, dnnl_deconvolution_direct,
                                                                   &src, &wei, nil, &dst, strides, pad, pad),
                              "dnnl_deconvolution_forward_desc_init", "frozen unit \(name)")
                }
            }
            let attributes = try PrimitiveAttributes()
            // real dx[i] = s_g · s_wᵀ[i] · Σ q_g q_wᵀ: one scale per output channel of the transposed convolution.
            // Depthwise: output channel c uses only gradient channel c, so its gradient scale joins the output scale.
            if weightType == dnnl_s8 {
                let gradientScales = channelScales.isEmpty ? [Float](repeating: scale, count: stage.inputChannels) : channelScales
                try attributes.setOutputScales(zip(stage.transposedWeightScales, gradientScales).map { $0 * $1 }, mask: 2)
            }
            try attributes.setPostOps(sum: accumulate ? dnnl_f32 : nil, relu: false)
            return try Primitive("frozen \(precision.rawValue) transposed convolution", operation: &op, context: context, attributes: attributes)
        }
        let primitive: Primitive
        do {
            primitive = try build(int8 ? dnnl_s8 : dnnl_f32, int8 ? dnnl_s8 : dnnl_f32, accumulate)
        } catch let error as DNNLError where accumulate && error.status == dnnl_unimplemented {
            primitive = try build(int8 ? dnnl_s8 : dnnl_f32, int8 ? dnnl_s8 : dnnl_f32, false)
            stagePlan.accumulationBuffer = try Tensor(descriptor: output.descriptor, context: context)
        }
        stagePlan.backward = primitive
        let plainDims = stage.deconvolutionWeightDims
        let plain = try Tensor(descriptor: memoryDescriptor(plainDims, int8 ? dnnl_s8 : dnnl_f32, plainTag(rank: plainDims.count)), context: context)
        if int8 {
            stage.transposedQuantizedWeights.withUnsafeBytes { plain.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        } else {
            stage.transposedWeights.withUnsafeBytes { plain.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        let weights = try Tensor(descriptor: primitive.memoryDescriptor(dnnl_query_weights_md), context: context)
        try Reorder(from: plain.descriptor, to: weights.descriptor, context: context).run(plain, into: weights)
        stagePlan.backwardWeights = weights
        if int8 && stage.groups > 1 && primitive.implementation.contains("ref") {
            fallbacks.append("\(name): grouped int8 transposed convolution runs on oneDNN's reference kernel")
        }
    }

    /// oneDNN implementations of the last forward and backward (for reports).
    public var implementations: [String] {
        guard let plan = lastPlan ?? plans.values.first else { return [] }
        return plan.stages.flatMap { [$0.forward.implementation] + ($0.backward.map { [$0.implementation] } ?? []) }
    }
}

extension UnitActivation {
    /// The real values (scale applied) in plain PyTorch order.
    public func realValues() throws -> [Float] {
        guard let scale else { return try tensor.toArray() }
        let context = tensor.contextForCopies
        let plain = try Tensor(zeros: tensor.shape, context: context)
        let attributes = try PrimitiveAttributes()
        try attributes.setOutputScales([scale], mask: 0)
        try Reorder(from: tensor.descriptor, to: plain.descriptor, context: context, attributes: attributes).run(tensor, into: plain)
        return try plain.toArray()
    }
}
