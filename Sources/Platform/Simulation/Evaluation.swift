import CoCoFLCore
import NN

/// Each device group's class distribution over its training data: the weights of per-group accuracy.
///
/// Per-group accuracy is Σ_c share_g(c)·accuracy(c), so a group is served well when the classes its devices hold
/// are recognised well. The simulation builds the shares from its partition, a stored run from its device table;
/// both go through this one initializer so that they agree to the bit.
public struct GroupClassShares: Equatable, Sendable {
    /// The group names in order (a group without devices is kept: its shares are all zero).
    public let groupNames: [String]
    /// `shares[group][class]`: the fraction of the group's training samples that belong to the class.
    public let shares: [[Double]]

    /// Sums the class histograms of each group's devices and normalises them.
    ///
    /// `groupOfDevice[d]` is device d's index into `groupNames`, `classHistograms[d]` its samples per class.
    public init(groupNames: [String], groupOfDevice: [Int], classHistograms: [[Int]], classCount: Int) throws {
        guard groupOfDevice.count == classHistograms.count else {
            throw SimulationError(
                "group shares need one group per device and one class histogram per device; got "
                    + "\(groupOfDevice.count) groups and \(classHistograms.count) histograms")
        }
        var histograms = [[Int]](repeating: [Int](repeating: 0, count: classCount), count: groupNames.count)
        for (device, (group, histogram)) in zip(groupOfDevice, classHistograms).enumerated() {
            guard groupNames.indices.contains(group) else {
                throw SimulationError(
                    "device \(device) is in group \(group), but there are \(groupNames.count) groups "
                        + "(\(groupNames.joined(separator: ", ")))")
            }
            guard histogram.count == classCount else {
                throw SimulationError(
                    "device \(device) has a class histogram of \(histogram.count) classes, the model has "
                        + "\(classCount); evaluate with a dataset of \(histogram.count) classes")
            }
            for (label, count) in histogram.enumerated() { histograms[group][label] += count }
        }
        self.groupNames = groupNames
        shares = histograms.map { histogram in
            let total = max(1, histogram.reduce(0, +))
            return histogram.map { Double($0) / Double(total) }
        }
    }

    /// Sums the class histograms of each group's devices, naming each device's group.
    public init(groupNames: [String], deviceGroups: [String], classHistograms: [[Int]], classCount: Int) throws {
        let index = Dictionary(groupNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let groups = try deviceGroups.enumerated().map { device, name in
            guard let group = index[name] else {
                throw SimulationError(
                    "device \(device) is in group '\(name)', which is not among the groups "
                        + groupNames.joined(separator: ", "))
            }
            return group
        }
        try self.init(groupNames: groupNames, groupOfDevice: groups, classHistograms: classHistograms,
                      classCount: classCount)
    }

    /// The number of classes.
    public var classCount: Int { shares.first?.count ?? 0 }
}

/// The server's evaluation of a model's parameters on a test set: loss, accuracy, per-class and per-group accuracy.
///
/// BatchNorm follows `BatchNormEvaluation`; with `.reestimated` the running statistics are first recomputed on
/// random training batches drawn with the generator given to `evaluate`, so a seeded generator makes the result
/// reproducible (the simulation and `cocofl evaluate` use `reestimationGenerator(root:round:)`).
public struct Evaluator {
    /// The model whose parameters are overwritten by each evaluation.
    public let model: Model
    /// The samples evaluated.
    public let test: Dataset
    /// The samples BatchNorm statistics are re-estimated on (`.reestimated` only).
    public let train: Dataset
    /// How BatchNorm behaves.
    public let batchNormEvaluation: BatchNormEvaluation
    /// The batch size of re-estimation (capped at the training set's size), the run's training batch size.
    public let batchSize: Int
    /// The weights of per-group accuracy.
    public let groupShares: GroupClassShares

    /// Test samples per forward pass: large enough to keep oneDNN busy, small enough for a few MB of activations.
    public static let testBatchSize = 250
    /// Training batches whose statistics are averaged by `.reestimated`.
    public static let reestimationSteps = 20

