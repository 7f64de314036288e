import CDNNL
import CKernels

/// Mean softmax cross-entropy over a batch of logits, with its gradient and the batch accuracy.
public final class SoftmaxCrossEntropy {
    private let context: ComputeContext
    private var gradient: Tensor?
    /// Logits in plain row-major layout (a cached reorder when the head produced another layout).
    private let plainLogits = LayoutSlot()

    /// Loss, correct predictions and the gradient of the loss with respect to the logits.
    public struct Result {
        public let loss: Double
        public let correct: Int
        public let count: Int
        /// d(mean loss)/d(logits), [N, K] plain; valid until the next call.
        public let gradient: Tensor
        public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }

        /// The same result with `extra` added to the loss (a term a `GradientHook` contributed).
        func adding(loss extra: Double) -> Result {
            Result(loss: loss + extra, correct: correct, count: count, gradient: gradient)
        }
    }

    public init(context: ComputeContext) { self.context = context }

    /// Computes the loss of `logits` [N, K] against integer `labels` in 0..<K.
    public func callAsFunction(logits: Tensor, labels: [Int32]) throws -> Result {
        guard logits.shape.count == 2, logits.shape[0] == labels.count else {
            throw ModelError("cross-entropy got logits \(logits.shape) for \(labels.count) labels")
        }
        let classes = logits.shape[1]
        if let bad = labels.first(where: { $0 < 0 || Int($0) >= classes }) {
            throw ModelError("label \(bad) is outside 0..<\(classes)")
        }
        let values = try plain(logits)
        if gradient?.shape != logits.shape { gradient = try Tensor(zeros: logits.shape, context: context) }
        var correct: Int64 = 0
        let loss = labels.withUnsafeBufferPointer { labelPointer in
            ck_softmax_cross_entropy(values.floats, labelPointer.baseAddress, labels.count, classes, gradient!.floats, &correct, nil)
        }
        return Result(loss: loss, correct: Int(correct), count: labels.count, gradient: gradient!)
    }

    /// Loss and predictions without a gradient (evaluation).
    public func evaluate(logits: Tensor, labels: [Int32], predictions: inout [Int32]) throws -> (loss: Double, correct: Int) {
        let values = try plain(logits)
        predictions = [Int32](repeating: 0, count: labels.count)
        var correct: Int64 = 0
        let loss = labels.withUnsafeBufferPointer { labelPointer in
            predictions.withUnsafeMutableBufferPointer { out in
                ck_softmax_cross_entropy(values.floats, labelPointer.baseAddress, labels.count, logits.shape[1], nil, &correct, out.baseAddress)
            }
        }
        return (loss, Int(correct))
    }
}

extension SoftmaxCrossEntropy {
    /// The logits as a plain [N, K] tensor, after the stream has finished writing them.
    private func plain(_ logits: Tensor) throws -> Tensor {
        let values = try plainLogits.conform(logits, to: memoryDescriptor(logits.shape, dnnl_f32, dnnl_ab), context: context)
        try context.wait()
        return values
    }
}

extension Tensor {
    /// Calls `body` with the fp32 elements of a plain tensor (e.g. to fill an input batch).
    public func withUnsafeMutableFloats<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(isPlain, "withUnsafeMutableFloats needs a plain fp32 tensor")
        return try body(UnsafeMutableBufferPointer(start: floats, count: count))
    }
}
