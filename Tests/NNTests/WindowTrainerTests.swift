import CoCoFLCore
import Foundation
import Testing
import TestSupport
@testable import NN

@Suite("CoCoFL windows, profiles and the configuration choice", .heavy)
struct WindowTrainerTests {
    static func batch(_ model: Model, seed: UInt64, size: Int = 16) throws -> (Tensor, [Int32]) {
        var generator = SeededGenerator(seed: seed)
        let images = try Tensor(shape: [size] + model.inputShape,
                                values: (0..<(size * model.inputShape.reduce(1, *))).map { _ in Float.random(in: -2...2, using: &generator) },
                                context: model.context)
        return (images, (0..<size).map { _ in Int32.random(in: 0..<Int32(model.classCount), using: &generator) })
    }

    @Test("Every model has n(n+1)/2 windows", arguments: [("resnet8", 5), ("resnet18", 10), ("mobilenetv2", 20), ("densenet40", 22)])
    func windowCounts(name: String, units: Int) throws {
        let context = try ComputeContext()
        let model = try ModelZoo.make(name, inputShape: [3, 16, 16], classes: 10, seed: 1, context: context)
        let windows = TrainedWindow.all(unitCount: model.units.count)
        #expect(model.units.count == units)
        #expect(windows.count == units * (units + 1) / 2)
        #expect(Set(windows).count == windows.count)
    }

    @Test("After local steps, weights outside the window are bit-identical and the window's weights changed",
          arguments: [("resnet8", 2, 3), ("mobilenetv2", 8, 12), ("mobilenetv2", 0, 0), ("resnet18", 9, 9)])
    func frozenWeightsUntouched(name: String, first: Int, last: Int) throws {
        let context = try ComputeContext()
        let model = try ModelZoo.make(name, inputShape: [3, 16, 16], classes: 10, seed: 2, context: context)
        let before = Dictionary(uniqueKeysWithValues: try model.exportParameters().map { ($0.key, $0.values) })
        let window = TrainedWindow(first: first, last: last)
        let trainer = try WindowTrainer(model: model, window: window, optimizer: SGD(learningRate: 0.05, weightDecay: 1e-3))
        for step in 0..<3 {
            let (images, labels) = try Self.batch(model, seed: UInt64(step))
            let result = try trainer.step(images: images, labels: labels)
            #expect(result.loss.isFinite)
        }
        let inside = Set(window.range.flatMap { model.parameterKeys(unit: $0) })
        for entry in try model.exportParameters() {
            if inside.contains(entry.key) {
                if entry.key.hasSuffix("weight") || entry.key.hasSuffix("running_mean") {
                    #expect(entry.values != before[entry.key], "\(entry.key) inside \(window) did not change")
                }
            } else {
                #expect(entry.values == before[entry.key], "\(entry.key) outside \(window) changed")
            }
        }
        #expect(model.trainableParameters().allSatisfy { inside.contains($0.key) })
    }