    /// Prepares evaluations of `model` on `data.test` (re-estimating on `data.train`); throws when the data does
    /// not fit the model or the group shares.
    public init(model: Model, data: DatasetSplit, batchNormEvaluation: BatchNormEvaluation, batchSize: Int,
                groupShares: GroupClassShares) throws {
        let sampleShape = [data.test.channels, data.test.height, data.test.width]
        guard sampleShape == model.inputShape, data.test.classCount == model.classCount else {
            throw SimulationError(
                "the test set '\(data.test.name)' has \(sampleShape.map(String.init).joined(separator: "×")) images "
                    + "of \(data.test.classCount) classes, but model \(model.name) takes "
                    + "\(model.inputShape.map(String.init).joined(separator: "×")) images of \(model.classCount) "
                    + "classes; evaluate on a dataset of that shape")
        }
        guard groupShares.groupNames.isEmpty || groupShares.classCount == model.classCount else {
            throw SimulationError(
                "the group shares have \(groupShares.classCount) classes, model \(model.name) has "
                    + "\(model.classCount); build them from class histograms of the model's classes")
        }
        guard batchSize >= 1 else { throw SimulationError("the re-estimation batch size must be at least 1, got \(batchSize)") }
        if batchNormEvaluation == .reestimated {
            let trainShape = [data.train.channels, data.train.height, data.train.width]
            guard data.train.count > 0, trainShape == model.inputShape else {
                throw SimulationError(
                    "BatchNorm re-estimation needs training images of the model's shape "
                        + "\(model.inputShape.map(String.init).joined(separator: "×")); the training set '\(data.train.name)' "
                        + "has \(data.train.count) of \(trainShape.map(String.init).joined(separator: "×")); "
                        + "use another BatchNorm evaluation mode or dataset")
            }
        }
        self.model = model
        test = data.test
        train = data.train
        self.batchNormEvaluation = batchNormEvaluation
        self.batchSize = batchSize
        self.groupShares = groupShares
    }

    /// The generator of the BatchNorm re-estimation after `round`, derived from the run's root generator.
    public static func reestimationGenerator(root: SeededGenerator, round: Int) -> SeededGenerator {
        root.derived("bn-reestimate-\(round)")
    }

    /// Evaluates `parameters` (every key of the model); `generator` drives `.reestimated` only.
    public func evaluate(_ parameters: ParameterSet, generator: SeededGenerator) throws -> EvaluationMetrics {
        try evaluate(parameters.exported(), generator: generator)
    }

    /// Evaluates `parameters` (every key of the model); `generator` drives `.reestimated` only.
    public func evaluate(_ parameters: [NamedArray], generator: SeededGenerator) throws -> EvaluationMetrics {
        combine([try evaluatePart(parameters, generator: generator, share: .whole)])
    }

    /// Which test batches one process evaluates: batch b when b mod `count` is `index` (MPI ranks split the test set).
    public struct Share: Sendable, Equatable {
        public var index: Int
        public var count: Int
        public init(index: Int, count: Int) {
            self.index = index
            self.count = count
        }
        /// Every batch.
        public static let whole = Share(index: 0, count: 1)
    }

    /// The sums of one share of the test batches: what `combine` turns into metrics.
    public struct Part: Sendable, Equatable {
        /// Per evaluated batch (by its index), the batch's mean loss times its size.
        public var batchLosses: [Int: Double]
        public var correctPerClass: [Int]
        public var countPerClass: [Int]

        public init(batchLosses: [Int: Double], correctPerClass: [Int], countPerClass: [Int]) {
            self.batchLosses = batchLosses
            self.correctPerClass = correctPerClass
            self.countPerClass = countPerClass
        }
    }

