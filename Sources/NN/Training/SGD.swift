import CKernels

/// Stochastic gradient descent with PyTorch semantics (`torch.optim.SGD`, no dampening, no Nesterov):
/// d = g + weightDecay·w; with momentum, b = momentum·b + d (b = d on the first step); w -= learningRate·(b or d).
/// It acts only on the parameters it is given (the model's trainable set).
public final class SGD {
    public var learningRate: Float
    public let momentum: Float
    public let weightDecay: Float
    private var buffers: [ObjectIdentifier: [Float]] = [:]

    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// Applies one update to each parameter from its gradient.
    public func step(_ parameters: [Parameter]) throws {
        for parameter in parameters {
            guard parameter.isLearnable, let gradient = parameter.gradient else { continue }
            let count = parameter.value.count
            if momentum == 0 {
                let w = SendablePointer(parameter.values), g = SendablePointer(gradient.floats)
                let (lr, wd) = (learningRate, weightDecay)
                parallelChunks(count) { r in ck_sgd_update(w.pointer + r.lowerBound, g.pointer + r.lowerBound, nil, r.count, lr, 0, wd, 0) }
            } else {
                let id = ObjectIdentifier(parameter)
                let first = buffers[id] == nil
                if first { buffers[id] = [Float](repeating: 0, count: count) }
                buffers[id]!.withUnsafeMutableBufferPointer { buffer in
                    ck_sgd_update(parameter.values, gradient.floats, buffer.baseAddress, count, learningRate, momentum, weightDecay, first ? 1 : 0)
                }
            }
            parameter.touch()
        }
    }

    /// Forgets momentum buffers (a device starting a new local round).
    public func reset() { buffers.removeAll() }
}
