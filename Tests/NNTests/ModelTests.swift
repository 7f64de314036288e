import Foundation
import Testing
import TestSupport
@testable import NN

@Suite("Models and the parameter tree", .heavy)
struct ModelTests {
    @Test("Unit counts, parameter counts and forward output shapes", arguments: [
        // Parameter counts are those of the equivalent torch.nn models (10 classes, 3×32×32), BN buffers excluded.
        ("resnet8", 5, 78_042), ("resnet18", 10, 11_173_962), ("mobilenetv2", 20, 2_296_922), ("densenet40", 22, 176_122),
    ])
    func architecture(name: String, units: Int, parameters: Int) throws {
        let context = try ComputeContext()
        let model = try ModelZoo.make(name, inputShape: [3, 32, 32], classes: 10, seed: 1, context: context)
        #expect(model.units.count == units)
        #expect(model.learnableParameterCount == parameters)
        let output = try model.forward(try randomTensor([2, 3, 32, 32], seed: 2, context: context), phase: .evaluation)
        #expect(output.shape == [2, 10])
        let small = try ModelZoo.make(name, inputShape: [1, 28, 28], classes: 7, seed: 1, context: context)
        #expect(try small.forward(try randomTensor([2, 1, 28, 28], seed: 2, context: context), phase: .evaluation).shape == [2, 7])
    }

    @Test("Keys follow the PyTorch state_dict of the usual CIFAR implementations")
    func pytorchKeys() throws {
        let context = try ComputeContext()
        let resnet = try ModelZoo.make("resnet18", inputShape: [3, 32, 32], classes: 10, seed: 1, context: context)
        let keys = Set(resnet.namedParameters().map(\.key))
        for key in ["conv1.weight", "bn1.weight", "bn1.running_mean", "bn1.running_var", "layer1.0.conv2.weight",
                    "layer2.0.shortcut.0.weight", "layer2.0.shortcut.1.running_var", "layer4.1.bn2.bias", "linear.weight", "linear.bias"] {
            #expect(keys.contains(key), "missing \(key)")
        }
        #expect(!keys.contains("layer1.0.shortcut.0.weight"))
        #expect(resnet.namedParameters().first { $0.key == "layer2.0.conv1.weight" }?.parameter.shape == [128, 64, 3, 3])
        #expect(resnet.namedParameters().first { $0.key == "linear.weight" }?.parameter.shape == [10, 512])

        let mobile = try ModelZoo.make("mobilenetv2", inputShape: [3, 32, 32], classes: 10, seed: 1, context: context)
        let mobileKeys = Dictionary(uniqueKeysWithValues: mobile.namedParameters().map { ($0.key, $0.parameter.shape) })
        // layers.3 is the first block of the (6, 32, 3, 2) stage: 24 inputs expanded ×6, stride 2, no shortcut.
        #expect(mobileKeys["layers.3.conv2.weight"] == [144, 1, 3, 3])
        #expect(mobileKeys["layers.3.shortcut.0.weight"] == nil)
        #expect(mobileKeys["layers.0.shortcut.0.weight"] == [16, 32, 1, 1])
        #expect(mobileKeys["layers.1.shortcut.0.weight"] == [24, 16, 1, 1])
        #expect(mobileKeys["layers.2.shortcut.0.weight"] == nil)  // 24→24, stride 1: identity
        #expect(mobileKeys["conv2.weight"] == [1280, 320, 1, 1])
        #expect(mobile.units.map(\.name).prefix(3) == ["conv1", "layers.0", "layers.1"])

        let dense = try ModelZoo.make("densenet40", inputShape: [3, 32, 32], classes: 10, seed: 1, context: context)
        let denseKeys = Dictionary(uniqueKeysWithValues: dense.namedParameters().map { ($0.key, $0.parameter.shape) })
        #expect(denseKeys["dense1.0.bn1.weight"] == [24])
        #expect(denseKeys["dense1.5.conv2.weight"] == [12, 48, 3, 3])
        #expect(denseKeys["trans1.conv.weight"] == [48, 96, 1, 1])
        #expect(denseKeys["bn.weight"] == [132])
        #expect(denseKeys["linear.weight"] == [10, 132])
        // Keys come out sorted and each belongs to exactly one unit.
        let all = dense.namedParameters().map(\.key)
        #expect(all == all.sorted())
        #expect(dense.units.indices.flatMap { dense.parameterKeys(unit: $0) }.sorted() == all)
    }

