/// Runs training steps and evaluation of a model: forward, softmax cross-entropy, backward limited to the
/// trainable set, SGD on the trainable parameters. Input buffers are reused across steps of the same size.
public final class Trainer {
    public let model: Model
    public let optimizer: SGD
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
        try optimizer.step(model.trainableParameters().map(\.parameter))
        return result
    }

    /// Loss and correct count of a batch in evaluation mode; `predictions` receives each sample's arg-max.
    public func evaluate(images: Tensor, labels: [Int32]) throws -> (loss: Double, correct: Int, predictions: [Int32]) {
        let logits = try model.forward(images, phase: .evaluation)
        let result = try loss.evaluate(logits: logits, labels: labels, predictions: &predictions)
        return (result.loss, result.correct, predictions)
    }
}
