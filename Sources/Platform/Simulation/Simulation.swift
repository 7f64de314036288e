import Dispatch
import Foundation
import NN

/// One federated run simulated in this process: N devices with data shards and resource limits, K sampled per
/// round, each planning its local work with the strategy, training locally, uploading what it trained, the
/// strategy aggregating, and the server evaluating. Devices run one after another on one working model whose
/// buffers are reused; the loop keeps no global state.
public final class Simulation {
    public let configuration: RunConfiguration
    public let data: DatasetSplit
    public let partition: DataPartition
    public let population: DevicePopulation
    public let profile: ModelProfile
    /// The global parameters after the last completed round.
    public private(set) var global: ParameterSet
    /// Rounds completed.
    public private(set) var completedRounds = 0
    private let strategy: Strategy
    private let context: ComputeContext
    private let workingModel: Model
    private var subModels: [Double: Model] = [:]
    private let root: SeededGenerator
    private var sampling: SeededGenerator
    private var limitsGenerator: SeededGenerator
    private let groupShares: [[Double]]

    /// Prepares a run: loads the data from `datasets` (unless given) and partitions it, builds the model,
    /// measures (or takes) the profile and instantiates the strategy from `catalog`.
    public init(configuration: RunConfiguration, catalog: StrategyCatalog, datasets: DatasetCatalog = .standard,
                data: DatasetSplit? = nil, profile: ModelProfile? = nil, progress: (String) -> Void = { _ in }) throws {
        try configuration.validate()
        self.configuration = configuration
        let entry = try catalog.entry(id: configuration.strategy)
        var split = try data ?? datasets.load(name: configuration.dataset, directory: configuration.dataDirectory)
        if let n = configuration.trainSubset { split = DatasetSplit(train: try split.train.subset(first: min(n, split.train.count)), test: split.test) }
        if let n = configuration.testSubset { split = DatasetSplit(train: split.train, test: try split.test.subset(first: min(n, split.test.count))) }
        self.data = split
        root = SeededGenerator(seed: configuration.seed)
        sampling = root.derived("sampling")
        limitsGenerator = root.derived("limits")
        population = try configuration.mix.population(deviceCount: configuration.devices)
        var partitionGenerator = root.derived("partition")
        partition = try DataPartition(dataset: split.train, scheme: configuration.partition, population: population, using: &partitionGenerator)
        let inputShape = [split.train.channels, split.train.height, split.train.width]
        context = try ComputeContext()
        workingModel = try ModelZoo.make(configuration.model, inputShape: inputShape, classes: split.train.classCount,
                                         seed: configuration.seed, context: context)
        global = try ParameterSet(workingModel.exportParameters())
        if let profile {
            guard profile.model == configuration.model, profile.inputShape == inputShape, profile.unitNames.count == workingModel.units.count else {
                throw SimulationError("the given profile is for \(profile.model) \(profile.inputShape), not \(configuration.model) \(inputShape); profile this model with cocofl profile")
            }
            self.profile = profile
        } else {
            progress("profiling \(configuration.model) \(inputShape) batch \(configuration.batchSize) on this machine…")
            self.profile = try Profiler(modelName: configuration.model, inputShape: inputShape, classes: split.train.classCount,
                                        batch: configuration.batchSize, repeats: configuration.profileRepeats).run()
        }
        strategy = try entry.instantiate(
            options: configuration.strategyOptions,
            environment: StrategyEnvironment(modelName: configuration.model, unitCount: workingModel.units.count, profile: self.profile))
        // Each group's class distribution, for per-group accuracy.
        let (groups, histograms) = (population, partition.classHistograms)
        groupShares = (0..<groups.groupCount).map { group in
            var histogram = [Int](repeating: 0, count: split.train.classCount)
            for device in groups.devices(inGroup: group) {
                for (c, n) in histograms[device].enumerated() { histogram[c] += n }
            }
            let total = max(1, histogram.reduce(0, +))
            return histogram.map { Double($0) / Double(total) }
        }
    }

    /// Runs the remaining rounds, calling `observer` after each.
    public func run(observer: (RoundMetrics) throws -> Void) throws {
        while completedRounds < configuration.rounds {
            try observer(try runRound())
        }
    }

