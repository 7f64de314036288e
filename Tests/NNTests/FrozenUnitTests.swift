import CoCoFLCore
import CKernels
import Foundation
import Testing
import TestSupport
@testable import NN

/// Cosine similarity and relative L2 error of two equally long vectors.
func similarity(_ a: [Float], _ b: [Float]) -> (cosine: Double, relativeError: Double) {
    var dot = 0.0, aa = 0.0, bb = 0.0, squared = 0.0
    ck_similarity(a, b, a.count, &dot, &aa, &bb, &squared)
    return (dot / max((aa * bb).squareRoot(), 1e-30), (squared / max(bb, 1e-30)).squareRoot())
}

@Suite("CoCoFL frozen units", .heavy)
struct FrozenUnitTests {
    /// A model whose BatchNorm running statistics moved away from (0, 1) so that folding is exercised.
    static func warmedModel(_ name: String, context: ComputeContext) throws -> Model {
        let model = try ModelZoo.make(name, inputShape: [3, 16, 16], classes: 10, seed: 3, context: context)
        for seed in 0..<3 { _ = try model.forward(try randomTensor([8, 3, 16, 16], seed: UInt64(seed), context: context), phase: .training) }
        // Nudge γ and β away from 1 and 0 as training would.
        var generator = SeededGenerator(seed: 9)
        for (key, parameter) in model.namedParameters() where key.hasSuffix(".weight") && parameter.shape.count == 1 {
            try parameter.value.assign((0..<parameter.value.count).map { _ in Float.random(in: 0.5...1.5, using: &generator) })
            parameter.touch()
        }
        return model
    }

    /// The input a unit sees in the model (evaluation mode), for a random image batch.
    static func unitInput(_ model: Model, unit index: Int, batch: Int, context: ComputeContext) throws -> Tensor {
        var x = try randomTensor([batch, 3, 16, 16], seed: 77, context: context)
        for unit in model.units.prefix(index) { x = try unit.layer.forward(x, phase: .evaluation) }
        // Copy out: unit buffers are reused by the next forward.
        return try Tensor(shape: x.shape, values: try x.toArray(), context: context)
    }

    @Test("BN folding is exact in fp32; int8 forward matches it; int8 input gradient matches fp32",
          arguments: [("resnet18", 1), ("resnet18", 3), ("resnet8", 2), ("mobilenetv2", 1), ("mobilenetv2", 2), ("mobilenetv2", 4), ("mobilenetv2", 17)])
    func unitAgreement(model name: String, unit index: Int) throws {
        let context = try ComputeContext()
        let model = try Self.warmedModel(name, context: context)
        let unit = model.units[index]
        let input = try Self.unitInput(model, unit: index, batch: 8, context: context)

        // Reference: the model's own unit with BN in frozen mode (running statistics), fp32.
        let reference = try unit.layer.forward(input, phase: .frozen)
        let referenceOutput = try reference.toArray()
        let upstream = try randomTensor(reference.shape, seed: 5, context: context)
        let referenceGradient = try #require(try unit.layer.backward(upstream, request: GradientRequest(input: true, parameters: false))).toArray()

        let fp32 = try #require(try FrozenUnit.make(unit: unit, precision: .fp32, context: context))
        fp32.recordStatistics = true
        let folded = try fp32.forward(UnitActivation(tensor: input, scale: nil), keepForBackward: true)
        let foldedOutput = try folded.tensor.toArray()
        let foldedGradient = try fp32.backward(upstream).toArray()
        let foldError = similarity(foldedOutput, referenceOutput).relativeError
        #expect(foldError <= 1e-5, "\(name) unit \(index): folded fp32 vs BN relative error \(foldError)")
        let foldGradientError = similarity(foldedGradient, referenceGradient).relativeError
        #expect(foldGradientError <= 1e-5, "\(name) unit \(index): fp32 transposed-convolution gradient vs conv backward-data \(foldGradientError)")

        let quantized = try #require(try FrozenUnit.make(unit: unit, precision: .int8, context: context))
        quantized.calibrate(from: fp32.statistics)
        let int8Output = try quantized.forward(UnitActivation(tensor: input, scale: nil), keepForBackward: true)
        #expect(int8Output.scale != nil)
        let forward = similarity(try int8Output.realValues(), foldedOutput)
        #expect(forward.cosine >= 0.999, "\(name) unit \(index): int8 forward cosine \(forward.cosine), relative error \(forward.relativeError)")
        let gradient = similarity(try quantized.backward(upstream).toArray(), foldedGradient)
        // ≥ 0.994 on CPUs with AVX512-VNNI; 0.988 for mobilenetv2's stride-2 unit 4 on AVX2 without VNNI, whose
        // u8·s8 kernels (vpmaddubsw) saturate pairs of products at int16.
        #expect(gradient.cosine >= 0.98, "\(name) unit \(index): int8 input-gradient cosine \(gradient.cosine), relative error \(gradient.relativeError)")
        print("[frozen-unit] \(name) unit \(index) (\(unit.name)): fold error \(foldError), int8 forward cosine \(forward.cosine) rel.err \(forward.relativeError), int8 gradient cosine \(gradient.cosine) rel.err \(gradient.relativeError)")
    }

    @Test("Units that are not conv-BN chains (DenseNet pre-activation layers) are not frozen in int8")
    func denseNetFallsBack() throws {
        let context = try ComputeContext()
        let model = try ModelZoo.make("densenet40", inputShape: [3, 16, 16], classes: 10, seed: 1, context: context)
        #expect(try FrozenUnit.make(unit: model.units[1], precision: .int8, context: context) == nil)
        #expect(try FrozenUnit.make(unit: model.units[0], precision: .int8, context: context) == nil)
    }
}