    /// Evaluates the test batches of `share` (BatchNorm first re-estimated in full, as every share must see the same
    /// statistics): their losses and per-class counts.
    public func evaluatePart(_ parameters: [NamedArray], generator: SeededGenerator, share: Share) throws -> Part {
        try model.update(parameters: parameters)
        let phase: Phase
        switch batchNormEvaluation {
        case .aggregated: phase = .evaluation
        case .testBatch: phase = .training
        case .reestimated:
            var generator = generator
            try reestimateBatchNorm(generator: &generator)
            phase = .evaluation
        }
        let context = model.context
        let loss = SoftmaxCrossEntropy(context: context)
        let batch = min(Self.testBatchSize, test.count)
        var part = Part(batchLosses: [:], correctPerClass: [Int](repeating: 0, count: test.classCount),
                        countPerClass: [Int](repeating: 0, count: test.classCount))
        var predictions: [Int32] = []
        var start = 0, index = 0
        while start < test.count {
            let size = min(batch, test.count - start)
            defer { (start, index) = (start + size, index + 1) }
            guard index % share.count == share.index else { continue }
            let input = try Tensor(zeros: [size] + model.inputShape, context: context)
            var labels = [Int32](repeating: 0, count: size)
            input.withUnsafeMutableFloats { images in
                labels.withUnsafeMutableBufferPointer {
                    test.writeBatch(indices: start..<start + size, images: images.baseAddress!, labels: $0.baseAddress!)
                }
            }
            let logits = try model.forward(input, phase: phase)
            let result = try loss.evaluate(logits: logits, labels: labels, predictions: &predictions)
            part.batchLosses[index] = result.loss * Double(size)
            for (label, prediction) in zip(labels, predictions) {
                part.countPerClass[Int(label)] += 1
                if label == prediction { part.correctPerClass[Int(label)] += 1 }
            }
        }
        return part
    }

    /// The metrics of the shares' parts together; the loss summed in batch order, as one process sums it.
    public func combine(_ parts: [Part]) -> EvaluationMetrics {
        var correctPerClass = [Int](repeating: 0, count: test.classCount)
        var countPerClass = [Int](repeating: 0, count: test.classCount)
        var batchLosses: [Int: Double] = [:]
        for part in parts {
            for c in 0..<test.classCount {
                correctPerClass[c] += part.correctPerClass[c]
                countPerClass[c] += part.countPerClass[c]
            }
            batchLosses.merge(part.batchLosses) { first, _ in first }
        }
        var totalLoss = 0.0
        for index in batchLosses.keys.sorted() { totalLoss += batchLosses[index]! }
        let perClass = zip(correctPerClass, countPerClass).map { $1 == 0 ? 0 : Double($0) / Double($1) }
        var perGroup: [String: Double] = [:]
        for (name, shares) in zip(groupShares.groupNames, groupShares.shares) {
            perGroup[name] = zip(shares, perClass).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let accuracy = Double(correctPerClass.reduce(0, +)) / Double(max(1, test.count))
        return EvaluationMetrics(loss: totalLoss / Double(max(1, test.count)), accuracy: accuracy, perClassAccuracy: perClass,
                                 perGroupAccuracy: perGroup, groupGap: (perGroup.values.max() ?? 0) - (perGroup.values.min() ?? 0))
    }

    /// HeteroFL's static BN: running statistics recomputed as the exact cumulative average over 20 batches of
    /// training data (PyTorch's `momentum=None`: the weight of batch t is 1/(t+1)), not blended with old values.
    private func reestimateBatchNorm(generator: inout SeededGenerator) throws {
        let batchNorms = model.layers(of: BatchNorm2D.self)
        let momenta = batchNorms.map(\.momentum)
        defer { for (layer, momentum) in zip(batchNorms, momenta) { layer.momentum = momentum } }
        let batch = min(batchSize, train.count)
        let input = try Tensor(zeros: [batch] + model.inputShape, context: model.context)
        var labels = [Int32](repeating: 0, count: batch)
        for step in 0..<Self.reestimationSteps {
            for layer in batchNorms { layer.momentum = 1 / Float(step + 1) }
            let indices = (0..<batch).map { _ in Int.random(in: 0..<train.count, using: &generator) }
            input.withUnsafeMutableFloats { images in
                labels.withUnsafeMutableBufferPointer { train.writeBatch(indices: indices, images: images.baseAddress!, labels: $0.baseAddress!) }
            }
            _ = try model.forward(input, phase: .training)
        }
    }
}
