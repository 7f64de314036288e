import CoCoFLCore
import NN

/// What the host keeps for local training across devices and rounds: the working model whose buffers every
/// device reuses, the width-scaled sub-models built so far, the data and the run's optimizer settings.
final class LocalTrainingHost {
    let configuration: RunConfiguration
    let data: DatasetSplit
    let context: ComputeContext
    let workingModel: Model
    let profile: ModelProfile
    private var subModels: [Double: Model] = [:]

    init(configuration: RunConfiguration, data: DatasetSplit, context: ComputeContext, workingModel: Model, profile: ModelProfile) {
        self.configuration = configuration
        self.data = data
        self.context = context
        self.workingModel = workingModel
        self.profile = profile
    }

    /// The sub-model of width `ratio`, built once and reused.
    func subModel(ratio: Double) throws -> Model {
        if let cached = subModels[ratio] { return cached }
        let model = try ModelZoo.make(configuration.model, inputShape: workingModel.inputShape, classes: workingModel.classCount,
                                      seed: configuration.seed, context: context, widthRatio: ratio)
        subModels[ratio] = model
        return model
    }

    /// A fresh optimizer for one device's round.
    func optimizer(learningRate: Double) -> SGD {
        SGD(learningRate: Float(learningRate), momentum: Float(configuration.momentum), weightDecay: Float(configuration.weightDecay))
    }
}

/// The host's `LocalTrainer` for one sampled device's round (what a strategy's `train` calls).
final class DeviceTrainer: LocalTrainer {
    /// Thrown when a strategy trains a device that holds no samples; the host counts the device as skipped.
    struct NoLocalData: Error {
        static let reason = "no local data"
    }

    let global: ParameterSet
    private let host: LocalTrainingHost
    private let device: Int
    private let shard: [Int]
    private let learningRate: Double

    init(host: LocalTrainingHost, global: ParameterSet, device: Int, shard: [Int], learningRate: Double) {
        self.host = host
        self.global = global
        self.device = device
        self.shard = shard
        self.learningRate = learningRate
    }

    func trainWindow(_ window: TrainedWindow, lossTerm: (any LocalLossTerm)?, generator: inout SeededGenerator) throws -> LocalTraining {
        guard !shard.isEmpty else { throw NoLocalData() }
        let model = host.workingModel
        try model.update(parameters: global.exported())
        let trainer = try WindowTrainer(model: model, window: window, optimizer: host.optimizer(learningRate: learningRate))
        let keys = Set(window.range.flatMap { model.parameterKeys(unit: $0) })
        if let lossTerm {
            trainer.gradientHook = try Self.hook(lossTerm, start: global.exported().filter { keys.contains($0.key) })
        }
        let loss = try localEpochs(model: model, generator: &generator) { try trainer.step(images: $0, labels: $1).loss }
        let uploaded = try model.exportParameters().filter { keys.contains($0.key) }
        let cost = host.profile.cost(of: window)
        return LocalTraining(update: try PartialUpdate(deviceID: device, sampleCount: shard.count, parameters: uploaded),
                             timeRatio: cost?.timeRatio ?? 1, memoryRatio: cost?.memoryRatio ?? 1, meanLoss: loss)
    }

    func trainSubModel(ratio: Double, selection: SubModelSelection, lossTerm: (any LocalLossTerm)?,
                       generator: inout SeededGenerator) throws -> LocalTraining {
        guard !shard.isEmpty else { throw NoLocalData() }
        let working = host.workingModel
        let map = try SubModelMap(modelName: host.configuration.model, inputShape: working.inputShape, classes: working.classCount,
                                  ratio: ratio, selection: selection)
        let model = try host.subModel(ratio: ratio)
        let start = try map.extract(from: global.exported())
        try model.update(parameters: start)
        let trainer = Trainer(model: model, optimizer: host.optimizer(learningRate: learningRate))
        if let lossTerm { trainer.gradientHook = try Self.hook(lossTerm, start: start) }
        let loss = try localEpochs(model: model, generator: &generator) { try trainer.step(images: $0, labels: $1).loss }
        let tensors = try model.exportParameters().map { entry in
            TensorUpdate(key: entry.key, shape: entry.shape, values: entry.values, coverage: try map.indices(for: entry.key).map { .indices($0) })
        }
        let cost = host.profile.cost(ofSubModel: ratio) ?? .analytic(ratio: ratio)
        return LocalTraining(update: try PartialUpdate(deviceID: device, sampleCount: shard.count, tensors: tensors),
                             timeRatio: cost.timeRatio, memoryRatio: cost.memoryRatio, meanLoss: loss)
    }

    /// The gradient hook that applies `lossTerm` with each tensor's values at the start of local training.
    private static func hook(_ lossTerm: any LocalLossTerm, start: [NamedArray]) throws -> GradientHook {
        let startValues = Dictionary(uniqueKeysWithValues: start.map { ($0.key, $0.values) })
        return { key, weights, gradient in
            guard let values = startValues[key] else { return 0 }
            return values.withUnsafeBufferPointer { lossTerm.addGradient(key: key, weights: weights, start: $0, gradient: gradient) }
        }
    }

    /// Local epochs over the shard in seeded random order; the last partial batch is dropped unless the shard is
    /// smaller than one batch (then it is one batch), so that every device uses the same few batch shapes.
    private func localEpochs(model: Model, generator: inout SeededGenerator,
                             step: (Tensor, [Int32]) throws -> Double) throws -> Double {
        let configuration = host.configuration
        let batch = min(configuration.batchSize, shard.count)
        var order = shard
        var total = 0.0, steps = 0
        var labels = [Int32](repeating: 0, count: batch)
        let input = try Tensor(zeros: [batch] + model.inputShape, context: host.context)
        for _ in 0..<configuration.localEpochs {
            order.shuffle(using: &generator)
            for start in stride(from: 0, through: order.count - batch, by: batch) {
                input.withUnsafeMutableFloats { images in
                    labels.withUnsafeMutableBufferPointer {
                        host.data.train.writeBatch(indices: order[start..<start + batch], images: images.baseAddress!, labels: $0.baseAddress!)
                    }
                }
                total += try step(input, labels)
                steps += 1
            }
        }
        return steps == 0 ? 0 : total / Double(steps)
    }
}
