import CoCoFLCore
import CDNNL

/// A model as an ordered list of freezable units (CoCoFL's blocks). Each unit groups top-level modules of the
/// equivalent PyTorch model, so parameter keys are the PyTorch `state_dict` keys (`conv1.weight`,
/// `layer2.0.shortcut.0.weight`, `linear.bias`, …).
public final class Model: Layer {
    /// What role a unit plays; non-block units stay fp32 when frozen.
    public enum UnitKind: String, Sendable { case stem, block, transition, io, head }

    /// One freezable unit.
    public struct Unit {
        /// Human-readable name (`conv1`, `layer1.0`, `layers.3`, `dense2.4`, `head`).
        public let name: String
        public let kind: UnitKind
        /// The unit's layers; their local names are the model-level PyTorch module names.
        public let layer: Sequential
    }

    /// Architecture name (`resnet8`, …).
    public let name: String
    public let units: [Unit]
    /// Input shape [C, H, W].
    public let inputShape: [Int]
    public let classCount: Int
    public let context: ComputeContext
    /// Keys of parameters that are not trained (see `freeze`).
    public private(set) var frozenKeys: Set<String> = []
    /// Forward FLOPs per image (2 per multiply-add) of convolutions and linear layers.
    public let forwardFLOPsPerImage: Int

    /// The units in order, as one chain (their parameters are named through `children`).
    private let body: Sequential

    init(name: String, units: [Unit], inputShape: [Int], classCount: Int, forwardFLOPsPerImage: Int, context: ComputeContext) {
        self.name = name
        self.units = units
        body = Sequential(units.map { (nil, $0.layer as Layer) })
        self.inputShape = inputShape
        self.classCount = classCount
        self.forwardFLOPsPerImage = forwardFLOPsPerImage
        self.context = context
    }

    public var children: [(String, Layer)] { units.flatMap { $0.layer.children } }

    public func forward(_ input: Tensor, phase: Phase) throws -> Tensor {
        guard Array(input.shape.dropFirst()) == inputShape else {
            throw ModelError("\(name) expects input [N, \(inputShape.map(String.init).joined(separator: ", "))], got \(input.shape)")
        }
        return try body.forward(input, phase: phase)
    }

    public func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor? {
        try body.backward(outputGradient, request: request)
    }

    /// Back-propagates the loss gradient only as far as the trainable set needs: units before the first unit with
    /// trainable parameters are skipped, and units without trainable parameters compute only input gradients.
    public func backwardForTraining(_ lossGradient: Tensor) throws {
        let trainable = units.indices.map { index in parameterKeys(unit: index).contains { !frozenKeys.contains($0) && isLearnable($0) } }
        guard let first = trainable.firstIndex(of: true) else { return }
        var gradient = lossGradient
        for index in units.indices.reversed() where index >= first {
            let request = GradientRequest(input: index > first, parameters: trainable[index])
            guard let next = try units[index].layer.backward(gradient, request: request) else { return }
            gradient = next
        }
    }

    private func isLearnable(_ key: String) -> Bool {
        learnableKeys.contains(key)
    }

    private lazy var learnableKeys: Set<String> = Set(namedParameters().filter(\.parameter.isLearnable).map(\.key))

    /// Parameter keys belonging to unit `index`.
    public func parameterKeys(unit index: Int) -> [String] {
        units[index].layer.namedParameters().map(\.key)
    }

    /// Marks every parameter whose key starts with one of `prefixes` (a full path component: `layer1` matches
    /// `layer1.0.conv1.weight`, not `layer10…`) as not trainable.
    public func freeze(_ prefixes: [String]) {
        for (key, _) in namedParameters() where prefixes.contains(where: { key == $0 || key.hasPrefix($0 + ".") }) {
            frozenKeys.insert(key)
        }
    }

    /// Makes exactly the parameters of units `window` trainable (CoCoFL's trained window).
    public func setTrainableUnits(_ window: ClosedRange<Int>) {
        frozenKeys = Set(units.indices.filter { !window.contains($0) }.flatMap { parameterKeys(unit: $0) })
    }

    /// Makes every parameter trainable again (learnable ones; buffers never are).
    public func unfreezeAll() { frozenKeys.removeAll() }

    /// Learnable parameters that are not frozen: the set the optimizer updates and a device uploads.
    public func trainableParameters() -> [(key: String, parameter: Parameter)] {
        namedParameters().filter { $0.parameter.isLearnable && !frozenKeys.contains($0.key) }
    }

    /// Number of learnable scalars.
    public var learnableParameterCount: Int {
        namedParameters().filter(\.parameter.isLearnable).reduce(0) { $0 + $1.parameter.value.count }
    }

    // MARK: Export and import

    /// Every parameter and buffer as (key, PyTorch shape, row-major values), in sorted key order.
    public func exportParameters() throws -> [NamedArray] {
        try context.wait()
        return try namedParameters().map { NamedArray(key: $0.key, shape: $0.parameter.shape, values: try $0.parameter.value.toArray()) }
    }

    /// Writes parameters by key. With `verify`, every model key must be present; unknown keys and shape
    /// mismatches always throw, naming the key, and nothing is written unless every entry is valid.
    public func update(parameters: [NamedArray], verify: Bool = true) throws {
        let own = Dictionary(uniqueKeysWithValues: namedParameters().map { ($0.key, $0.parameter) })
        var seen = Set<String>()
        for entry in parameters {
            guard let parameter = own[entry.key] else {
                throw ModelError("unknown parameter key '\(entry.key)' for model \(name); expected keys like '\(own.keys.sorted().first ?? "")'")
            }
            guard parameter.shape == entry.shape, entry.values.count == parameter.value.count else {
                throw ModelError("parameter '\(entry.key)' has shape \(entry.shape) (\(entry.values.count) values); model \(name) expects \(parameter.shape)")
            }
            guard seen.insert(entry.key).inserted else { throw ModelError("parameter key '\(entry.key)' given twice") }
        }
        if verify, let missing = own.keys.sorted().first(where: { !seen.contains($0) }) {
            throw ModelError("parameter '\(missing)' is missing (\(own.count - seen.count) of \(own.count) keys missing); pass verify: false to load a subset")
        }
        for entry in parameters {
            let parameter = own[entry.key]!
            try parameter.value.assign(entry.values)
            parameter.touch()
        }
    }
}
