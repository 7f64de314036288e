import Foundation
import NN

/// How BatchNorm behaves when the server evaluates the global model (averaged running statistics are unreliable
/// under label skew, so this is a choice).
public enum BatchNormEvaluation: String, Codable, Sendable, CaseIterable {
    /// The aggregated running statistics.
    case aggregated
    /// Each test batch's own statistics (what the CoCoFL reference implementation does).
    case testBatch = "test-batch"
    /// Statistics re-estimated on training data of the devices before each evaluation (HeteroFL's static BN).
    case reestimated
}

/// Everything that defines one run: the configuration schema.
///
/// Each field has exactly one key (`RunConfiguration.Key`, snake_case): the key of a campaign's `[run]` table (or,
/// for the grid's fields, the singular of its `[grid]` list), the key of the JSON every run stores, and — through
/// one mapping in the command-line tool, the key with dashes — the option of `cocofl run`. Each has one default (the property's
/// initial value: the reference's setting unless noted) and one validation (`validate()`), whose errors name the
/// key. Fields are set from outside through `set(_:to:)`, so that a campaign file, the command line and a test
/// assemble a configuration the same way.
public struct RunConfiguration: Sendable, Equatable {
    /// `strategy`: the strategy id.
    public var strategy = ""
    /// `strategy_options`: the strategy's options (`key = value`); unknown ones are errors.
    public var strategyOptions: [String: String] = [:]
    /// `dataset`: the dataset name.
    public var dataset = "fashion-mnist"
    /// `data_dir`: the dataset's directory (or file); nil: the dataset's usual place.
    public var dataDirectory: String?
    /// `model`: the model zoo name.
    public var model = "resnet8"
    /// `rounds`: federated rounds.
    public var rounds = 1000
    /// `devices`: simulated devices.
    public var devices = 100
    /// `per_round`: devices sampled each round.
    public var perRound = 10
    /// `partition`: how the training set is split over the devices (one of `PartitionScheme.names`).
    public var partitionName = "dirichlet"
    /// `alpha`: the Dirichlet concentration of the label skew (for the partitions that draw one).
    public var alpha = 0.1
    /// `mix`: the device groups (campaign files name a built-in or a `[mixes.NAME]` table).
    public var mix: DeviceMix = .reference
    /// `seed`: the seed of every random choice of the run.
    public var seed: UInt64 = 1
    /// `local_epochs`: epochs over its shard a device trains each round.
    public var localEpochs = 1
    /// `batch`: the batch size of local training, profiling and evaluation.
    public var batchSize = 32
    /// `lr`: the SGD learning rate.
    public var learningRate = 0.1
    /// `lr_milestones`: rounds after which the learning rate is divided by 10. When the key is not given it is
    /// 60 % and 80 % of `rounds` (the reference: 600 and 800 of 1000), filled in by `resolveDefaults(given:)`.
    public var learningRateMilestones: [Int] = [600, 800]
    /// `weight_decay`: SGD weight decay.
    public var weightDecay = 1e-3
    /// `momentum`: SGD momentum (the reference: none).
    public var momentum = 0.0
    /// `eval_every`: evaluate every k rounds (and always after the last round).
    public var evaluationInterval = 1
    /// `bn_eval`: BatchNorm at evaluation.
    public var batchNormEvaluation: BatchNormEvaluation = .aggregated
    /// `train_subset`: use only the first n training samples (quick runs and tests); nil: all.
    public var trainSubset: Int?
    /// `test_subset`: use only the first n test samples; nil: all.
    public var testSubset: Int?
    /// `profile_repeats`: timed steps per window when the profile is measured for the run.
    public var profileRepeats = 3
    /// `checkpoint_every`: write a checkpoint every k rounds (and after the last). It does not change results, so
    /// a run may be resumed with another value (`sameResults(as:)`).
    public var checkpointInterval = 10

    /// The reference configuration with strategy `strategy`.
    public init(strategy: String = "") { self.strategy = strategy }

    /// The partition scheme of `partition` and `alpha`.
    public var partition: PartitionScheme {
        PartitionScheme.named(partitionName, alpha: alpha) ?? .dirichlet(alpha: alpha, shardSizes: .equal)
    }

    /// The reference's milestones (60 % and 80 % of the rounds) scaled to `rounds`; those that would fall before
    /// the first round are left out, so a short run trains at the configured rate instead of a tenth of it.
    public static func defaultMilestones(rounds: Int) -> [Int] {
        [rounds * 6 / 10, rounds * 8 / 10].filter { $0 >= 1 }
    }