    @Test("The full window gives exactly the plain fp32 training result")
    func fullWindowIsPlainTraining() throws {
        for name in ["resnet8", "mobilenetv2"] {
            let contextA = try ComputeContext(), contextB = try ComputeContext()
            let plain = try ModelZoo.make(name, inputShape: [3, 16, 16], classes: 10, seed: 4, context: contextA)
            let windowed = try ModelZoo.make(name, inputShape: [3, 16, 16], classes: 10, seed: 4, context: contextB)
            let trainer = Trainer(model: plain, optimizer: SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3))
            let cocofl = try WindowTrainer(model: windowed, window: .full(unitCount: windowed.units.count),
                                           optimizer: SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3))
            for step in 0..<3 {
                let (a, labels) = try Self.batch(plain, seed: UInt64(10 + step))
                let (b, _) = try Self.batch(windowed, seed: UInt64(10 + step))
                let lossA = try trainer.step(images: a, labels: labels).loss
                let lossB = try cocofl.step(images: b, labels: labels).loss
                #expect(lossA == lossB)
            }
            #expect(try plain.exportParameters() == windowed.exportParameters(), "\(name)")
        }
    }

    @Test("The int8 window trainer reports which frozen units stay fp32 and which ops fell back")
    func reports() throws {
        let context = try ComputeContext()
        let model = try ModelZoo.make("mobilenetv2", inputShape: [3, 16, 16], classes: 10, seed: 1, context: context)
        let trainer = try WindowTrainer(model: model, window: TrainedWindow(first: 1, last: 1), optimizer: SGD(learningRate: 0.01))
        #expect(trainer.fp32Units == ["conv1", "conv2", "head"])
        #expect(trainer.int8Units.count == 16)
        let (images, labels) = try Self.batch(model, seed: 1)
        try trainer.step(images: images, labels: labels)
        try trainer.step(images: images, labels: labels)
        // The three stride-2 depthwise blocks after the window (layers.3, .6, .13) run that op's input gradient in fp32.
        #expect(trainer.fallbacks.count == 3)
        #expect(trainer.fallbacks.allSatisfy { $0.contains("depthwise") })
    }

    // MARK: Configuration choice on hand-made profiles

    static func profile(_ rows: [(Int, Int, Double, Double, Double)]) -> ModelProfile {
        ModelProfile(model: "toy", inputShape: [1, 8, 8], classes: 2, batch: 1, repeats: 1, unitNames: ["a", "b", "c"],
                     windows: rows.map { WindowCost(first: $0.0, last: $0.1, timeSeconds: $0.2, timeRatio: $0.2, memoryBytes: Int($0.3 * 100),
                                                    memoryRatio: $0.3, peakRSSGrowthBytes: 0, uploadBytes: Int($0.4 * 100), uploadRatio: $0.4) })
    }

    /// 3 units: windows [0,0] … [2,2] with made-up ratios.
    static let toy = profile([
        (0, 0, 0.50, 0.60, 0.1), (0, 1, 0.80, 0.80, 0.5), (0, 2, 1.00, 1.00, 1.0),
        (1, 1, 0.40, 0.50, 0.4), (1, 2, 0.60, 0.70, 0.9), (2, 2, 0.20, 0.30, 0.5),
    ])

    @Test func feasibleAndMaximal() {
        let feasible = ConfigurationChoice.feasible(Self.toy, time: 0.6, memory: 0.7, upload: 0.9)
        #expect(feasible.map(\.window) == [TrainedWindow(first: 0, last: 0), TrainedWindow(first: 1, last: 1),
                                           TrainedWindow(first: 1, last: 2), TrainedWindow(first: 2, last: 2)])
        // [1,1] and [2,2] lie inside [1,2]; [0,0] is in no other feasible window.
        #expect(ConfigurationChoice.maximal(feasible).map(\.window) == [TrainedWindow(first: 0, last: 0), TrainedWindow(first: 1, last: 2)])
        // Unconstrained: only full training is maximal.
        var generator = SeededGenerator(seed: 1)
        #expect(ConfigurationChoice.choose(Self.toy, time: 1, memory: 1, upload: 1, using: &generator) == TrainedWindow(first: 0, last: 2))
    }

    @Test("No feasible window is a normal answer: the device cannot take part")
    func emptyChoice() {
        var generator = SeededGenerator(seed: 1)
        #expect(ConfigurationChoice.choose(Self.toy, time: 0.1, memory: 1, upload: 1, using: &generator) == nil)
        #expect(ConfigurationChoice.choose(Self.toy, time: 1, memory: 0.2, upload: 1, using: &generator) == nil)
    }

    @Test("Ties between maximal windows are broken by the seeded generator, reproducibly and roughly uniformly")
    func ties() {
        var counts: [TrainedWindow: Int] = [:]
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<2000 {
            let choice = ConfigurationChoice.choose(Self.toy, time: 0.6, memory: 0.7, upload: 0.9, using: &generator)!
            counts[choice, default: 0] += 1
        }
        #expect(counts.count == 2)
        #expect(counts.values.allSatisfy { abs($0 - 1000) < 120 })
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7)
        let first = (0..<20).map { _ in ConfigurationChoice.choose(Self.toy, time: 0.6, memory: 0.7, upload: 0.9, using: &a) }
        let second = (0..<20).map { _ in ConfigurationChoice.choose(Self.toy, time: 0.6, memory: 0.7, upload: 0.9, using: &b) }
        #expect(first == second)
    }

    @Test("The profiler measures every window it is asked for, with ratios against full training")
    func profilerSmoke() throws {
        let profiler = try Profiler(modelName: "resnet8", inputShape: [1, 16, 16], classes: 10, batch: 4, repeats: 1)
        let profile = try profiler.run(windows: [TrainedWindow(first: 4, last: 4), TrainedWindow(first: 1, last: 2)])
        #expect(profile.windows.count == 3)  // full training is always included
        let full = try #require(profile.cost(of: TrainedWindow(first: 0, last: 4)))
        #expect(full.timeRatio == 1 && full.memoryRatio == 1 && full.uploadRatio == 1)
        let head = try #require(profile.cost(of: TrainedWindow(first: 4, last: 4)))
        // The head is linear 64→10: 650 parameters of 4 bytes.
        #expect(head.uploadBytes == 650 * 4)
        #expect(head.uploadRatio < 0.01)
        #expect(head.memoryBytes > 0 && head.timeSeconds > 0)
    }

    @Test("The profiler measures width-scaled sub-models against the same full-training reference")
    func profilerSubModels() throws {
        let profiler = try Profiler(modelName: "resnet8", inputShape: [1, 16, 16], classes: 10, batch: 4, repeats: 1)
        let profile = try profiler.run(needs: .subModels, subModelRatios: [0.25, 1, 0.5])
        #expect(profile.windows.isEmpty && profile.contents == .subModels)
        #expect(profile.subModels.map(\.ratio) == [1, 0.5, 0.25])
        let full = try #require(profile.cost(ofSubModel: 1))
        // The full-width sub-model is full training itself: the reference's costs exactly, not a second noisy
        // measurement that a busy machine can push above 1 (devices that may train everything were refused it).
        #expect(full.uploadRatio == 1 && full.timeRatio == 1 && full.memoryRatio == 1)
        let half = try #require(profile.cost(ofSubModel: 0.5)), quarter = try #require(profile.cost(ofSubModel: 0.25))
        // Upload is the sub-model's parameters: near r² (the stem's input channels and the head's classes do not scale).
        #expect(half.uploadRatio > 0.2 && half.uploadRatio < 0.35, "\(half.uploadRatio)")
        #expect(quarter.uploadRatio < half.uploadRatio && quarter.uploadBytes > 0)
        #expect(quarter.memoryBytes < full.memoryBytes && quarter.timeSeconds > 0)
    }
}
