import CDNNL

/// How a forward pass runs.
public enum Phase: Sendable {
    /// Training: BatchNorm uses batch statistics and updates its running statistics; state for backward is kept.
    case training
    /// Evaluation: BatchNorm uses its running statistics; nothing is kept for backward.
    case evaluation
    /// Frozen with backward: BatchNorm uses its running statistics (as in evaluation) and leaves them alone, but
    /// state for an input-gradient backward is kept (a frozen unit after CoCoFL's trained window).
    case frozen

    /// Whether layers keep what a backward pass needs.
    public var keepsState: Bool { self != .evaluation }
}

/// Which gradients a backward pass computes. They are separate so that a caller can ask for one without the other
/// (a frozen unit needs only the input gradient; the first trained unit needs no input gradient).
public struct GradientRequest: Sendable, Equatable {
    /// Compute the gradient with respect to the layer's input.
    public var input: Bool
    /// Compute gradients of the layer's trainable parameters.
    public var parameters: Bool

    public init(input: Bool, parameters: Bool) {
        self.input = input
        self.parameters = parameters
    }

    /// Both gradients.
    public static let all = GradientRequest(input: true, parameters: true)
}

/// A learnable parameter or a buffer (BatchNorm running statistics), stored in the PyTorch shape and plain layout.
public final class Parameter {
    /// Current values, plain layout, PyTorch shape.
    public let value: Tensor
    /// Gradient written by the last backward pass (same shape and layout as `value`); nil for buffers.
    public let gradient: Tensor?
    /// False for buffers such as `running_mean`; those are never trained but are saved and loaded.
    public let isLearnable: Bool
    /// Bumped on every write so that layers can keep derived copies (reordered weights) until it changes.
    public private(set) var version = 0

    init(shape: [Int], learnable: Bool, context: ComputeContext) throws {
        value = try Tensor(zeros: shape, context: context)
        gradient = learnable ? try Tensor(zeros: shape, context: context) : nil
        isLearnable = learnable
    }

    /// Shape in PyTorch order.
    public var shape: [Int] { value.shape }

    /// Marks the value as changed.
    public func touch() { version &+= 1 }

    /// Raw fp32 values.
    var values: UnsafeMutablePointer<Float> { value.floats }
}

/// A node of the model tree: a layer owns named parameters and named children, and has an explicit forward and
/// backward pass. Dotted parameter keys follow the PyTorch `state_dict` of the equivalent `torch.nn` tree.
public protocol Layer: AnyObject {
    /// Parameters and buffers held directly by this layer, with their local names (`weight`, `running_mean`, …).
    var localParameters: [(String, Parameter)] { get }
    /// Sub-layers with their local names (`conv1`, `0`, …); layers without parameters may be omitted.
    var children: [(String, Layer)] { get }
    /// Runs the layer. The returned tensor stays valid until this layer's next forward with the same shape.
    func forward(_ input: Tensor, phase: Phase) throws -> Tensor
    /// Back-propagates `outputGradient` through the last training forward. Returns the input gradient when
    /// `request.input` is set, and writes parameter gradients when `request.parameters` is set.
    func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor?
}

extension Layer {
    public var localParameters: [(String, Parameter)] { [] }
    public var children: [(String, Layer)] { [] }

    /// Every parameter and buffer below this layer with its dotted key, in sorted key order.
    public func namedParameters(prefix: String = "") -> [(key: String, parameter: Parameter)] {
        var result: [(key: String, parameter: Parameter)] = []
        collectParameters(prefix: prefix, into: &result)
        return result.sorted { $0.key < $1.key }
    }

    /// Every layer of type `T` in this subtree (this layer included), depth first.
    public func layers<T: Layer>(of type: T.Type) -> [T] {
        ((self as? T).map { [$0] } ?? []) + children.flatMap { $0.1.layers(of: type) }
    }

    fileprivate func collectParameters(prefix: String, into result: inout [(key: String, parameter: Parameter)]) {
        for (name, parameter) in localParameters { result.append((prefix + name, parameter)) }
        for (name, child) in children { child.collectParameters(prefix: prefix + name + ".", into: &result) }
    }
}

/// Errors in the use of layers and models that depend on data or configuration.
public struct ModelError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
