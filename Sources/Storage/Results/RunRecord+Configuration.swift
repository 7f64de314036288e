import Foundation
import Platform

extension RunRecord {
    /// The resolved configuration as the JSON a run group stores in its `configuration` attribute: the schema's
    /// snake_case keys (format 2; docs/hdf5-layout.md).
    public static func configurationJSON(_ configuration: RunConfiguration) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(configuration), as: UTF8.self)
    }

    /// The run's resolved configuration, decoded from its `configuration` attribute; runs stored by format 1
    /// (Swift property names as keys) are migrated as they are read.
    public func runConfiguration() throws -> RunConfiguration {
        let text = try metadata().specification.configuration
        do {
            return try StoredConfiguration.decode(text)
        } catch {
            throw self.error(
                .damaged,
                "attribute 'configuration' is not a run configuration this version of cocofl reads "
                    + "(\(error)); read it with the cocofl version in 'tool_version', or restart the run")
        }
    }

    /// The round of the newest complete checkpoint; throws when the run has none.
    public func latestCheckpointRound() throws -> Int {
        guard let round = try checkpointRounds().last else {
            throw error(
                .notFound, at: ResultsLayout.checkpoints,
                "the run has no complete checkpoint; runs write one every checkpoint_every rounds and after "
                    + "the last round")
        }
        return round
    }

    /// The accuracy and loss recorded for `round`, nil when that round has no metrics row or was not evaluated.
    public func recordedEvaluation(round: Int) throws -> (accuracy: Double, loss: Double)? {
        let columns = try metrics()
        guard let row = columns[ResultsLayout.roundMetric]?.firstIndex(of: Double(round)),
            let accuracy = columns["accuracy"]?[row], let loss = columns["loss"]?[row],
            !accuracy.isNaN, !loss.isNaN
        else { return nil }
        return (accuracy, loss)
    }
}

/// The `configuration` attribute's JSON in either format: 2 (the schema's keys, written since format version 2)
/// and 1 (the Swift property names of the first releases), told apart by their keys.
enum StoredConfiguration {
    /// Decodes either format.
    static func decode(_ text: String) throws -> RunConfiguration {
        let data = Data(text.utf8)
        let keys = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]).map { Set($0.keys) } ?? []
        guard keys.isDisjoint(with: FormatOne.distinctKeys) else {
            return try JSONDecoder().decode(FormatOne.self, from: data).migrated()
        }
        return try JSONDecoder().decode(RunConfiguration.self, from: data)
    }

    /// Format 1: the configuration as Swift's synthesized coding wrote it, with the partition as an object.
    struct FormatOne: Decodable {
        /// Keys only format 1 has.
        static let distinctKeys: Set<String> = [
            "strategyOptions", "dataDirectory", "perRound", "localEpochs", "batchSize", "learningRate",
            "learningRateMilestones", "weightDecay", "evaluationInterval", "batchNormEvaluation", "trainSubset",
            "testSubset", "profileRepeats",
        ]

        var strategy: String
        var strategyOptions: [String: String]?
        var dataset: String?
        var dataDirectory: String?
        var model: String?
        var rounds: Int?
        var devices: Int?
        var perRound: Int?
        var partition: PartitionScheme?
        var mix: DeviceMix?
        var seed: UInt64?
        var localEpochs: Int?
        var batchSize: Int?
        var learningRate: Double?
        var learningRateMilestones: [Int]?
        var weightDecay: Double?
        var momentum: Double?
        var evaluationInterval: Int?
        var batchNormEvaluation: BatchNormEvaluation?
        var trainSubset: Int?
        var testSubset: Int?
        var profileRepeats: Int?

        /// The same configuration in today's schema (format 1 had no checkpoint interval: it takes the default,
        /// which does not change results).
        func migrated() -> RunConfiguration {
            var configuration = RunConfiguration(strategy: strategy)
            configuration.strategyOptions = strategyOptions ?? configuration.strategyOptions
            configuration.dataset = dataset ?? configuration.dataset
            configuration.dataDirectory = dataDirectory
            configuration.model = model ?? configuration.model
            configuration.rounds = rounds ?? configuration.rounds
            configuration.devices = devices ?? configuration.devices
            configuration.perRound = perRound ?? configuration.perRound
            switch partition {
            case .dirichlet(let alpha, let shardSizes)?:
                configuration.partitionName = shardSizes == .equal ? "dirichlet" : "dirichlet-natural"
                configuration.alpha = alpha
            case .resourceCorrelated(let alpha)?:
                configuration.partitionName = "resource-correlated"
                configuration.alpha = alpha
            case .iid?: configuration.partitionName = "iid"
            case .natural?: configuration.partitionName = "natural"
            case nil: break
            }
            configuration.mix = mix ?? configuration.mix
            configuration.seed = seed ?? configuration.seed
            configuration.localEpochs = localEpochs ?? configuration.localEpochs
            configuration.batchSize = batchSize ?? configuration.batchSize
            configuration.learningRate = learningRate ?? configuration.learningRate
            configuration.learningRateMilestones = learningRateMilestones
                ?? RunConfiguration.defaultMilestones(rounds: configuration.rounds)
            configuration.weightDecay = weightDecay ?? configuration.weightDecay
            configuration.momentum = momentum ?? configuration.momentum
            configuration.evaluationInterval = evaluationInterval ?? configuration.evaluationInterval
            configuration.batchNormEvaluation = batchNormEvaluation ?? configuration.batchNormEvaluation
            configuration.trainSubset = trainSubset
            configuration.testSubset = testSubset
            configuration.profileRepeats = profileRepeats ?? configuration.profileRepeats
            return configuration
        }
    }
}
