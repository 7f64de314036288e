import CoCoFLCore
import Foundation
import Testing
import TestSupport
@testable import NN

@Suite("Layer semantics", .heavy)
struct LayerSemanticsTests {
    @Test("BatchNorm: training normalizes with batch statistics and updates running ones; evaluation uses running ones")
    func batchNormModes() throws {
        let context = try ComputeContext()
        let channels = 3, batch = 4, size = 5
        let layer = try BatchNorm2D(channels: channels, momentum: 0.1, context: context)
        try layer.weight.value.assign([2, 1, 0.5])
        try layer.bias.value.assign([1, 0, -1])
        let input = try randomTensor([batch, channels, size, size], scale: 3, seed: 11, context: context)
        let x = try input.toArray()
        let y = try layer.forward(input, phase: .training).toArray()
        let perChannel = batch * size * size
        var runningMean = [Float](repeating: 0, count: channels)
        var runningVariance = [Float](repeating: 1, count: channels)
        let gamma: [Double] = [2, 1, 0.5], beta: [Double] = [1, 0, -1]
        for c in 0..<channels {
            var values: [Double] = []
            for n in 0..<batch { for i in 0..<(size * size) { values.append(Double(x[(n * channels + c) * size * size + i])) } }
            let mean = values.reduce(0, +) / Double(perChannel)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(perChannel)
            for n in 0..<batch {
                for i in 0..<(size * size) {
                    let index = (n * channels + c) * size * size + i
                    let expected = gamma[c] * (Double(x[index]) - mean) / (variance + 1e-5).squareRoot() + beta[c]
                    #expect(abs(Double(y[index]) - expected) < 1e-4)
                }
            }
            runningMean[c] = Float(0.9 * 0 + 0.1 * mean)
            runningVariance[c] = Float(0.9 * 1 + 0.1 * variance * Double(perChannel) / Double(perChannel - 1))
        }
        let storedMean = try layer.runningMean.value.toArray()
        let storedVariance = try layer.runningVariance.value.toArray()
        for c in 0..<channels {
            #expect(abs(storedMean[c] - runningMean[c]) < 1e-5)
            #expect(abs(storedVariance[c] - runningVariance[c]) < 1e-4)
        }
        let evaluated = try layer.forward(input, phase: .evaluation).toArray()
        for c in 0..<channels {
            let index = (1 * channels + c) * size * size + 7
            let expected = gamma[c] * Double(x[index] - runningMean[c]) / Double(runningVariance[c] + 1e-5).squareRoot() + beta[c]
            #expect(abs(Double(evaluated[index]) - expected) < 1e-4)
        }
        // Evaluation leaves the running statistics alone.
        #expect(try layer.runningMean.value.toArray() == storedMean)
        // Evaluation keeps no state for backward.
        #expect(throws: ModelError.self) { _ = try layer.backward(try Tensor(zeros: [batch, channels, size, size], context: context), request: .all) }
    }

    @Test("SGD follows torch.optim.SGD: weight decay, momentum buffer initialized with the first step")
    func sgd() throws {
        let context = try ComputeContext()
        let parameter = try Parameter(shape: [2], learnable: true, context: context)
        try parameter.value.assign([1, -2])
        let optimizer = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        try parameter.gradient!.assign([0.5, 0.25])
        try optimizer.step([parameter])
        // d = g + wd·w = [0.51, 0.23]; b = d; w = w − 0.1·b
        var w = try parameter.value.toArray()
        #expect(abs(w[0] - 0.949) < 1e-6 && abs(w[1] - -2.023) < 1e-6)
        try optimizer.step([parameter])
        // d = [0.5 + 0.00949, 0.25 − 0.02023]; b = 0.9·b + d; w −= 0.1·b
        let d0 = 0.5 + 0.01 * 0.949, d1 = 0.25 + 0.01 * -2.023
        let b0 = 0.9 * 0.51 + d0, b1 = 0.9 * 0.23 + d1
        w = try parameter.value.toArray()
        #expect(abs(Double(w[0]) - (0.949 - 0.1 * b0)) < 1e-6)
        #expect(abs(Double(w[1]) - (-2.023 - 0.1 * b1)) < 1e-6)
        // Buffers are parameters that are never trained.
        let buffer = try Parameter(shape: [2], learnable: false, context: context)
        try optimizer.step([buffer])
        #expect(try buffer.value.toArray() == [0, 0])
    }

    @Test("A parameter-only backward returns no input gradient; an input-only backward leaves weights' gradients alone")
    func separateGradients() throws {
        let context = try ComputeContext()
        var generator = SeededGenerator(seed: 12)
        let conv = try Conv2D(inputChannels: 3, outputChannels: 4, kernelSize: 3, padding: 1, context: context, generator: &generator)
        let input = try randomTensor([2, 3, 5, 5], seed: 13, context: context)
        let output = try conv.forward(input, phase: .training)
        let upstream = try randomTensor(output.shape, seed: 14, context: context)
        #expect(try conv.backward(upstream, request: GradientRequest(input: false, parameters: true)) == nil)
        let gradient = try conv.weight.gradient!.toArray()
        #expect(gradient.contains { $0 != 0 })
        try conv.weight.gradient!.assign([Float](repeating: 0, count: gradient.count))
        #expect(try conv.backward(upstream, request: GradientRequest(input: true, parameters: false)) != nil)
        #expect(try conv.weight.gradient!.toArray().allSatisfy { $0 == 0 })
    }

    @Test("Layers reject inputs of the wrong shape with a message naming the layer and the expected shape")
    func shapeErrors() throws {
        let context = try ComputeContext()
        var generator = SeededGenerator(seed: 15)
        let conv = try Conv2D(inputChannels: 3, outputChannels: 4, kernelSize: 3, context: context, generator: &generator)
        let error = try #require(throws: ModelError.self) { _ = try conv.forward(try Tensor(zeros: [1, 2, 5, 5], context: context), phase: .training) }
        #expect(error.description.contains("Conv2D(3→4)"))
        #expect(error.description.contains("[N, 3, H, W]"))
    }
}