    /// The learning rate of a 1-based round.
    public func learningRate(round: Int) -> Double {
        // lr · 10^−drops, with 10^−drops computed as 1/10/10…: the order the stored results were written with.
        let drops = learningRateMilestones.filter { round > $0 }.count
        return learningRate * (0..<drops).reduce(1.0) { factor, _ in factor / 10 }
    }

    /// Whether two configurations give the same results: equal but for `checkpoint_every`.
    public func sameResults(as other: RunConfiguration) -> Bool {
        var other = other
        other.checkpointInterval = checkpointInterval
        return self == other
    }
}

// MARK: - Keys

extension RunConfiguration {
    /// The key of each field. The raw value is the key in campaign files and stored JSON.
    public enum Key: String, CaseIterable, CodingKey, Sendable {
        case strategy, strategyOptions = "strategy_options", dataset, dataDirectory = "data_dir", model, rounds,
            devices, perRound = "per_round", partition, alpha, mix, seed, localEpochs = "local_epochs", batch,
            lr, lrMilestones = "lr_milestones", weightDecay = "weight_decay", momentum, evalEvery = "eval_every",
            bnEval = "bn_eval", trainSubset = "train_subset", testSubset = "test_subset",
            profileRepeats = "profile_repeats", checkpointEvery = "checkpoint_every"

        /// The key as written in files.
        public var name: String { rawValue }

        /// The key of a campaign's `[grid]` list that sets this field for each run, if it is one of the grid's.
        public var gridList: String? {
            switch self {
            case .strategy: "strategies"
            case .dataset: "datasets"
            case .model: "models"
            case .alpha: "alphas"
            case .seed: "seeds"
            case .mix: "mixes"
            default: nil
            }
        }

        /// The kind of value the key takes.
        public var valueKind: ValueKind {
            switch self {
            case .strategy, .dataset, .dataDirectory, .model, .partition, .bnEval: .text
            case .strategyOptions: .options
            case .mix: .mix
            case .alpha, .lr, .weightDecay, .momentum: .number
            case .lrMilestones: .integers
            case .rounds, .devices, .perRound, .seed, .localEpochs, .batch, .evalEvery, .trainSubset, .testSubset,
                .profileRepeats, .checkpointEvery: .integer
            }
        }

        /// A typical value as written in a campaign file, for messages.
        public var example: String {
            switch self {
            case .strategy: "\"cocofl\""
            case .strategyOptions: "{ weighting = \"uniform\" }"
            case .dataset: "\"fashion-mnist\""
            case .dataDirectory: "\"/data/cifar10\""
            case .model: "\"resnet8\""
            case .rounds: "40"
            case .devices: "100"
            case .perRound: "10"
            case .partition: "\"dirichlet\""
            case .alpha: "0.1"
            case .mix: "\"reference\""
            case .seed: "1"
            case .localEpochs: "1"
            case .batch: "32"
            case .lr: "0.1"
            case .lrMilestones: "[24, 32]"
            case .weightDecay: "1e-3"
            case .momentum: "0.9"
            case .evalEvery: "5"
            case .bnEval: "\"reestimated\""
            case .trainSubset: "2000"
            case .testSubset: "1000"
            case .profileRepeats: "3"
            case .checkpointEvery: "10"
            }
        }

        /// One line for help texts and docs/parameters of the schema.
        public var summary: String {
            switch self {
            case .strategy: "strategy id (cocofl strategies lists them)"
            case .strategyOptions: "the strategy's options, KEY=VALUE"
            case .dataset: "dataset: fashion-mnist, mnist, fashion-mnist-3x32x32, mnist-3x32x32, cifar10, cifar100, femnist, hdf5"
            case .dataDirectory: "directory of the dataset's files (for hdf5: the .h5 file)"
            case .model: "model: " + ModelZoo.names.joined(separator: ", ")
            case .rounds: "federated rounds"
            case .devices: "simulated devices"
            case .perRound: "devices sampled each round"
            case .partition: "partition: " + PartitionScheme.names.joined(separator: ", ")
            case .alpha: "Dirichlet concentration α of the label skew"
            case .mix: "device groups: reference, homogeneous (campaign files may define more under [mixes])"
            case .seed: "seed of every random choice of the run"
            case .localEpochs: "local epochs per round"
            case .batch: "batch size"
            case .lr: "SGD learning rate"
            case .lrMilestones: "rounds after which the learning rate is divided by 10"
            case .weightDecay: "SGD weight decay"
            case .momentum: "SGD momentum, in [0, 1)"
            case .evalEvery: "evaluate every k rounds (and after the last)"
            case .bnEval: "BatchNorm at evaluation: " + BatchNormEvaluation.allCases.map(\.rawValue).joined(separator: ", ")
            case .trainSubset: "use only the first n training samples (quick runs)"
            case .testSubset: "use only the first n test samples (quick runs)"
            case .profileRepeats: "timed steps per window when the profile is measured"
            case .checkpointEvery: "write a checkpoint every k rounds (and after the last)"
            }
        }
    }

