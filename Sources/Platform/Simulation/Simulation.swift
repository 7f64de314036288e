import CoCoFLCore
import CKernels
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
    private let localTraining: LocalTrainingHost
    private let root: SeededGenerator
    private var sampling: SeededGenerator
    private var limitsGenerator: SeededGenerator
    private let groupShares: GroupClassShares

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
            guard profile.contents.isSuperset(of: entry.profile) else {
                throw SimulationError("the given profile of \(profile.model) lacks the "
                                      + (entry.profile.subtracting(profile.contents).contains(.windows) ? "window" : "sub-model")
                                      + " costs strategy '\(entry.id)' reads; profile it again (cocofl profile measures both)")
            }
            self.profile = profile
        } else if !entry.usesProfile {
            // The strategy never reads the cost table: a table without windows, nothing measured.
            self.profile = ModelProfile(model: configuration.model, inputShape: inputShape, classes: split.train.classCount,
                                        batch: configuration.batchSize, repeats: 0, unitNames: workingModel.units.map(\.name), windows: [])
        } else {
            progress("profiling \(configuration.model) \(inputShape) batch \(configuration.batchSize) on this machine…")
            self.profile = try Profiler(modelName: configuration.model, inputShape: inputShape, classes: split.train.classCount,
                                        batch: configuration.batchSize, repeats: configuration.profileRepeats).run(needs: entry.profile)
        }
        localTraining = LocalTrainingHost(configuration: configuration, data: split, context: context, workingModel: workingModel,
                                          profile: self.profile)
        strategy = try entry.instantiate(
            options: configuration.strategyOptions,
            environment: StrategyEnvironment(modelName: configuration.model, unitCount: workingModel.units.count, profile: self.profile))
        // Each group's class distribution, for per-group accuracy.
        groupShares = try GroupClassShares(groupNames: population.mix.groups.map(\.name), groupOfDevice: population.groupOfDevice,
                                           classHistograms: partition.classHistograms, classCount: split.train.classCount)
    }

    /// Everything besides the global parameters that the next round depends on: the rounds done and the
    /// positions of the two generators that persist across rounds (device sampling, per-round limit draws).
    /// Every other random stream is derived from the seed and the round number, so these fully determine the rest.
    public struct ResumeState: Sendable, Equatable {
        public var completedRounds: Int
        public var samplingState: UInt64
        public var limitsState: UInt64

        public init(completedRounds: Int, samplingState: UInt64, limitsState: UInt64) {
            self.completedRounds = completedRounds
            self.samplingState = samplingState
            self.limitsState = limitsState
        }
    }

    /// The state after the last completed round; with `global` it is what a checkpoint must hold to resume.
    public var resumeState: ResumeState {
        ResumeState(completedRounds: completedRounds, samplingState: sampling.state, limitsState: limitsGenerator.state)
    }

    /// Continues from a checkpoint: the global parameters (checked key by key against the model) and the state
    /// saved with them. The next `runRound()` is then exactly the round an uninterrupted run would have run.
    public func restore(parameters: [NamedArray], state: ResumeState) throws {
        guard state.completedRounds >= 0, state.completedRounds <= configuration.rounds else {
            throw SimulationError("the checkpoint is after round \(state.completedRounds), outside 0…\(configuration.rounds) of this run; restart the run")
        }
        try workingModel.update(parameters: parameters, verify: true)
        global = try ParameterSet(parameters)
        completedRounds = state.completedRounds
        sampling.state = state.samplingState
        limitsGenerator.state = state.limitsState
    }

    /// Runs the remaining rounds, calling `observer` after each; throws `RunInterrupted` when `stopRequested`
    /// asks to stop (between rounds, after the observer has seen the last completed one, or within a round).
    public func run(observer: (RoundMetrics) throws -> Void) throws {
        while completedRounds < configuration.rounds {
            try observer(try runRound())
            if completedRounds < configuration.rounds, let stopRequested, stopRequested() {
                throw RunInterrupted(completedRounds: completedRounds)
            }
        }
    }

    /// The `skipped` reason counting the round's empty places when fewer devices than `per_round` are eligible.
    public static let tooFewEligibleReason = "fewer eligible devices than per_round"

    /// Trains each round's devices: here, one after another (the default), or shared among MPI ranks.
    public var executor: any DeviceExecutor = LocalDeviceExecutor()

    /// Asked before each device trains; when it returns true the round is abandoned (nothing of it is kept: the
    /// global model, the rounds done and the generators stay as after the last completed round) and `runRound`
    /// throws `RunInterrupted`. Set by hosts that stop on SIGINT/SIGTERM.
    public var stopRequested: (() -> Bool)?

    /// Runs the next round. A round is all or nothing: it changes the simulation's state only when it completes.
    public func runRound() throws -> RoundMetrics {
        let start = DispatchTime.now().uptimeNanoseconds
        let round = completedRounds + 1
        let learningRate = configuration.learningRate(round: round)
        let sampler = try DeviceSampler(perRound: configuration.perRound, deviceCount: configuration.devices)
        var sampling = self.sampling, limitsGenerator = self.limitsGenerator
        // The limits come from their own generator, so drawing them before sampling changes no random stream.
        let limits = population.drawLimits(using: &limitsGenerator)
        func deviceRound(_ device: Int) -> DeviceRound {
            DeviceRound(deviceID: device, groupName: population.group(ofDevice: device).name, limits: limits[device],
                        round: round, sampleCount: partition.sampleIndices[device].count)
        }
        let eligible = try (0..<configuration.devices).filter { try strategy.isEligible(deviceRound($0)) }
        let sampled = sampler.sample(from: eligible, using: &sampling)
        var updates: [PartialUpdate] = []
        var skipped: [String: Int] = [:]
        if sampled.count < sampler.perRound { skipped[Self.tooFewEligibleReason] = sampler.perRound - sampled.count }
        var uploadBytes = 0, timeRatios: [Double] = [], memoryRatios: [Double] = [], losses: [Double] = []
        var droppedNonFinite = 0
        let outcomes = try executor.outcomes(count: sampled.count) { position in
            let device = sampled[position]
            if executor.stopsWithinRounds, let stopRequested, stopRequested() { throw RunInterrupted(completedRounds: completedRounds) }
            var generator = root.derived("device-\(device)-round-\(round)")
            let trainer = DeviceTrainer(host: localTraining, global: self.global, device: device,
                                        shard: partition.sampleIndices[device], learningRate: learningRate)
            do {
                return try strategy.train(deviceRound(device), with: trainer, generator: &generator)
            } catch is DeviceTrainer.NoLocalData {
                return .skipped(reason: DeviceTrainer.NoLocalData.reason)
            }
        }
        for outcome in outcomes {
            guard case .trained(let result) = outcome else {
                if case .skipped(let reason) = outcome { skipped[reason, default: 0] += 1 }
                continue
            }
            // One diverged device must not poison the global model: its update is dropped and counted.
            guard result.update.tensors.values.allSatisfy({ allFinite($0.values) }) else {
                droppedNonFinite += 1
                continue
            }
            updates.append(result.update)
            uploadBytes += result.update.tensors.values.reduce(0) { $0 + $1.values.count * 4 }
            timeRatios.append(result.timeRatio)
            memoryRatios.append(result.memoryRatio)
            losses.append(result.meanLoss)
        }
        if updates.isEmpty, droppedNonFinite > 0 {
            throw SimulationError("round \(round): every update (\(droppedNonFinite) of \(droppedNonFinite)) held NaN or infinite values, "
                                  + "so local training diverges at learning rate \(learningRate); lower run.lr (or momentum) and restart the run")
        }
        var global = self.global
        if !updates.isEmpty {
            global = try strategy.aggregate(global: global, updates: updates, participantCount: updates.count)
            if let bad = global.exported().first(where: { !allFinite($0.values) }) {
                throw SimulationError("round \(round): the aggregated global model is not finite ('\(bad.key)' holds NaN or infinite values) "
                                      + "at learning rate \(learningRate); lower run.lr (or momentum) and restart the run")
            }
        }
        self.global = global
        self.sampling = sampling
        self.limitsGenerator = limitsGenerator
        completedRounds = round
        let evaluate = round % configuration.evaluationInterval == 0 || round == configuration.rounds
        let evaluation = evaluate ? try evaluateGlobal() : nil
        func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
        return RoundMetrics(round: round, learningRate: learningRate, participants: updates.count, skipped: skipped, droppedNonFinite: droppedNonFinite,
                            uploadBytes: uploadBytes, meanDeviceTimeRatio: mean(timeRatios), meanDeviceMemoryRatio: mean(memoryRatios),
                            trainingLoss: mean(losses), seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                            evaluation: evaluation)
    }

    // MARK: Evaluation

    /// Evaluates the current global parameters on the test set.
    public func evaluateGlobal() throws -> EvaluationMetrics {
        let evaluator = try Evaluator(model: workingModel, data: data, batchNormEvaluation: configuration.batchNormEvaluation,
                                      batchSize: configuration.batchSize, groupShares: groupShares)
        let parameters = global.exported()
        let generator = Evaluator.reestimationGenerator(root: root, round: completedRounds)
        // One process evaluates every test batch; MPI ranks split them and exchange the sums.
        let parts = try executor.evaluationParts { share in
            try evaluator.evaluatePart(parameters, generator: generator, share: share)
        }
        return evaluator.combine(parts)
    }
}

/// Thrown by `Simulation.runRound` when `stopRequested` asked it to stop; the simulation is still at the end of
/// round `completedRounds`.
public struct RunInterrupted: Error, CustomStringConvertible {
    public let completedRounds: Int
    public var description: String { "interrupted after round \(completedRounds)" }
    public init(completedRounds: Int) { self.completedRounds = completedRounds }
}

/// Whether every value is finite (not NaN, not ±infinity).
func allFinite(_ values: [Float]) -> Bool {
    values.withUnsafeBufferPointer { ck_all_finite($0.baseAddress, $0.count) != 0 }
}

/// A run that cannot start or continue (its data, its model, its checkpoint or its numbers), with what to change.
public struct SimulationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
