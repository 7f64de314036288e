/// Called after each backward pass and before the optimizer step, once per trainable parameter tensor, with its
/// key, its values and its gradient (PyTorch layout): it may add to the gradient and returns a value added to the
/// step's loss. How a loss term of a strategy (FedProx's proximal term) reaches the training loop.
public typealias GradientHook = (_ key: String, _ weights: UnsafeBufferPointer<Float>,
                                 _ gradient: UnsafeMutableBufferPointer<Float>) -> Double

extension Model {
    /// Applies `hook` to every trainable parameter's gradient; returns the sum of what it returned.
    func applyGradientHook(_ hook: GradientHook) -> Double {
        var total = 0.0
        for (key, parameter) in trainableParameters() {
            guard let gradient = parameter.gradient else { continue }
            let count = parameter.value.count
            total += hook(key, UnsafeBufferPointer(start: parameter.values, count: count),
                          UnsafeMutableBufferPointer(start: gradient.floats, count: count))
        }
        return total
    }
}

/// Runs training steps and evaluation of a model: forward, softmax cross-entropy, backward limited to the
/// trainable set, SGD on the trainable parameters. Input buffers are reused across steps of the same size.
public final class Trainer {
    public let model: Model
    public let optimizer: SGD
    /// Applied between backward and the optimizer step (nil: plain cross-entropy training).
    public var gradientHook: GradientHook?
    private let loss: SoftmaxCrossEntropy
    private var inputs: [Int: Tensor] = [:]
    private var predictions: [Int32] = []

    public init(model: Model, optimizer: SGD) {
        self.model = model
        self.optimizer = optimizer
        loss = SoftmaxCrossEntropy(context: model.context)
    }

    /// The reusable input tensor for a batch of `size` images; fill it, then call `step` or `evaluate`.
    public func inputBatch(size: Int) throws -> Tensor {
        if let cached = inputs[size] { return cached }
        let tensor = try Tensor(zeros: [size] + model.inputShape, context: model.context)
        inputs[size] = tensor
        return tensor
    }

    /// One SGD step on a batch; returns the batch loss and accuracy (training-mode forward).
    @discardableResult
    public func step(images: Tensor, labels: [Int32]) throws -> SoftmaxCrossEntropy.Result {
        let logits = try model.forward(images, phase: .training)
        let result = try loss(logits: logits, labels: labels)
        try model.backwardForTraining(result.gradient)
        try model.context.wait()
        let extra = gradientHook.map { model.applyGradientHook($0) }
        try optimizer.step(model.trainableParameters().map(\.parameter))
        return extra.map { result.adding(loss: $0) } ?? result
    }

    /// Loss and correct count of a batch in evaluation mode; `predictions` receives each sample's arg-max.
    public func evaluate(images: Tensor, labels: [Int32]) throws -> (loss: Double, correct: Int, predictions: [Int32]) {
        let logits = try model.forward(images, phase: .evaluation)
        let result = try loss.evaluate(logits: logits, labels: labels, predictions: &predictions)
        return (result.loss, result.correct, predictions)
    }
}
