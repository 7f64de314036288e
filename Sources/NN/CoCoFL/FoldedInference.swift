import CDNNL

/// A forward-only copy of a model at inference speed: every unit that is a conv-BN chain runs as a `FrozenUnit`
/// (BatchNorm folded into the convolution with the running statistics, ReLU and the residual add as post-ops,
/// channels-last, no state kept for backward); the other units (pooling and linear heads, blocks that do not fold)
/// run as the model's own layers in evaluation mode.
///
/// The parameters are folded when the copy is made, so make a new one after the model's parameters change (the
/// primitives come from oneDNN's primitive cache, so that is cheap). With `.int8` the blocks run in int8 as CoCoFL's
/// frozen units do (stems and IO units stay fp32), calibrated by `calibrate(on:)` on one batch before first use.
/// Equal to `model.forward(_, phase: .evaluation)` up to float rounding (fp32) or quantization (int8).
public final class FoldedInference {
    public let model: Model
    public let precision: FrozenPrecision
    private var folded: [Int: FrozenUnit] = [:]
    private var twins: [Int: FrozenUnit] = [:]
    private let dequantizer: Dequantizer

    /// Folds `model`'s current parameters.
    public init(model: Model, precision: FrozenPrecision = .fp32) throws {
        self.model = model
        self.precision = precision
        dequantizer = Dequantizer(context: model.context)
        for (index, unit) in model.units.enumerated() {
            let isBlock = unit.kind == .block || unit.kind == .transition
            let unitPrecision: FrozenPrecision = isBlock ? precision : .fp32
            guard let frozen = try FrozenUnit.make(unit: unit, precision: unitPrecision, context: model.context) else { continue }
            folded[index] = frozen
            if unitPrecision == .int8 {
                twins[index] = try FrozenUnit.make(unit: unit, precision: .fp32, context: model.context)
            }
        }
    }

    /// Names of the units that run folded (the rest run as the model's layers).
    public var foldedUnits: [String] { folded.keys.sorted().map { model.units[$0].name } }

    /// Whether `logits` can run: fp32 always, int8 after `calibrate(on:)`.
    public var isCalibrated: Bool { twins.isEmpty }

    /// Sets the int8 scales from one fp32 pass over `images` (a training batch); does nothing in fp32.
    public func calibrate(on images: Tensor) throws {
        guard !twins.isEmpty else { return }
        for twin in twins.values { twin.recordStatistics = true }
        _ = try run(images, units: folded.merging(twins) { _, twin in twin })
        for (index, twin) in twins {
            twin.recordStatistics = false
            folded[index]!.calibrate(from: twin.statistics)
        }
        twins.removeAll()
    }

    /// The logits of a batch of images [N, C, H, W] (plain fp32 layout); valid until the next call.
    public func logits(_ images: Tensor) throws -> Tensor {
        guard isCalibrated else {
            throw ModelError("int8 folded inference of \(model.name) needs calibrate(on:) with a training batch first")
        }
        return try run(images, units: folded)
    }

    private func run(_ images: Tensor, units: [Int: FrozenUnit]) throws -> Tensor {
        var current = UnitActivation(tensor: images, scale: nil)
        for (index, unit) in model.units.enumerated() {
            if let frozen = units[index] {
                current = try frozen.forward(current, keepForBackward: false)
            } else {
                let input = try dequantizer.fp32(current, slot: index)
                current = UnitActivation(tensor: try unit.layer.forward(input, phase: .evaluation), scale: nil)
            }
        }
        return try dequantizer.fp32(current, slot: model.units.count)
    }
}

/// Converts int8 unit activations to fp32 in the same layout, one cached reorder per slot (the unit it enters).
final class Dequantizer {
    private let context: ComputeContext
    private var reorders: [Int: (scale: Float, reorder: Reorder, output: Tensor)] = [:]

    init(context: ComputeContext) { self.context = context }

    /// The activation itself when it is fp32, else its dequantized copy (valid until the next call for `slot`).
    func fp32(_ activation: UnitActivation, slot: Int) throws -> Tensor {
        guard let scale = activation.scale else { return activation.tensor }
        let source = activation.tensor
        if let cached = reorders[slot], cached.scale == scale, cached.reorder.source.sameLayout(as: source.descriptor) {
            try cached.reorder.run(source, into: cached.output)
            return cached.output
        }
        let output = try Tensor(descriptor: source.descriptor.with(type: dnnl_f32), context: context)
        let attributes = try PrimitiveAttributes()
        try attributes.setOutputScales([scale], mask: 0)
        let reorder = try Reorder(from: source.descriptor, to: output.descriptor, context: context, attributes: attributes)
        reorders[slot] = (scale, reorder, output)
        try reorder.run(source, into: output)
        return output
    }
}
