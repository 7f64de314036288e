import CoCoFLCore
import Foundation
import Testing
import TestSupport
@testable import NN

/// Finite-difference gradient checks for every layer type. Central differences in fp32 with ε = 1e-2 on a
/// loss Σ y·r; tolerances are relative errors at sampled coordinates (fp32 round-off dominates them).
@Suite("Finite-difference gradients", .heavy)
struct GradientTests {
    struct ConvCase: CustomTestStringConvertible, Sendable {
        let input: Int, output: Int, kernel: Int, stride: Int, padding: Int, groups: Int, bias: Bool, size: Int
        var testDescription: String { "\(input)→\(output) k\(kernel) s\(stride) p\(padding) g\(groups)\(bias ? " bias" : "")" }
    }

    @Test("Conv2D input, weight and bias gradients", arguments: [
        ConvCase(input: 3, output: 8, kernel: 3, stride: 1, padding: 1, groups: 1, bias: true, size: 7),
        ConvCase(input: 8, output: 16, kernel: 3, stride: 2, padding: 1, groups: 1, bias: false, size: 8),
        ConvCase(input: 16, output: 16, kernel: 3, stride: 1, padding: 1, groups: 16, bias: false, size: 6),
        ConvCase(input: 16, output: 16, kernel: 3, stride: 2, padding: 1, groups: 16, bias: true, size: 7),
        ConvCase(input: 8, output: 12, kernel: 1, stride: 1, padding: 0, groups: 4, bias: false, size: 5),
        ConvCase(input: 8, output: 32, kernel: 1, stride: 2, padding: 0, groups: 1, bias: false, size: 6),
    ])
    func convolution(_ c: ConvCase) throws {
        let context = try ComputeContext()
        var generator = SeededGenerator(seed: 3)
        let layer = try Conv2D(inputChannels: c.input, outputChannels: c.output, kernelSize: c.kernel, stride: c.stride,
                               padding: c.padding, groups: c.groups, bias: c.bias, context: context, generator: &generator)
        _ = try checkLayerGradients(layer, inputShape: [2, c.input, c.size, c.size], tolerance: 2e-2, context: context)
    }

    @Test func linear() throws {
        let context = try ComputeContext()
        var generator = SeededGenerator(seed: 4)
        let layer = try Linear(inputFeatures: 20, outputFeatures: 7, context: context, generator: &generator)
        _ = try checkLayerGradients(layer, inputShape: [5, 20], tolerance: 1e-2, context: context)
    }

    @Test func batchNormTraining() throws {
        let context = try ComputeContext()
        let layer = try BatchNorm2D(channels: 5, context: context)
        try layer.weight.value.assign([0.5, 1.5, -1, 2, 0.8])
        try layer.bias.value.assign([0.1, -0.2, 0.3, 0, 1])
        // BN's gradient couples all elements of a channel; use a larger ε and looser bound for fp32 round-off.
        _ = try checkLayerGradients(layer, inputShape: [4, 5, 3, 3], tolerance: 3e-2, context: context, epsilon: 2e-2)
    }

    @Test("BatchNorm with fused ReLU (training)")
    func batchNormReLU() throws {
        let context = try ComputeContext()
        let layer = try BatchNorm2D(channels: 4, fusedReLU: true, context: context)
        try layer.weight.value.assign([0.5, 1.5, -1, 2])
        try layer.bias.value.assign([0.1, -0.2, 0.3, 0.05])
        _ = try checkLayerGradients(layer, inputShape: [4, 4, 3, 3], tolerance: 3e-2, context: context, epsilon: 2e-3)
        // The ReLU really is applied: no negative outputs.
        #expect(try layer.forward(try randomTensor([2, 4, 3, 3], seed: 3, context: context), phase: .evaluation).toArray().allSatisfy { $0 >= 0 })
    }

    @Test func relu() throws {
        let context = try ComputeContext()
        _ = try checkLayerGradients(ReLU(context: context), inputShape: [2, 3, 4, 4], tolerance: 1e-2, context: context, epsilon: 1e-3)
    }

    @Test func relu6() throws {
        let context = try ComputeContext()
        // Scale 8 puts inputs on both sides of 0 and 6.
        _ = try checkLayerGradients(ReLU6(context: context), inputShape: [2, 3, 4, 4], tolerance: 1e-2, context: context, epsilon: 1e-3, inputScale: 8)
    }

