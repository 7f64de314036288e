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

/// Everything that defines one run; every default is the reference setting unless noted.
public struct RunConfiguration: Codable, Sendable, Equatable {
    public var strategy: String
    /// Strategy options (`key = value`); unknown ones are errors.
    public var strategyOptions: [String: String] = [:]
    public var dataset = "fashion-mnist"
    /// nil: the dataset's default directory.
    public var dataDirectory: String?
    public var model = "resnet8"
    public var rounds = 1000
    public var devices = 100
    public var perRound = 10
    public var partition: PartitionScheme = .dirichlet(alpha: 0.1, shardSizes: .equal)
    public var mix: DeviceMix = .reference
    public var seed: UInt64 = 1
    public var localEpochs = 1
    public var batchSize = 32
    public var learningRate = 0.1
    /// Rounds after which the learning rate is divided by 10 (reference: 600 and 800 of 1000).
    public var learningRateMilestones: [Int] = [600, 800]
    public var weightDecay = 1e-3
    public var momentum = 0.0
    /// Evaluate every k rounds (and always after the last round).
    public var evaluationInterval = 1
    public var batchNormEvaluation: BatchNormEvaluation = .aggregated
    /// Use only the first n training / test samples (quick runs and tests); nil: all.
    public var trainSubset: Int?
    public var testSubset: Int?
    /// Timed steps per window when the profile is measured at the start of the run.
    public var profileRepeats = 3

    public init(strategy: String) { self.strategy = strategy }

    /// The reference's milestones (60 % and 80 % of the rounds) scaled to `rounds`; those that would fall before
    /// the first round are left out, so a short run trains at the configured rate instead of a tenth of it.
    public static func defaultMilestones(rounds: Int) -> [Int] {
        [rounds * 6 / 10, rounds * 8 / 10].filter { $0 >= 1 }
    }

    /// The learning rate of a 1-based round.
    public func learningRate(round: Int) -> Double {
        learningRate * pow10(-learningRateMilestones.filter { round > $0 }.count)
    }

    private func pow10(_ exponent: Int) -> Double { (0..<abs(exponent)).reduce(1.0) { value, _ in exponent < 0 ? value / 10 : value * 10 } }

    /// Checks ranges, naming the option and the fix.
    public func validate() throws {
        func require(_ condition: Bool, _ message: String) throws { if !condition { throw SimulationError(message) } }
        try require(rounds >= 1, "--rounds must be at least 1, got \(rounds)")
        try require(devices >= 1, "--devices must be at least 1, got \(devices)")
        try require(perRound >= 1 && perRound <= devices, "--per-round must be in 1…\(devices) (the device count), got \(perRound)")
        try require(localEpochs >= 1, "--local-epochs must be at least 1, got \(localEpochs)")
        try require(batchSize >= 1, "--batch must be at least 1, got \(batchSize)")
        try require(learningRate > 0, "--lr must be positive, got \(learningRate)")
        try require(learningRateMilestones.allSatisfy { $0 >= 1 },
                    "lr_milestones (--lr-milestones) are rounds after which the learning rate drops and must be at least 1, got \(learningRateMilestones)")
        try require(weightDecay >= 0 && momentum >= 0 && momentum < 1, "--weight-decay must be ≥ 0 and --momentum in [0, 1)")
        try require(evaluationInterval >= 1, "--eval-every must be at least 1, got \(evaluationInterval)")
        try require(ModelZoo.names.contains(model), "unknown model '\(model)'; known models: \(ModelZoo.names.joined(separator: ", "))")
        try partition.validate()
        try mix.validate()
    }
}

/// A run that cannot start or continue, with what to change.
public struct SimulationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
