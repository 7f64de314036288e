import CoCoFLCore
import Foundation
import Testing
import TestSupport
@testable import NN

@Suite("Width-scaled sub-models (HeteroFL, FedRolex, Federated Dropout)", .heavy)
struct SubModelTests {
    static let inputShape = [3, 16, 16]

    @Test("r = 1 with .prefix is exactly the global model, every index list complete", arguments: ModelZoo.names)
    func fullWidthIsIdentity(name: String) throws {
        let context = try ComputeContext()
        let global = try ModelZoo.make(name, inputShape: Self.inputShape, classes: 10, seed: 3, context: context).exportParameters()
        let map = try SubModelMap(modelName: name, inputShape: Self.inputShape, classes: 10, ratio: 1, selection: .prefix)
        #expect(map.isFull)
        #expect(map.keys == global.map(\.key))
        for array in global {
            #expect(try map.indices(for: array.key) == array.shape.map { Array(0..<$0) }, "\(array.key)")
        }
        #expect(try map.extract(from: global) == global)
    }

    @Test("widthRatio 1 builds the same model as the default (keys, shapes, initial values)")
    func fullWidthModelIsUnchanged() throws {
        let context = try ComputeContext()
        for name in ["resnet8", "mobilenetv2"] {
            let plain = try ModelZoo.make(name, inputShape: Self.inputShape, classes: 10, seed: 9, context: context)
            let scaled = try ModelZoo.make(name, inputShape: Self.inputShape, classes: 10, seed: 9, context: context, widthRatio: 1)
            #expect(try plain.exportParameters() == scaled.exportParameters())
            #expect(plain.forwardFLOPsPerImage == scaled.forwardFLOPsPerImage)
        }
    }

    @Test("Width scaling replaces every hidden channel count C by ⌈r·C⌉ and keeps image channels and classes")
    func widthScaledShapes() throws {
        let context = try ComputeContext()
        let resnet = try ModelZoo.make("resnet18", inputShape: [1, 28, 28], classes: 7, seed: 1, context: context, widthRatio: 0.5)
        let resnetShapes = Dictionary(uniqueKeysWithValues: resnet.namedParameters().map { ($0.key, $0.parameter.shape) })
        #expect(resnetShapes["conv1.weight"] == [32, 1, 3, 3])
        #expect(resnetShapes["layer2.0.conv1.weight"] == [64, 32, 3, 3])
        #expect(resnetShapes["layer2.0.shortcut.0.weight"] == [64, 32, 1, 1])
        #expect(resnetShapes["linear.weight"] == [7, 256])
        #expect(resnetShapes["linear.bias"] == [7])

        // 0.3·10 must stay 3 despite 0.3·10 = 3.0000000000000004 in floating point; ⌈0.3·16⌉ = 5.
        #expect(ModelZoo.scaledWidth(10, ratio: 0.3) == 3)
        #expect(ModelZoo.scaledWidth(16, ratio: 0.3) == 5)
        #expect(ModelZoo.scaledWidth(3, ratio: 0.01) == 1)

        let mobile = try ModelZoo.make("mobilenetv2", inputShape: Self.inputShape, classes: 10, seed: 1, context: context, widthRatio: 0.25)
        let mobileShapes = Dictionary(uniqueKeysWithValues: mobile.namedParameters().map { ($0.key, $0.parameter.shape) })
        // layers.3 expands 24 channels ×6 = 144 → 36; the depthwise conv keeps groups == channels.
        #expect(mobileShapes["layers.3.conv1.weight"] == [36, 6, 1, 1])
        #expect(mobileShapes["layers.3.conv2.weight"] == [36, 1, 3, 3])
        #expect(mobileShapes["conv2.weight"] == [320, 80, 1, 1])
        #expect(mobileShapes["linear.weight"] == [10, 320])
        let fullMobile = try ModelZoo.make("mobilenetv2", inputShape: Self.inputShape, classes: 10, seed: 1, context: context)
        #expect(mobile.forwardFLOPsPerImage < fullMobile.forwardFLOPsPerImage / 8)
    }