    /// The kinds of value keys take.
    public enum ValueKind: Sendable {
        case integer, number, text, integers, options, mix
    }

    /// A value for one key, as a campaign file, the command line or a stored file gives it.
    public enum Value: Sendable, Equatable {
        case integer(Int)
        case number(Double)
        case text(String)
        case integers([Int])
        case options([String: String])
        case mix(DeviceMix)

        /// What the value is, for messages.
        var description: String {
            switch self {
            case .integer(let value): "the integer \(value)"
            case .number(let value): "the number \(value)"
            case .text(let value): "the string \"\(value)\""
            case .integers(let values): "the list \(values)"
            case .options: "a table of options"
            case .mix: "a device mix"
            }
        }
    }

    /// Sets the field of `key`; throws a `ConfigurationError` naming the key when the value has the wrong type or
    /// is not one of the key's choices. Ranges are checked by `validate()`, once everything is set.
    public mutating func set(_ key: Key, to value: Value) throws {
        func integer() throws -> Int {
            guard case .integer(let number) = value else { throw wrongType("an integer") }
            return number
        }
        func number() throws -> Double {
            switch value {
            case .number(let number): return number
            case .integer(let number): return Double(number)
            default: throw wrongType("a number")
            }
        }
        func text() throws -> String {
            guard case .text(let text) = value else { throw wrongType("a string") }
            return text
        }
        func wrongType(_ expected: String) -> ConfigurationError {
            ConfigurationError(key, "must be \(expected), not \(value.description)")
        }
        switch key {
        case .strategy: strategy = try text()
        case .strategyOptions:
            guard case .options(let options) = value else { throw wrongType("a table of options") }
            strategyOptions = options
        case .dataset: dataset = try text()
        case .dataDirectory: dataDirectory = try text()
        case .model: model = try text()
        case .rounds: rounds = try integer()
        case .devices: devices = try integer()
        case .perRound: perRound = try integer()
        case .partition:
            let name = try text()
            guard PartitionScheme.names.contains(name) else {
                throw ConfigurationError(key, "is '\(name)', which is not a partition" + didYouMean(name, PartitionScheme.names)
                                         + "; use one of " + PartitionScheme.names.joined(separator: ", "))
            }
            partitionName = name
        case .alpha: alpha = try number()
        case .mix:
            guard case .mix(let mix) = value else { throw wrongType("a device mix") }
            self.mix = mix
        case .seed:
            let number = try integer()
            guard number >= 0 else { throw ConfigurationError(key, "is \(number) but must be 0 or more") }
            seed = UInt64(number)
        case .localEpochs: localEpochs = try integer()
        case .batch: batchSize = try integer()
        case .lr: learningRate = try number()
        case .lrMilestones:
            switch value {
            case .integers(let rounds): learningRateMilestones = rounds
            case .integer(let round): learningRateMilestones = [round]
            default: throw wrongType("a list of round numbers")
            }
        case .weightDecay: weightDecay = try number()
        case .momentum: momentum = try number()
        case .evalEvery: evaluationInterval = try integer()
        case .bnEval:
            let name = try text()
            let names = BatchNormEvaluation.allCases.map(\.rawValue)
            guard let mode = BatchNormEvaluation(rawValue: name) else {
                throw ConfigurationError(key, "is '\(name)', which is not a BatchNorm evaluation" + didYouMean(name, names)
                                         + "; use one of " + names.joined(separator: ", "))
            }
            batchNormEvaluation = mode
        case .trainSubset: trainSubset = try integer()
        case .testSubset: testSubset = try integer()
        case .profileRepeats: profileRepeats = try integer()
        case .checkpointEvery: checkpointInterval = try integer()
        }
    }