    /// Runs the next round.
    public func runRound() throws -> RoundMetrics {
        let start = DispatchTime.now().uptimeNanoseconds
        let round = completedRounds + 1
        let learningRate = configuration.learningRate(round: round)
        let sampler = try DeviceSampler(perRound: configuration.perRound, deviceCount: configuration.devices)
        let sampled = sampler.sample(using: &sampling)
        let limits = population.drawLimits(using: &limitsGenerator)
        var updates: [PartialUpdate] = []
        var skipped: [String: Int] = [:]
        var uploadBytes = 0, timeRatios: [Double] = [], memoryRatios: [Double] = [], losses: [Double] = []
        for device in sampled {
            var generator = root.derived("device-\(device)-round-\(round)")
            let shard = partition.sampleIndices[device]
            let plan = try strategy.plan(DeviceRound(deviceID: device, groupName: population.group(ofDevice: device).name,
                                                     limits: limits[device], round: round, sampleCount: shard.count),
                                         generator: &generator)
            if case .skip(let reason) = plan {
                skipped[reason, default: 0] += 1
                continue
            }
            guard !shard.isEmpty else { skipped["no local data", default: 0] += 1; continue }
            let result = try train(plan: plan, device: device, shard: shard, learningRate: learningRate, generator: &generator)
            updates.append(result.update)
            uploadBytes += result.update.tensors.values.reduce(0) { $0 + $1.values.count * 4 }
            timeRatios.append(result.timeRatio)
            memoryRatios.append(result.memoryRatio)
            losses.append(result.meanLoss)
        }
        if !updates.isEmpty {
            global = try strategy.aggregate(global: global, updates: updates, participantCount: updates.count)
        }
        completedRounds = round
        let evaluate = round % configuration.evaluationInterval == 0 || round == configuration.rounds
        let evaluation = evaluate ? try evaluateGlobal() : nil
        func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
        return RoundMetrics(round: round, learningRate: learningRate, participants: updates.count, skipped: skipped,
                            uploadBytes: uploadBytes, meanDeviceTimeRatio: mean(timeRatios), meanDeviceMemoryRatio: mean(memoryRatios),
                            trainingLoss: mean(losses), seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                            evaluation: evaluation)
    }

    // MARK: Local training

    private struct LocalResult {
        let update: PartialUpdate
        let timeRatio: Double
        let memoryRatio: Double
        let meanLoss: Double
    }

    private func train(plan: LocalPlan, device: Int, shard: [Int], learningRate: Double, generator: inout SeededGenerator) throws -> LocalResult {
        let optimizer = SGD(learningRate: Float(learningRate), momentum: Float(configuration.momentum), weightDecay: Float(configuration.weightDecay))
        switch plan {
        case .skip:
            preconditionFailure("skipped devices do not train")
        case .window(let window):
            try workingModel.update(parameters: global.exported())
            let trainer = try WindowTrainer(model: workingModel, window: window, optimizer: optimizer)
            let loss = try localEpochs(model: workingModel, shard: shard, generator: &generator) { try trainer.step(images: $0, labels: $1).loss }
            let keys = Set(window.range.flatMap { workingModel.parameterKeys(unit: $0) })
            let uploaded = try workingModel.exportParameters().filter { keys.contains($0.key) }
            let cost = profile.cost(of: window)
            return LocalResult(update: try PartialUpdate(deviceID: device, sampleCount: shard.count, parameters: uploaded),
                               timeRatio: cost?.timeRatio ?? 1, memoryRatio: cost?.memoryRatio ?? 1, meanLoss: loss)
        case .subModel(let ratio, let selection):
            let inputShape = workingModel.inputShape
            let map = try SubModelMap(modelName: configuration.model, inputShape: inputShape, classes: workingModel.classCount,
                                      ratio: ratio, selection: selection)
            let model: Model
            if let cached = subModels[ratio] {
                model = cached
            } else {
                model = try ModelZoo.make(configuration.model, inputShape: inputShape, classes: workingModel.classCount,
                                          seed: configuration.seed, context: context, widthRatio: ratio)
                subModels[ratio] = model
            }
            try model.update(parameters: try map.extract(from: global.exported()))
            let trainer = Trainer(model: model, optimizer: optimizer)
            let loss = try localEpochs(model: model, shard: shard, generator: &generator) { try trainer.step(images: $0, labels: $1).loss }
            let tensors = try model.exportParameters().map { entry in
                TensorUpdate(key: entry.key, shape: entry.shape, values: entry.values, coverage: try map.indices(for: entry.key).map { .indices($0) })
            }
            return LocalResult(update: try PartialUpdate(deviceID: device, sampleCount: shard.count, tensors: tensors),
                               timeRatio: ratio * ratio, memoryRatio: ratio, meanLoss: loss)
        }
    }

