import Foundation
import Platform
import Testing

/// The run configuration schema: one key, one default and one validation per field.
@Suite("Run configuration schema")
struct ConfigurationSchemaTests {
    @Test("assembling from no values gives the reference defaults; lr_milestones follow rounds unless given")
    func defaults() throws {
        let reference = try RunConfiguration.assemble([(.strategy, .text("cocofl"))])
        #expect(reference == RunConfiguration(strategy: "cocofl"))
        #expect(reference.rounds == 1000 && reference.learningRateMilestones == [600, 800] && reference.perRound == 10)
        #expect(reference.partition == .dirichlet(alpha: 0.1, shardSizes: .equal))
        let short = try RunConfiguration.assemble([(.strategy, .text("fedavg")), (.rounds, .integer(120))])
        #expect(short.learningRateMilestones == [72, 96])
        let constant = try RunConfiguration.assemble([(.strategy, .text("fedavg")), (.rounds, .integer(120)), (.lrMilestones, .integers([]))])
        #expect(constant.learningRateMilestones == [])
    }

    @Test("each key sets its one field; an integer is a number too")
    func setting() throws {
        var configuration = RunConfiguration(strategy: "x")
        try configuration.set(.perRound, to: .integer(7))
        try configuration.set(.lr, to: .integer(1))
        try configuration.set(.partition, to: .text("resource-correlated"))
        try configuration.set(.alpha, to: .number(0.5))
        try configuration.set(.bnEval, to: .text("test-batch"))
        #expect(configuration.perRound == 7 && configuration.learningRate == 1.0)
        #expect(configuration.partition == .resourceCorrelated(alpha: 0.5))
        #expect(configuration.batchNormEvaluation == .testBatch)
    }

    @Test("errors name the key and each surface writes keys its own way",
          arguments: [
            ([(RunConfiguration.Key.perRound, RunConfiguration.Value.integer(200))], RunConfiguration.Key.perRound,
             "per_round is 200 but must be between 1 and devices (100)"),
            ([(.rounds, .integer(0))], .rounds, "rounds is 0 but must be at least 1"),
            ([(.lr, .number(-1))], .lr, "lr is -1.0 but must be positive"),
            ([(.momentum, .number(1))], .momentum, "momentum is 1.0 but must be in [0, 1)"),
            ([(.alpha, .number(0))], .alpha, "alpha is 0.0 but a Dirichlet concentration must be positive"),
            ([(.model, .text("resnet9"))], .model, "model is 'resnet9', which is not a model (did you mean 'resnet8'?)"),
            ([(.lrMilestones, .integers([3, 0]))], .lrMilestones, "lr_milestones is [3, 0]"),
            ([(.rounds, .text("40"))], .rounds, "rounds must be an integer, not the string \"40\""),
            ([(.bnEval, .text("batch"))], .bnEval, "bn_eval is 'batch', which is not a BatchNorm evaluation"),
          ])
    func errors(values: [(RunConfiguration.Key, RunConfiguration.Value)], key: RunConfiguration.Key, message: String) throws {
        let error = try #require(throws: ConfigurationError.self) {
            try RunConfiguration.assemble([(.strategy, .text("fedavg"))] + values)
        }
        #expect(error.key == key)
        #expect(error.description.hasPrefix(message), "\(error.description)")
        // The same error as a campaign file and a command line say it.
        #expect(error.message { "run.\($0.rawValue)" }.hasPrefix("run.\(key.rawValue) "))
        let flagged = error.message { "--" + $0.rawValue.replacingOccurrences(of: "_", with: "-") }
        #expect(!flagged.contains(key.rawValue) || !key.rawValue.contains("_"), "\(flagged)")
    }

    @Test("checkpoint_every does not change results")
    func sameResults() throws {
        let base = RunConfiguration(strategy: "fedavg")
        var other = base
        other.checkpointInterval = 3
        #expect(base != other && base.sameResults(as: other))
        other.seed = 2
        #expect(!base.sameResults(as: other))
    }
}