    /// Fills the defaults that depend on other keys, for the keys not in `given`: `lr_milestones` from `rounds`.
    public mutating func resolveDefaults(given: Set<Key>) {
        if !given.contains(.lrMilestones) { learningRateMilestones = Self.defaultMilestones(rounds: rounds) }
    }

    /// The configuration of `values` set in order over the defaults, with the dependent defaults resolved and
    /// validated: how a campaign file, the command line and tests build one.
    public static func assemble(_ values: [(Key, Value)]) throws -> RunConfiguration {
        var configuration = RunConfiguration()
        for (key, value) in values { try configuration.set(key, to: value) }
        configuration.resolveDefaults(given: Set(values.map(\.0)))
        try configuration.validate()
        return configuration
    }

    /// Checks every range, naming the key and the fix.
    public func validate() throws {
        func require(_ condition: Bool, _ key: Key, _ problem: @autoclosure () -> String) throws {
            if !condition { throw ConfigurationError(key, problem()) }
        }
        try require(!strategy.isEmpty, .strategy, "is empty; name a strategy (cocofl strategies lists them)")
        try require(!dataset.isEmpty, .dataset, "is empty; name a dataset such as fashion-mnist")
        try require(ModelZoo.names.contains(model), .model, "is '\(model)', which is not a model" + didYouMean(model, ModelZoo.names)
                    + "; use one of " + ModelZoo.names.joined(separator: ", "))
        try require(dataDirectory.map { !$0.isEmpty } ?? true, .dataDirectory,
                    "is empty; give the dataset's directory (or .h5 file), or leave it out for the usual place")
        try require(rounds >= 1, .rounds, "is \(rounds) but must be at least 1")
        try require(devices >= 1, .devices, "is \(devices) but must be at least 1")
        try require(perRound >= 1 && perRound <= devices, .perRound,
                    "is \(perRound) but must be between 1 and {devices} (\(devices)); sample at most as many devices as there are")
        try require(PartitionScheme.names.contains(partitionName), .partition,
                    "is '\(partitionName)'; use one of " + PartitionScheme.names.joined(separator: ", "))
        try require(alpha.isFinite && alpha > 0, .alpha,
                    "is \(alpha) but a Dirichlet concentration must be positive; use e.g. 0.1 (strong label skew) or 100 (nearly IID)")
        try require(localEpochs >= 1, .localEpochs, "is \(localEpochs) but must be at least 1")
        try require(batchSize >= 1, .batch, "is \(batchSize) but must be at least 1")
        try require(learningRate.isFinite && learningRate > 0, .lr, "is \(learningRate) but must be positive; e.g. 0.1")
        try require(learningRateMilestones.allSatisfy { $0 >= 1 }, .lrMilestones,
                    "is \(learningRateMilestones) but its rounds (after which the learning rate drops) must be at least 1")
        try require(weightDecay.isFinite && weightDecay >= 0, .weightDecay, "is \(weightDecay) but must be 0 or more; e.g. 1e-3")
        try require(momentum >= 0 && momentum < 1, .momentum, "is \(momentum) but must be in [0, 1); 0 is plain SGD")
        try require(evaluationInterval >= 1, .evalEvery, "is \(evaluationInterval) but must be at least 1")
        try require(trainSubset.map { $0 >= 1 } ?? true, .trainSubset, "is \(trainSubset ?? 0) but must be at least 1")
        try require(testSubset.map { $0 >= 1 } ?? true, .testSubset, "is \(testSubset ?? 0) but must be at least 1")
        try require(profileRepeats >= 1, .profileRepeats, "is \(profileRepeats) but must be at least 1")
        try require(checkpointInterval >= 1, .checkpointEvery, "is \(checkpointInterval) but must be at least 1")
        do {
            _ = try mix.deviceCounts(deviceCount: devices)
        } catch {
            throw ConfigurationError(.mix, "cannot be used with {devices} = \(devices): \(error)")
        }
    }

    private func didYouMean(_ word: String, _ candidates: [String]) -> String {
        Suggestion.didYouMean(word, among: candidates)
    }
}

// MARK: - Stored JSON