    /// Local epochs over a shard in seeded random order; the last partial batch is dropped unless the shard is
    /// smaller than one batch (then it is one batch), so that every device uses the same few batch shapes.
    private func localEpochs(model: Model, shard: [Int], generator: inout SeededGenerator,
                             step: (Tensor, [Int32]) throws -> Double) throws -> Double {
        let batch = min(configuration.batchSize, shard.count)
        var order = shard
        var total = 0.0, steps = 0
        var labels = [Int32](repeating: 0, count: batch)
        let input = try Tensor(zeros: [batch] + model.inputShape, context: context)
        for _ in 0..<configuration.localEpochs {
            order.shuffle(using: &generator)
            for start in stride(from: 0, through: order.count - batch, by: batch) {
                input.withUnsafeMutableFloats { images in
                    labels.withUnsafeMutableBufferPointer {
                        data.train.writeBatch(indices: order[start..<start + batch], images: images.baseAddress!, labels: $0.baseAddress!)
                    }
                }
                total += try step(input, labels)
                steps += 1
            }
        }
        return steps == 0 ? 0 : total / Double(steps)
    }

    // MARK: Evaluation

    /// Evaluates the current global parameters on the test set.
    public func evaluateGlobal() throws -> EvaluationMetrics {
        let model = workingModel
        try model.update(parameters: global.exported())
        let phase: Phase
        switch configuration.batchNormEvaluation {
        case .aggregated: phase = .evaluation
        case .testBatch: phase = .training
        case .reestimated:
            try reestimateBatchNorm(model)
            phase = .evaluation
        }
        let test = data.test
        let loss = SoftmaxCrossEntropy(context: context)
        let batch = min(250, test.count)
        var correctPerClass = [Int](repeating: 0, count: test.classCount)
        var countPerClass = [Int](repeating: 0, count: test.classCount)
        var totalLoss = 0.0
        var predictions: [Int32] = []
        var start = 0
        while start < test.count {
            let size = min(batch, test.count - start)
            let input = try Tensor(zeros: [size] + model.inputShape, context: context)
            var labels = [Int32](repeating: 0, count: size)
            input.withUnsafeMutableFloats { images in
                labels.withUnsafeMutableBufferPointer { test.writeBatch(indices: start..<start + size, images: images.baseAddress!, labels: $0.baseAddress!) }
            }
            let logits = try model.forward(input, phase: phase)
            let result = try loss.evaluate(logits: logits, labels: labels, predictions: &predictions)
            totalLoss += result.loss * Double(size)
            for (label, prediction) in zip(labels, predictions) {
                countPerClass[Int(label)] += 1
                if label == prediction { correctPerClass[Int(label)] += 1 }
            }
            start += size
        }
        let perClass = zip(correctPerClass, countPerClass).map { $1 == 0 ? 0 : Double($0) / Double($1) }
        var perGroup: [String: Double] = [:]
        for (group, shares) in groupShares.enumerated() {
            perGroup[population.mix.groups[group].name] = zip(shares, perClass).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let accuracy = Double(correctPerClass.reduce(0, +)) / Double(max(1, test.count))
        return EvaluationMetrics(loss: totalLoss / Double(max(1, test.count)), accuracy: accuracy, perClassAccuracy: perClass,
                                 perGroupAccuracy: perGroup, groupGap: (perGroup.values.max() ?? 0) - (perGroup.values.min() ?? 0))
    }

    /// HeteroFL's static BN: running statistics recomputed as the exact cumulative average over 20 batches of
    /// training data (PyTorch's `momentum=None`: the weight of batch t is 1/(t+1)), not blended with old values.
    private func reestimateBatchNorm(_ model: Model) throws {
        let batchNorms = model.layers(of: BatchNorm2D.self)
        let momenta = batchNorms.map(\.momentum)
        defer { for (layer, momentum) in zip(batchNorms, momenta) { layer.momentum = momentum } }
        var generator = root.derived("bn-reestimate-\(completedRounds)")
        let batch = min(configuration.batchSize, data.train.count)
        let input = try Tensor(zeros: [batch] + model.inputShape, context: context)
        var labels = [Int32](repeating: 0, count: batch)
        for step in 0..<20 {
            for layer in batchNorms { layer.momentum = 1 / Float(step + 1) }
            let indices = (0..<batch).map { _ in Int.random(in: 0..<data.train.count, using: &generator) }
            input.withUnsafeMutableFloats { images in
                labels.withUnsafeMutableBufferPointer { data.train.writeBatch(indices: indices, images: images.baseAddress!, labels: $0.baseAddress!) }
            }
            _ = try model.forward(input, phase: .training)
        }
    }
}