    @Test func maxPool() throws {
        let context = try ComputeContext()
        _ = try checkLayerGradients(MaxPool2D(kernelSize: 2, context: context), inputShape: [2, 3, 6, 6], tolerance: 1e-2, context: context, epsilon: 1e-3)
        _ = try checkLayerGradients(MaxPool2D(kernelSize: 3, stride: 2, padding: 1, context: context), inputShape: [2, 3, 7, 7], tolerance: 1e-2, context: context, epsilon: 1e-3)
    }

    @Test func averagePools() throws {
        let context = try ComputeContext()
        _ = try checkLayerGradients(AvgPool2D(kernelSize: 2, context: context), inputShape: [2, 4, 6, 6], tolerance: 1e-2, context: context)
        _ = try checkLayerGradients(AvgPool2D(kernelSize: 3, stride: 1, padding: 1, context: context), inputShape: [2, 4, 5, 5], tolerance: 1e-2, context: context)
        _ = try checkLayerGradients(GlobalAvgPool2D(context: context), inputShape: [3, 16, 4, 4], tolerance: 1e-2, context: context)
    }

    @Test func flatten() throws {
        let context = try ComputeContext()
        _ = try checkLayerGradients(Flatten(context: context), inputShape: [2, 3, 2, 2], tolerance: 1e-3, context: context)
    }

    @Test("Residual add with a projection shortcut, and with identity")
    func residual() throws {
        let context = try ComputeContext()
        var generator = SeededGenerator(seed: 5)
        let projected = Residual(
            main: Sequential([("conv1", try Conv2D(inputChannels: 4, outputChannels: 8, kernelSize: 3, stride: 2, padding: 1, context: context, generator: &generator))]),
            shortcut: Sequential([("0", try Conv2D(inputChannels: 4, outputChannels: 8, kernelSize: 1, stride: 2, context: context, generator: &generator))]),
            post: ReLU(context: context), context: context)
        _ = try checkLayerGradients(projected, inputShape: [2, 4, 6, 6], tolerance: 2e-2, context: context, epsilon: 1e-3)
        let identity = Residual(
            main: Sequential([("conv1", try Conv2D(inputChannels: 16, outputChannels: 16, kernelSize: 3, padding: 1, context: context, generator: &generator))]),
            shortcut: nil, post: nil, context: context)
        _ = try checkLayerGradients(identity, inputShape: [2, 16, 5, 5], tolerance: 2e-2, context: context)
    }

    @Test("Channel concat (DenseNet layer)")
    func concat() throws {
        let context = try ComputeContext()
        var generator = SeededGenerator(seed: 6)
        let layer = DenseConcat(body: Sequential([
            ("conv1", try Conv2D(inputChannels: 6, outputChannels: 5, kernelSize: 3, padding: 1, context: context, generator: &generator)),
        ]), context: context)
        _ = try checkLayerGradients(layer, inputShape: [2, 6, 4, 4], tolerance: 2e-2, context: context)
    }

    @Test("Softmax cross-entropy gradient and accuracy")
    func crossEntropy() throws {
        let context = try ComputeContext()
        let loss = SoftmaxCrossEntropy(context: context)
        var logitValues = try randomTensor([4, 5], scale: 3, seed: 8, context: context).toArray()
        let labels: [Int32] = [0, 3, 4, 1]
        let result = try loss(logits: Tensor(shape: [4, 5], values: logitValues, context: context), labels: labels)
        let analytic = try result.gradient.toArray()
        let comparison = try compareGradients(
            analytic: analytic, count: 20, samples: 20, epsilon: 1e-2, floor: 1e-3, seed: 1,
            read: { logitValues[$0] }, write: { logitValues[$0] = $1 },
            loss: { try loss(logits: Tensor(shape: [4, 5], values: logitValues, context: context), labels: labels).loss })
        #expect(comparison.worstError < 1e-2, "\(comparison)")
        // Hand-computed: uniform logits give loss ln(K) and accuracy from arg-max ties resolved to the first class.
        let uniform = try loss(logits: Tensor(shape: [2, 4], values: [Float](repeating: 0.5, count: 8), context: context), labels: [0, 2])
        #expect(abs(uniform.loss - log(4.0)) < 1e-6)
        #expect(uniform.correct == 1)
        #expect(throws: ModelError.self) { try loss(logits: Tensor(shape: [1, 4], values: [0, 0, 0, 0], context: context), labels: [4]) }
    }
}