extension RunConfiguration: Codable {
    /// Decodes the stored JSON: every key optional, a missing one takes its default (`lr_milestones` from
    /// `rounds`). Callers validate.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        self.init()
        var given: Set<Key> = []
        func read<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
            guard let value = try container.decodeIfPresent(type, forKey: key) else { return nil }
            given.insert(key)
            return value
        }
        strategy = try read(String.self, .strategy) ?? strategy
        strategyOptions = try read([String: String].self, .strategyOptions) ?? strategyOptions
        dataset = try read(String.self, .dataset) ?? dataset
        dataDirectory = try read(String.self, .dataDirectory)
        model = try read(String.self, .model) ?? model
        rounds = try read(Int.self, .rounds) ?? rounds
        devices = try read(Int.self, .devices) ?? devices
        perRound = try read(Int.self, .perRound) ?? perRound
        partitionName = try read(String.self, .partition) ?? partitionName
        alpha = try read(Double.self, .alpha) ?? alpha
        mix = try read(DeviceMix.self, .mix) ?? mix
        seed = try read(UInt64.self, .seed) ?? seed
        localEpochs = try read(Int.self, .localEpochs) ?? localEpochs
        batchSize = try read(Int.self, .batch) ?? batchSize
        learningRate = try read(Double.self, .lr) ?? learningRate
        learningRateMilestones = try read([Int].self, .lrMilestones) ?? learningRateMilestones
        weightDecay = try read(Double.self, .weightDecay) ?? weightDecay
        momentum = try read(Double.self, .momentum) ?? momentum
        evaluationInterval = try read(Int.self, .evalEvery) ?? evaluationInterval
        batchNormEvaluation = try read(BatchNormEvaluation.self, .bnEval) ?? batchNormEvaluation
        trainSubset = try read(Int.self, .trainSubset)
        testSubset = try read(Int.self, .testSubset)
        profileRepeats = try read(Int.self, .profileRepeats) ?? profileRepeats
        checkpointInterval = try read(Int.self, .checkpointEvery) ?? checkpointInterval
        resolveDefaults(given: given)
    }

    /// Encodes every key (optional ones only when set), so a stored run carries its full resolved configuration.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(strategy, forKey: .strategy)
        try container.encode(strategyOptions, forKey: .strategyOptions)
        try container.encode(dataset, forKey: .dataset)
        try container.encodeIfPresent(dataDirectory, forKey: .dataDirectory)
        try container.encode(model, forKey: .model)
        try container.encode(rounds, forKey: .rounds)
        try container.encode(devices, forKey: .devices)
        try container.encode(perRound, forKey: .perRound)
        try container.encode(partitionName, forKey: .partition)
        try container.encode(alpha, forKey: .alpha)
        try container.encode(mix, forKey: .mix)
        try container.encode(seed, forKey: .seed)
        try container.encode(localEpochs, forKey: .localEpochs)
        try container.encode(batchSize, forKey: .batch)
        try container.encode(learningRate, forKey: .lr)
        try container.encode(learningRateMilestones, forKey: .lrMilestones)
        try container.encode(weightDecay, forKey: .weightDecay)
        try container.encode(momentum, forKey: .momentum)
        try container.encode(evaluationInterval, forKey: .evalEvery)
        try container.encode(batchNormEvaluation, forKey: .bnEval)
        try container.encodeIfPresent(trainSubset, forKey: .trainSubset)
        try container.encodeIfPresent(testSubset, forKey: .testSubset)
        try container.encode(profileRepeats, forKey: .profileRepeats)
        try container.encode(checkpointInterval, forKey: .checkpointEvery)
    }
}

/// A configuration value that cannot be used, naming its key. `problem` is the rest of the sentence after the key
/// ("is 0 but must be at least 1"); other keys in it are written `{key}`, so that each surface names keys its own
/// way: `description` as keys (`per_round`), a campaign file as table paths (`run.per_round`), the command line as
/// its options.
public struct ConfigurationError: Error, CustomStringConvertible, LocalizedError {
    /// The key at fault.
    public let key: RunConfiguration.Key
    /// What is wrong and how to fix it, after the key; other keys as `{key}`.
    public let problem: String

    /// An error about `key`.
    public init(_ key: RunConfiguration.Key, _ problem: String) {
        self.key = key
        self.problem = problem
    }

    /// The message with every key written by `name`.
    public func message(naming name: (RunConfiguration.Key) -> String) -> String {
        var text = problem
        for other in RunConfiguration.Key.allCases {
            text = text.replacingOccurrences(of: "{\(other.rawValue)}", with: name(other))
        }
        return name(key) + " " + text
    }

    /// The message naming keys as they are written in files.
    public var description: String { message { $0.rawValue } }

    /// The message, for Foundation.
    public var errorDescription: String? { description }
}
