import CoCoFLCore
import CDNNL

/// Trains one CoCoFL configuration of a model: units before the window run frozen forward-only, units inside
/// are trained in fp32, units after run frozen with an input-gradient-only backward. Frozen block units run in
/// int8 (BN folded); stems, heads and IO units, and blocks that are not conv-BN chains, stay fp32 (listed in
/// `fp32Units`; the conv-BN ones among them with BN folded). The int8 scales come from the first step, which runs
/// the same folded units in fp32 and measures
/// every activation and gradient range (per-round calibration on the device's own first batch).
public final class WindowTrainer {
    public let model: Model
    public let window: TrainedWindow
    public let precision: FrozenPrecision
    public let optimizer: SGD
    /// Applied to the window's gradients between backward and the optimizer step (nil: plain cross-entropy).
    public var gradientHook: GradientHook?
    private let loss: SoftmaxCrossEntropy
    private var frozen: [Int: FrozenUnit] = [:]
    private var twins: [Int: FrozenUnit] = [:]
    private var calibrated = false
    private let dequantizer: Dequantizer
    /// Frozen units that run in fp32 (non-block units, or blocks that cannot be folded), by name.
    public private(set) var fp32Units: [String] = []

    public init(model: Model, window: TrainedWindow, optimizer: SGD, precision: FrozenPrecision = .int8) throws {
        guard window.last < model.units.count else {
            throw ModelError("window \(window) is outside \(model.name)'s units 0…\(model.units.count - 1)")
        }
        self.model = model
        self.window = window
        self.precision = precision
        self.optimizer = optimizer
        loss = SoftmaxCrossEntropy(context: model.context)
        dequantizer = Dequantizer(context: model.context)
        model.setTrainableUnits(window.range)
        for (index, unit) in model.units.enumerated() where !window.range.contains(index) {
            let isBlock = unit.kind == .block || unit.kind == .transition
            // Blocks run in int8; stems and IO layers stay fp32 but still get their BN folded when they are
            // conv-BN chains. Whatever cannot be folded runs as the model's own layers.
            let unitPrecision: FrozenPrecision = isBlock ? precision : .fp32
            if let folded = try FrozenUnit.make(unit: unit, precision: unitPrecision, context: model.context) {
                frozen[index] = folded
                if unitPrecision == .int8 {
                    twins[index] = try FrozenUnit.make(unit: unit, precision: .fp32, context: model.context)
                }
            }
            if unitPrecision == .fp32 || frozen[index] == nil { fp32Units.append(unit.name) }
        }
        calibrated = twins.isEmpty
    }

    /// Ops inside frozen units that fell back to fp32, if any.
    public var fallbacks: [String] { frozen.keys.sorted().flatMap { frozen[$0]!.fallbacks } }

    /// Names of units that run frozen in int8.
    public var int8Units: [String] {
        frozen.keys.sorted().filter { frozen[$0]!.precision == .int8 }.map { model.units[$0].name }
    }

    /// One SGD step on the window. The first step of an int8 trainer runs the frozen units in fp32 and calibrates.
    @discardableResult
    public func step(images: Tensor, labels: [Int32]) throws -> SoftmaxCrossEntropy.Result {
        if calibrated { return try run(images: images, labels: labels, frozenUnits: frozen) }
        for twin in twins.values { twin.recordStatistics = true }
        let result = try run(images: images, labels: labels, frozenUnits: twins)
        for (index, twin) in twins {
            twin.recordStatistics = false
            frozen[index]!.calibrate(from: twin.statistics)
        }
        twins.removeAll()
        calibrated = true
        return result
    }

    private func run(images: Tensor, labels: [Int32], frozenUnits: [Int: FrozenUnit]) throws -> SoftmaxCrossEntropy.Result {
        var current = UnitActivation(tensor: images, scale: nil)
        for (index, unit) in model.units.enumerated() {
            if let folded = frozenUnits[index] {
                current = try folded.forward(current, keepForBackward: index > window.last)
            } else {
                let phase: Phase = window.range.contains(index) ? .training : (index < window.first ? .evaluation : .frozen)
                current = UnitActivation(tensor: try unit.layer.forward(try fp32(current, unit: index), phase: phase), scale: nil)
            }
        }
        let result = try loss(logits: try fp32(current, unit: model.units.count), labels: labels)
        var gradient = result.gradient
        for index in stride(from: model.units.count - 1, through: window.first, by: -1) {
            if let folded = frozenUnits[index] {
                gradient = try folded.backward(gradient)
            } else {
                let trained = window.range.contains(index)
                let request = GradientRequest(input: index > window.first, parameters: trained)
                guard let next = try model.units[index].layer.backward(gradient, request: request) else { break }
                gradient = next
            }
        }
        try model.context.wait()
        let extra = gradientHook.map { model.applyGradientHook($0) }
        try optimizer.step(model.trainableParameters().map(\.parameter))
        return extra.map { result.adding(loss: $0) } ?? result
    }

    /// An fp32 view of an activation entering unit `index` (int8 activations are dequantized).
    private func fp32(_ activation: UnitActivation, unit index: Int) throws -> Tensor {
        try dequantizer.fp32(activation, slot: index)
    }

    /// fp32 bytes a device uploads after training this window: the window's learnable parameters and buffers.
    public static func uploadBytes(model: Model, window: TrainedWindow) -> Int {
        window.range.reduce(0) { total, index in
            total + model.units[index].layer.namedParameters().reduce(0) { $0 + $1.parameter.value.count * 4 }
        }
    }
}
