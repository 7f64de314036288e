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
                                          stageGradientAbsMax: Array(repeating: 0, count: stages.count))
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
        /// fp32 transposed convolutions: the input in the primitive's layout, its output there, and the copy-out.
        let backwardInputSlot = LayoutSlot()
        var backwardStaging: Tensor?
        var backwardCopyOut: Reorder?
        var backwardSum: Tensor?
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
        let unitInput = try load(input, into: plan)
        if recordStatistics {
            try context.wait()
            let values = unitInput.floats, count = unitInput.count
            statistics.inputAbsMax = max(statistics.inputAbsMax, ck_absmax(values, count))
            statistics.inputMinimum = min(statistics.inputMinimum, ck_min(values, count))
        }
        if hasResidual {
            if let shortcutPlan = plan.shortcut {
                try shortcutPlan.forward.execute([(DNNL_ARG_SRC, unitInput), (DNNL_ARG_WEIGHTS, shortcutPlan.weights),
                                                  (DNNL_ARG_BIAS, shortcutPlan.bias), (DNNL_ARG_DST, shortcutPlan.output)])
            } else {
                try plan.identityReorder!.run(unitInput, into: plan.residualView!)
            }
            if recordStatistics {
                try context.wait()
                statistics.residualAbsMax = max(statistics.residualAbsMax, ck_absmax(plan.residualView!.floats, plan.residualView!.count))
            }
        }
        var current: Tensor = unitInput
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

    /// `input` (fp32) converted to this unit's int8 input (a copy), as an int8 predecessor would hand it over.
    public func quantize(_ input: Tensor) throws -> UnitActivation {
        let plan = try plan(for: input.shape)
        let converted = try load(UnitActivation(tensor: input, scale: nil), into: plan)
        let copy = try Tensor(descriptor: converted.descriptor, context: context)
        try context.wait()
        copy.copyBytes(from: converted)
        return UnitActivation(tensor: copy, scale: int8 ? inputScale : nil)
    }

    /// The unit's input in its layout, type and scale: the activation itself when it already is, else converted.
    private func load(_ input: UnitActivation, into plan: Plan) throws -> Tensor {
        let source = input.tensor
        if source.descriptor.sameLayout(as: plan.input.descriptor) && (input.scale ?? 1) == (int8 ? inputScale : 1) {
            return source
        }
        if plan.inputReorder == nil || !plan.inputReorder!.source.sameLayout(as: source.descriptor) {
            let attributes = try PrimitiveAttributes()
            // stored_in = real / s_in, real = (input.scale ?? 1) · stored_source.
            let factor = (input.scale ?? 1) / (int8 ? inputScale : 1)
            if factor != 1 { try attributes.setOutputScales([factor], mask: 0) }
            plan.inputReorder = try Reorder(from: source.descriptor, to: plan.input.descriptor, context: context, attributes: attributes)
        }
        try plan.inputReorder!.run(source, into: plan.input)
        return plan.input
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
        // The gradient through the post-add (or last-stage) ReLU, shared by the main path and the residual.
        var masked = gradient
        if outputUnsigned {
            if plan.maskedGradient == nil { plan.maskedGradient = try Tensor(descriptor: gradient.descriptor, context: context) }
            masked = plan.maskedGradient!
            applyMask(plan.stages.last!.output, to: gradient, into: masked)
        }
        // Residual branch first, into the input-gradient buffer; the main path's last op then adds to it.
        let inputGradient = try gradientOutput(of: plan.stages[0], dims: plan.inputDims)
        if hasResidual {
            if let shortcut, let shortcutPlan = plan.shortcut {
                let prepared = try prepareGradient(masked, mask: nil, for: shortcut, scale: shortcutGradientScale, plan: shortcutPlan) {
                    self.statistics.shortcutGradientAbsMax = max(self.statistics.shortcutGradientAbsMax, $0)
                }
                try transposedConvolution(shortcutPlan, stage: shortcut, input: prepared, scale: shortcutGradientScale, output: inputGradient, accumulate: false)
            } else {
                let from = SendablePointer(masked.data.assumingMemoryBound(to: UInt8.self))
                let to = SendablePointer(inputGradient.data.assumingMemoryBound(to: UInt8.self))
                parallelChunks(masked.byteCount, minimumChunk: 1 << 17) { r in (to.pointer + r.lowerBound).update(from: from.pointer + r.lowerBound, count: r.count) }
            }
        }
        var pending: (gradient: Tensor, mask: Tensor?) = (masked, nil)
        for k in stages.indices.reversed() {
            let stage = stages[k], stagePlan = plan.stages[k]
            let prepared = try prepareGradient(pending.gradient, mask: pending.mask, for: stage, scale: gradientScales[k], plan: stagePlan) {
                self.statistics.stageGradientAbsMax[k] = max(self.statistics.stageGradientAbsMax[k], $0)
            }
            let output = k == 0 ? inputGradient : try gradientOutput(of: stagePlan, dims: plan.stages[k - 1].output.shape)
            try transposedConvolution(stagePlan, stage: stage, input: prepared, scale: gradientScales[k], output: output, accumulate: k == 0 && hasResidual)
            if k > 0 { pending = (output, stages[k - 1].relu ? plan.stages[k - 1].output : nil) }
        }
        return inputGradient
    }

    /// out = gradient where the (uint8 or fp32) post-ReLU activation is positive, else 0.
    private func applyMask(_ mask: Tensor, to gradient: Tensor, into out: Tensor) {
        let g = SendablePointer(gradient.floats), o = SendablePointer(out.floats)
        if mask.descriptor.data_type == dnnl_u8 {
            let m = SendablePointer(mask.data.assumingMemoryBound(to: UInt8.self))
            parallelChunks(gradient.count) { r in ck_mask_gradient_u8(g.pointer + r.lowerBound, m.pointer + r.lowerBound, r.count, o.pointer + r.lowerBound) }
        } else {
            let m = SendablePointer(mask.floats)
            parallelChunks(gradient.count) { r in ck_mask_gradient(g.pointer + r.lowerBound, m.pointer + r.lowerBound, r.count, o.pointer + r.lowerBound) }
        }
    }

    private func gradientOutput(of stagePlan: StagePlan, dims: [Int]) throws -> Tensor {
        if let existing = stagePlan.gradientOutput { return existing }
        let tensor = try Tensor(descriptor: memoryDescriptor(dims, dnnl_f32, dnnl_acdb), context: context)
        stagePlan.gradientOutput = tensor
        return tensor
    }

    /// The input of a stage's transposed convolution: int8 ops get q = round(mask · g / s_g) in one pass; fp32 ops
    /// get the masked gradient in place (and, when calibrating, max |mask · g| is recorded).
    private func prepareGradient(_ gradient: Tensor, mask: Tensor?, for stage: FoldedConvolution, scale: Float,
                                 plan stagePlan: StagePlan, record: (Float) -> Void) throws -> Tensor {
        try context.wait()
        let channels = gradient.shape[1], pixels = gradient.count / channels
        if int8Backward(stage) {
            if stagePlan.gradientInput == nil {
                stagePlan.gradientInput = try Tensor(descriptor: gradient.descriptor.with(type: dnnl_s8), context: context)
            }
            let quantized = stagePlan.gradientInput!
            let g = SendablePointer(gradient.floats), q = SendablePointer(quantized.data.assumingMemoryBound(to: Int8.self))
            let m = mask.map { SendablePointer($0.data.assumingMemoryBound(to: UInt8.self)) }
            let inverse = 1 / scale
            parallelChunks(pixels, minimumChunk: max(1, (1 << 15) / channels)) { r in
                let offset = r.lowerBound * channels
                ck_quantize_gradient(g.pointer + offset, m.map { $0.pointer + offset }, nil, inverse, r.count, channels, q.pointer + offset)
            }
            return quantized
        }
        if let mask { applyMask(mask, to: gradient, into: gradient) }
        if recordStatistics { record(ck_absmax(gradient.floats, gradient.count)) }
        return gradient
    }

    private func transposedConvolution(_ stagePlan: StagePlan, stage: FoldedConvolution, input: Tensor, scale: Float,
                                       output: Tensor, accumulate: Bool) throws {
        if stagePlan.backward == nil {
            try buildBackward(stagePlan, stage: stage, input: input, scale: scale, output: output, accumulate: accumulate)
        }
        let primitive = stagePlan.backward!
        let source = try stagePlan.backwardInputSlot.conform(input, to: primitive.memoryDescriptor(dnnl_query_src_md), context: context)
        // Where the primitive writes: its own layout (fp32 ops), a side buffer (when adding by hand), or the output.
        let target = stagePlan.backwardStaging ?? stagePlan.backwardSum ?? output
        try primitive.execute([(DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, stagePlan.backwardWeights!), (DNNL_ARG_DST, target)])
        if let copyOut = stagePlan.backwardCopyOut {
            try copyOut.run(target, into: stagePlan.backwardSum ?? output)
        }
        if let sum = stagePlan.backwardSum {
            try context.wait()
            let a = SendablePointer(output.floats), b = SendablePointer(sum.floats)
            parallelChunks(output.count) { r in ck_add(a.pointer + r.lowerBound, b.pointer + r.lowerBound, a.pointer + r.lowerBound, r.count) }
        }
    }

    /// int8 ops read the channels-last int8 gradient and write (or add to) the channels-last output directly, with
    /// one output scale per channel: real dx[i] = s_g · s_wᵀ[i] · Σ q_g q_wᵀ. fp32 ops let oneDNN pick its blocked
    /// layouts (much faster for depthwise) and a reorder (with a sum post-op when accumulating) writes the output.
    private func buildBackward(_ stagePlan: StagePlan, stage: FoldedConvolution, input: Tensor, scale: Float,
                               output: Tensor, accumulate: Bool) throws {
        let quantized = int8Backward(stage)
        let dataType = quantized ? dnnl_s8 : dnnl_f32
        var src = quantized ? input.descriptor : try memoryDescriptor(input.shape, dnnl_f32, dnnl_format_tag_any)
        var wei = try memoryDescriptor(stage.deconvolutionWeightDims, dataType, dnnl_format_tag_any)
        var dst = quantized ? output.descriptor : try memoryDescriptor(output.shape, dnnl_f32, dnnl_format_tag_any)
        let flipped = stage.backwardIsFlippedConvolution
        var deconvolution = dnnl_deconvolution_desc_t()
        var convolution = dnnl_convolution_desc_t()
        try withDims([stage.stride, stage.stride]) { strides in
            try withDims([stage.padding, stage.padding]) { pad in
                if flipped {
                    try check(dnnl_convolution_forward_desc_init(&convolution, dnnl_forward_inference, dnnl_convolution_direct,
                                                                 &src, &wei, nil, &dst, strides, pad, pad),
                              "dnnl_convolution_forward_desc_init", "frozen unit \(name), flipped depthwise")
                } else {
                    try check(dnnl_deconvolution_forward_desc_init(&deconvolution, dnnl_forward_inference, dnnl_deconvolution_direct,
                                                                   &src, &wei, nil, &dst, strides, pad, pad),
                              "dnnl_deconvolution_forward_desc_init", "frozen unit \(name)")
                }
            }
        }
        func make(sum: Bool) throws -> Primitive {
            let attributes = try PrimitiveAttributes()
            if quantized { try attributes.setOutputScales(stage.transposedWeightScales.map { $0 * scale }, mask: 2) }
            try attributes.setPostOps(sum: sum ? dnnl_f32 : nil, relu: false)
            let label = "frozen \(precision.rawValue) transposed convolution"
            return flipped ? try Primitive(label, operation: &convolution, context: context, attributes: attributes)
                : try Primitive(label, operation: &deconvolution, context: context, attributes: attributes)
        }
        // Accumulate with a sum post-op where oneDNN has a kernel for it (int8, channels-last); otherwise by hand.
        var primitive: Primitive
        var addByHand = accumulate && !quantized
        do {
            primitive = try make(sum: accumulate && quantized)
        } catch let error as DNNLError where accumulate && quantized && error.status == dnnl_unimplemented {
            primitive = try make(sum: false)
            addByHand = true
        }
        stagePlan.backward = primitive
        let destination = primitive.memoryDescriptor(dnnl_query_dst_md)
        if !destination.sameLayout(as: output.descriptor) {
            stagePlan.backwardStaging = try Tensor(descriptor: destination, context: context)
            stagePlan.backwardCopyOut = try Reorder(from: destination, to: output.descriptor, context: context)
        }
        if addByHand { stagePlan.backwardSum = try Tensor(descriptor: output.descriptor, context: context) }
        if int8 && !quantized {
            fallbacks.append("\(name): stride-\(stage.stride) depthwise transposed convolution (input gradient) in fp32 — oneDNN 2.6's int8 kernel for it is gemm-based and ~100× slower")
        }
        let plainDims = stage.deconvolutionWeightDims
        let plain = try Tensor(descriptor: memoryDescriptor(plainDims, dataType, plainTag(rank: plainDims.count)), context: context)
        if quantized {
            let values = flipped ? stage.flippedKernels(stage.transposedQuantizedWeights) : stage.transposedQuantizedWeights
            values.withUnsafeBytes { plain.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        } else {
            let values = flipped ? stage.flippedKernels(stage.transposedWeights) : stage.transposedWeights
            values.withUnsafeBytes { plain.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        let weights = try Tensor(descriptor: primitive.memoryDescriptor(dnnl_query_weights_md), context: context)
        try Reorder(from: plain.descriptor, to: weights.descriptor, context: context).run(plain, into: weights)
        stagePlan.backwardWeights = weights
    }

    /// Whether a stage's input-gradient op runs in int8 (strided depthwise ones run in fp32: see `fallbacks`).
    private func int8Backward(_ stage: FoldedConvolution) -> Bool { int8 && (!stage.isDepthwise || stage.backwardIsFlippedConvolution) }

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