    @Test("Extracted sub-models load into the width-scaled model and run forward", arguments: [
        ("resnet8", 0.5, SubModelSelection.prefix), ("resnet8", 0.25, .rolling(offset: 13)),
        ("resnet18", 0.5, .random(seed: 4)), ("resnet18", 0.25, .prefix),
        ("mobilenetv2", 0.5, .rolling(offset: 100)), ("mobilenetv2", 0.25, .random(seed: 11)),
    ])
    func extractedSubModelLoads(name: String, ratio: Double, selection: SubModelSelection) throws {
        let context = try ComputeContext()
        let global = try ModelZoo.make(name, inputShape: Self.inputShape, classes: 10, seed: 2, context: context).exportParameters()
        let map = try SubModelMap(modelName: name, inputShape: Self.inputShape, classes: 10, ratio: ratio, selection: selection)
        let extracted = try map.extract(from: global)
        #expect(!map.isFull)
        let subModel = try ModelZoo.make(name, inputShape: Self.inputShape, classes: 10, seed: 5, context: context, widthRatio: ratio)
        let expectedShapes = subModel.namedParameters().map { [$0.key: $0.parameter.shape] }
        #expect(extracted.map { [$0.key: $0.shape] } == expectedShapes)
        for array in extracted { #expect(try map.shape(for: array.key) == array.shape) }
        try subModel.update(parameters: extracted)
        #expect(try subModel.exportParameters() == extracted)
        let output = try subModel.forward(try randomTensor([2] + Self.inputShape, seed: 7, context: context), phase: .evaluation)
        #expect(output.shape == [2, 10])
        #expect(try output.toArray().allSatisfy(\.isFinite))
    }

    @Test("Gather by hand: a [5, 3, 2, 2] convolution weight with a wrapping rolling window")
    func rollingGatherByHand() throws {
        // Window of 3 of 5 output channels starting at 3 wraps to {3, 4, 0}; index lists are ascending.
        let outputs = SubModelSelection.rolling(offset: 3).indices(count: 3, of: 5, space: "a")
        #expect(outputs == [0, 3, 4])
        // Offsets are taken modulo the space, negative ones included: −4 mod 3 = 2, window {2, 0}.
        let inputs = SubModelSelection.rolling(offset: -4).indices(count: 2, of: 3, space: "b")
        #expect(inputs == [0, 2])
        let source = (0..<60).map(Float.init)
        let gathered = SubModelMap.gather(source, shape: [5, 3, 2, 2], indices: [outputs, inputs, [0, 1], [0, 1]])
        // Element [o, i, r, c] of the global tensor is 12·o + 4·i + 2·r + c.
        #expect(gathered == [
            0, 1, 2, 3, 8, 9, 10, 11,        // o = 0: i = 0, i = 2
            36, 37, 38, 39, 44, 45, 46, 47,  // o = 3
            48, 49, 50, 51, 56, 57, 58, 59,  // o = 4
        ])
        // A partial last axis (a linear weight's input features) and a whole leading axis.
        #expect(SubModelMap.gather((0..<12).map(Float.init), shape: [3, 4], indices: [[0, 1, 2], [1, 3]]) == [1, 3, 5, 7, 9, 11])
        #expect(SubModelMap.gather([5, 6, 7, 8], shape: [4], indices: [[2, 3]]) == [7, 8])
    }

    @Test("A rolling window in a real model: the stem's 16 channels at r = 0.5 from offset 12")
    func rollingWindowInModel() throws {
        let context = try ComputeContext()
        let global = try ModelZoo.make("resnet8", inputShape: Self.inputShape, classes: 10, seed: 2, context: context).exportParameters()
        let map = try SubModelMap(modelName: "resnet8", inputShape: Self.inputShape, classes: 10, ratio: 0.5, selection: .rolling(offset: 12))
        let indices = try map.indices(for: "conv1.weight")
        #expect(indices == [[0, 1, 2, 3, 12, 13, 14, 15], [0, 1, 2], [0, 1, 2], [0, 1, 2]])
        let weight = try #require(global.first { $0.key == "conv1.weight" })
        let sub = try #require(try map.extract(from: global).first { $0.key == "conv1.weight" })
        #expect(sub.shape == [8, 3, 3, 3])
        for (position, channel) in indices[0].enumerated() {
            #expect(Array(sub.values[(position * 27)..<((position + 1) * 27)]) == Array(weight.values[(channel * 27)..<((channel + 1) * 27)]))
        }
        // A window of one full space is the whole space in order.
        #expect(SubModelSelection.rolling(offset: 7).indices(count: 5, of: 5, space: "a") == [0, 1, 2, 3, 4])
    }

    @Test("Federated Dropout subsets are reproducible for a seed and differ across seeds")
    func randomSelection() throws {
        let a = try SubModelMap(modelName: "resnet18", inputShape: Self.inputShape, classes: 10, ratio: 0.5, selection: .random(seed: 21))
        let b = try SubModelMap(modelName: "resnet18", inputShape: Self.inputShape, classes: 10, ratio: 0.5, selection: .random(seed: 21))
        let c = try SubModelMap(modelName: "resnet18", inputShape: Self.inputShape, classes: 10, ratio: 0.5, selection: .random(seed: 22))
        #expect(a == b)
        #expect(a.channelIndices != c.channelIndices)
        for (space, kept) in a.channelIndices where space != "input" && space != "classes" {
            #expect(kept == kept.sorted() && Set(kept).count == kept.count, "\(space): \(kept)")
            #expect(kept.allSatisfy { $0 >= 0 } && kept.count >= 1)
        }
        // Spaces of equal size get different subsets because the space name enters the draw.
        #expect(a.channelIndices["layer2.0"] != a.channelIndices["layer2.0.conv1"])
        #expect(a.channelIndices["layer2.0"]?.count == 64)
        #expect(a.channelIndices["input"] == [0, 1, 2])
        #expect(try a.indices(for: "linear.weight")[0] == Array(0..<10))
        #expect(a.channelIndices["layer1.0.conv1"] != Array(0..<32))
    }

    @Test("Connected tensors share one index list per channel space", arguments: [
        SubModelSelection.prefix, .rolling(offset: 5), .random(seed: 3),
    ])
    func consistency(selection: SubModelSelection) throws {
        let resnet = try SubModelMap(modelName: "resnet8", inputShape: Self.inputShape, classes: 10, ratio: 0.5, selection: selection)
        // Stage 1's residual stream is the stem's space.
        #expect(try resnet.indices(for: "layer1.0.bn2.weight") == resnet.indices(for: "bn1.weight"))
        #expect(try resnet.indices(for: "layer2.0.conv1.weight")[1] == resnet.indices(for: "layer1.0.conv2.weight")[0])
        #expect(try resnet.indices(for: "layer1.0.conv2.weight")[1] == resnet.indices(for: "layer1.0.bn1.running_var")[0])
        #expect(try resnet.indices(for: "layer2.0.shortcut.1.weight") == resnet.indices(for: "layer2.0.bn2.bias"))
        #expect(try resnet.indices(for: "layer2.0.shortcut.0.weight")[1] == resnet.indices(for: "bn1.running_mean")[0])
        #expect(try resnet.indices(for: "linear.weight")[1] == resnet.indices(for: "layer3.0.bn2.weight")[0])
        #expect(try resnet.indices(for: "linear.weight")[0] == Array(0..<10))
        #expect(try resnet.indices(for: "conv1.weight")[1] == [0, 1, 2])

        let mobile = try SubModelMap(modelName: "mobilenetv2", inputShape: Self.inputShape, classes: 10, ratio: 0.5, selection: selection)
        // layers.2 (24 → 24, stride 1) adds its input: it shares layers.1's output stream.
        #expect(try mobile.indices(for: "layers.2.bn3.weight") == mobile.indices(for: "layers.1.bn3.weight"))
        #expect(try mobile.indices(for: "layers.1.shortcut.1.weight") == mobile.indices(for: "layers.1.bn3.weight"))
        // The depthwise conv works on the expanded space of its block, one in-group channel each.
        let depthwise = try mobile.indices(for: "layers.3.conv2.weight")
        #expect(try depthwise[0] == mobile.indices(for: "layers.3.conv1.weight")[0])
        #expect(depthwise[1] == [0])
        #expect(try mobile.indices(for: "layers.3.conv3.weight")[1] == depthwise[0])
        #expect(try mobile.indices(for: "layers.4.conv1.weight")[1] == mobile.indices(for: "layers.3.bn3.weight")[0])
        #expect(try mobile.indices(for: "linear.weight")[1] == mobile.indices(for: "conv2.weight")[0])
    }

    @Test("DenseNet cannot be width-scaled; the error names the model and the width ratio")
    func denseNetThrows() throws {
        let context = try ComputeContext()
        let build = try #require(throws: ModelError.self) {
            _ = try ModelZoo.make("densenet40", inputShape: Self.inputShape, classes: 10, seed: 1, context: context, widthRatio: 0.5)
        }
        #expect(build.description.contains("densenet40") && build.description.contains("width ratio"), "\(build)")
        let map = try #require(throws: ModelError.self) {
            _ = try SubModelMap(modelName: "densenet40", inputShape: Self.inputShape, classes: 10, ratio: 0.25, selection: .prefix)
        }
        #expect(map.description.contains("densenet40") && map.description.contains("width ratio"), "\(map)")
    }

    @Test("Width ratios outside (0, 1] are rejected naming the width ratio", arguments: [0, -0.5, 1.5, Double.nan, Double.infinity])
    func ratioOutOfRange(ratio: Double) throws {
        let context = try ComputeContext()
        let build = try #require(throws: ModelError.self) {
            _ = try ModelZoo.make("resnet8", inputShape: Self.inputShape, classes: 10, seed: 1, context: context, widthRatio: ratio)
        }
        #expect(build.description.contains("width ratio"), "\(build)")
        let map = try #require(throws: ModelError.self) {
            _ = try SubModelMap(modelName: "resnet8", inputShape: Self.inputShape, classes: 10, ratio: ratio, selection: .prefix)
        }
        #expect(map.description.contains("width ratio"), "\(map)")
    }

    @Test("extract rejects unknown, misshapen and missing keys, naming the key")
    func extractErrors() throws {
        let context = try ComputeContext()
        let global = try ModelZoo.make("resnet8", inputShape: Self.inputShape, classes: 10, seed: 2, context: context).exportParameters()
        let map = try SubModelMap(modelName: "resnet8", inputShape: Self.inputShape, classes: 10, ratio: 0.5, selection: .prefix)
        let unknown = try #require(throws: ModelError.self) {
            _ = try map.extract(from: global + [NamedArray(key: "layer9.conv.weight", shape: [1], values: [0])])
        }
        #expect(unknown.description.contains("layer9.conv.weight"))
        var misshapen = global
        let convolution = try #require(global.firstIndex { $0.shape.count == 4 })
        misshapen[convolution].shape = [global[convolution].values.count]
        let shape = try #require(throws: ModelError.self) { _ = try map.extract(from: misshapen) }
        #expect(shape.description.contains(global[convolution].key))
        let missing = try #require(throws: ModelError.self) { _ = try map.extract(from: Array(global.dropLast())) }
        #expect(missing.description.contains(global.last!.key))
        #expect(throws: ModelError.self) { _ = try map.indices(for: "nope.weight") }
    }
}
