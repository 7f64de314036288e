/// What a strategy may look at when it plans one device's round.
public struct DeviceRound: Sendable {
    /// The device's index in the population (0-based).
    public let deviceID: Int
    /// The device group's name from the device mix, e.g. "strong", "medium", "weak".
    public let groupName: String
    /// This round's limits as fractions of full training.
    public let limits: DeviceLimits
    /// 1-based round number.
    public let round: Int
    /// Number of training samples in the device's shard.
    public let sampleCount: Int

    /// A device's round as the host sees it.
    public init(deviceID: Int, groupName: String, limits: DeviceLimits, round: Int, sampleCount: Int) {
        self.deviceID = deviceID
        self.groupName = groupName
        self.limits = limits
        self.round = round
        self.sampleCount = sampleCount
    }
}

/// What a strategy knows about the run when it is created.
public struct StrategyEnvironment: Sendable {
    /// The model zoo name of the run's model, e.g. "resnet8".
    public let modelName: String
    /// Number of freezable units of the model; windows index them 0..<unitCount.
    public let unitCount: Int
    /// The cost table of every trained window on this machine (CoCoFL's design-time profile).
    public let profile: ModelProfile
    /// The host's built-in aggregation rules (CoCoFL, FedAvg, element-wise), for strategies that reuse one.
    public let aggregation: any AggregationRules

    /// The environment of one run.
    public init(modelName: String, unitCount: Int, profile: ModelProfile, aggregation: any AggregationRules) {
        self.modelName = modelName
        self.unitCount = unitCount
        self.profile = profile
        self.aggregation = aggregation
    }
}

/// A strategy's options from the run configuration (`key = value` strings). Each option read is marked used;
/// `finish()` rejects the rest, so a misspelled option is an error, not a silent default.
public final class StrategyOptions {
    private let values: [String: String]
    private var used: Set<String> = []
    /// The strategy the options belong to, for messages.
    public let strategyID: String

    /// The options `values` given to strategy `strategyID`.
    public init(_ values: [String: String], strategyID: String) {
        self.values = values
        self.strategyID = strategyID
    }

    /// A Double option, or `defaultValue` when absent.
    public func double(_ key: String, default defaultValue: Double) throws -> Double {
        used.insert(key)
        guard let text = values[key] else { return defaultValue }
        guard let value = Double(text) else {
            throw StrategyError("option '\(key)' of strategy '\(strategyID)' must be a number, got '\(text)'")
        }
        return value
    }

    /// An integer option, or `defaultValue` when absent.
    public func integer(_ key: String, default defaultValue: Int) throws -> Int {
        used.insert(key)
        guard let text = values[key] else { return defaultValue }
        guard let value = Int(text) else {
            throw StrategyError("option '\(key)' of strategy '\(strategyID)' must be an integer, got '\(text)'")
        }
        return value
    }

    /// A string option, or `defaultValue` when absent.
    public func string(_ key: String, default defaultValue: String) -> String {
        used.insert(key)
        return values[key] ?? defaultValue
    }

    /// Throws if any option was not read by the strategy.
    public func finish() throws {
        let unknown = Set(values.keys).subtracting(used).sorted()
        guard unknown.isEmpty else {
            let known = used.sorted()
            throw StrategyError("unknown option\(unknown.count > 1 ? "s" : "") \(unknown.map { "'\($0)'" }.joined(separator: ", ")) for strategy '\(strategyID)'; "
                                + (known.isEmpty ? "it takes no options" : "it takes: \(known.joined(separator: ", "))"))
        }
    }
}

/// An error from a strategy's configuration or planning.
public struct StrategyError: Error, CustomStringConvertible {
    /// The one-line message: what is wrong and how to fix it.
    public let description: String
    /// An error with the given one-line message.
    public init(_ description: String) { self.description = description }
}

/// A federated-learning strategy as one unit: which devices may take part, what each sampled device does in its
/// round (its plan and its local training, through the host's `LocalTrainer`), and how the server aggregates
/// the uploads. Conformers live in `Strategies` (built in) or in a plugin library.
public protocol Strategy: AnyObject {
    /// Whether `device` may be sampled this round: the host samples the round's `per_round` devices among the
    /// eligible ones (all of them when fewer are eligible). The default, in an extension, admits every device.
    func isEligible(_ device: DeviceRound) throws -> Bool
    /// One sampled device's round: decide what it does and train it with `trainer`, or skip it with a reason
    /// (which goes into the round's metrics). `generator` is the device's own seeded stream; hand it on to the
    /// trainer, which shuffles the device's samples with it.
    func train(_ device: DeviceRound, with trainer: any LocalTrainer, generator: inout SeededGenerator) throws -> LocalOutcome
    /// Combines this round's uploads into the new global parameters. `participantCount` counts the devices that
    /// trained this round (skipped devices excluded).
    func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet
}

extension Strategy {
    /// Every device is eligible: the host samples among all devices.
    public func isEligible(_ device: DeviceRound) throws -> Bool { true }
}

/// A registry entry: a stable id, a one-line summary and a factory from options and environment.
public struct StrategyEntry: RegistryEntry, Sendable {
    /// The stable id users write as a run's strategy, on the command line and in campaign files.
    public let id: String
    /// A one-line description for `cocofl strategies`.
    public let summary: String
    /// Creates the strategy for one run; read options through `StrategyOptions` so that unknown ones are rejected.
    public let make: @Sendable (StrategyOptions, StrategyEnvironment) throws -> Strategy
    /// What the strategy reads of `environment.profile`: the host measures only that and hands the strategy a
    /// profile without the rest (the window table takes minutes for large models).
    public let profile: ProfileNeeds

    /// Whether the strategy reads any of the profile.
    public var usesProfile: Bool { !profile.isEmpty }

    /// An entry with the given id, summary and factory; `profile` says what of the profile the strategy reads
    /// (`[]` for none, `.windows` for CoCoFL's window costs, `.subModels` for the sub-models').
    public init(id: String, summary: String, profile: ProfileNeeds = .windows,
                make: @escaping @Sendable (StrategyOptions, StrategyEnvironment) throws -> Strategy) {
        self.id = id
        self.summary = summary
        self.profile = profile
        self.make = make
    }

    /// Creates the strategy and checks that every option was understood.
    public func instantiate(options: [String: String], environment: StrategyEnvironment) throws -> Strategy {
        let parsed = StrategyOptions(options, strategyID: id)
        let strategy = try make(parsed, environment)
        try parsed.finish()
        return strategy
    }
}

/// The registry of strategies a run can use.
public typealias StrategyCatalog = StrategyRegistry<StrategyEntry>