    @Test("Initialization is deterministic from the seed")
    func deterministicInitialization() throws {
        let context = try ComputeContext()
        let a = try ModelZoo.make("resnet8", inputShape: [1, 28, 28], classes: 10, seed: 42, context: context).exportParameters()
        let b = try ModelZoo.make("resnet8", inputShape: [1, 28, 28], classes: 10, seed: 42, context: context).exportParameters()
        let c = try ModelZoo.make("resnet8", inputShape: [1, 28, 28], classes: 10, seed: 43, context: context).exportParameters()
        #expect(a == b)
        #expect(a != c)
    }

    @Test("Export and import round-trip exactly; bad keys, shapes and missing keys are named in the error")
    func exportImport() throws {
        let context = try ComputeContext()
        let source = try ModelZoo.make("mobilenetv2", inputShape: [3, 32, 32], classes: 10, seed: 5, context: context)
        let input = try randomTensor([3, 3, 32, 32], seed: 9, context: context)
        // A training step moves BN statistics away from their initial values, so buffers are exercised too.
        _ = try source.forward(input, phase: .training)
        let exported = try source.exportParameters()
        let expected = try source.forward(input, phase: .evaluation).toArray()

        let target = try ModelZoo.make("mobilenetv2", inputShape: [3, 32, 32], classes: 10, seed: 6, context: context)
        #expect(try target.forward(input, phase: .evaluation).toArray() != expected)
        try target.update(parameters: exported)
        #expect(try target.exportParameters() == exported)
        #expect(try target.forward(input, phase: .evaluation).toArray() == expected)

        var unknown = exported
        unknown[0].key = "conv9.weight"
        let unknownError = try #require(throws: ModelError.self) { try target.update(parameters: unknown) }
        #expect(unknownError.description.contains("conv9.weight"))
        var wrongShape = exported
        let index = wrongShape.firstIndex { $0.key == "linear.weight" }!
        wrongShape[index].shape = [10, 640, 2]
        let shapeError = try #require(throws: ModelError.self) { try target.update(parameters: wrongShape) }
        #expect(shapeError.description.contains("linear.weight"))
        let missingError = try #require(throws: ModelError.self) { try target.update(parameters: Array(exported.dropLast())) }
        #expect(missingError.description.contains(exported.last!.key))
        // A failed update writes nothing.
        #expect(try target.exportParameters() == exported)
        // A subset loads with verify: false.
        try target.update(parameters: [exported[0]], verify: false)
    }

    @Test("Freezing by path prefix removes exactly those parameters from the trainable set")
    func freezing() throws {
        let context = try ComputeContext()
        let model = try ModelZoo.make("resnet8", inputShape: [1, 28, 28], classes: 10, seed: 1, context: context)
        model.freeze(["layer1", "conv1"])
        let trainable = model.trainableParameters().map(\.key)
        #expect(!trainable.contains { $0.hasPrefix("layer1.") || $0.hasPrefix("conv1.") })
        #expect(trainable.contains("layer2.0.conv1.weight"))
        #expect(trainable.contains("bn1.weight"))
        #expect(!trainable.contains { $0.hasSuffix("running_mean") })
        model.unfreezeAll()
        #expect(model.trainableParameters().count == model.namedParameters().filter(\.parameter.isLearnable).count)
    }

    @Test func unknownModel() throws {
        let context = try ComputeContext()
        let error = try #require(throws: ModelError.self) { _ = try ModelZoo.make("vgg", inputShape: [3, 32, 32], classes: 10, seed: 1, context: context) }
        #expect(error.description.contains("resnet8, resnet18, mobilenetv2, densenet40"))
    }
}
