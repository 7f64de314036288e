import Foundation
import Platform
import Storage
import Testing

/// The stored run configuration: the schema's keys (format 2) and the Swift property names of format 1, read alike.
@Suite("Stored run configurations")
struct StoredConfigurationTests {
    /// What cocofl 0.1.0 with format version 1 stored for
    /// `cocofl run --strategy heterofl --rounds 1 --devices 4 --per-round 2 --train-subset 200 --test-subset 100
    ///  --partition dirichlet-natural --alpha 0.3 --lr-milestones 5 --option ratios=1,0.5` (copied from such a file).
    static let formatOne = #"{"batchNormEvaluation":"aggregated","batchSize":32,"dataset":"fashion-mnist","devices":4,"evaluationInterval":1,"learningRate":0.1,"learningRateMilestones":[5],"localEpochs":1,"mix":{"groups":[{"memory":1,"name":"strong","share":0.33,"time":1,"upload":1},{"memory":0.66,"name":"medium","share":0.33,"time":0.66,"upload":{"lower":0.5,"upper":1}},{"memory":0.33,"name":"weak","share":0.34,"time":0.33,"upload":{"lower":0.5,"upper":1}}]},"model":"resnet8","momentum":0,"partition":{"alpha":0.3,"kind":"dirichlet","shardSizes":"natural"},"perRound":2,"profileRepeats":3,"rounds":1,"seed":1,"strategy":"heterofl","strategyOptions":{"ratios":"1,0.5"},"testSubset":100,"trainSubset":200,"weightDecay":0.001}"#

    static var expected: RunConfiguration {
        var configuration = RunConfiguration(strategy: "heterofl")
        configuration.strategyOptions = ["ratios": "1,0.5"]
        configuration.rounds = 1
        configuration.devices = 4
        configuration.perRound = 2
        configuration.trainSubset = 200
        configuration.testSubset = 100
        configuration.partitionName = "dirichlet-natural"
        configuration.alpha = 0.3
        configuration.learningRateMilestones = [5]
        return configuration
    }

    /// A results file of format version 1 holding one run with the format-1 configuration.
    static func formatOneFile(at path: String) throws {
        let results = try ResultsFile(path: path, access: .createOrAppend(toolVersion: "0.1.0"))
        try results.hdf5File.attributes.set("format_version", to: .int64(1))
        _ = try results.createRun("old", specification: RunSpecification(
            strategy: "heterofl", dataset: "fashion-mnist", model: "resnet8", seed: 1, configuration: formatOne, toolVersion: "0.1.0"))
    }

    @Test("a format-1 run's configuration reads as the same configuration in the schema; appending upgrades the file")
    func formatOneMigrates() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("v1.h5").path
            try Self.formatOneFile(at: path)
            do {
                let reader = try ResultsFile(path: path, access: .readOnly)
                #expect(reader.formatVersion == 1)
                let migrated = try reader.openRun("old").runConfiguration()
                #expect(migrated == Self.expected)
                #expect(migrated.partition == .dirichlet(alpha: 0.3, shardSizes: .natural))
                #expect(migrated.checkpointInterval == 10, "format 1 had no checkpoint interval: the default")
                // inspect's table reads it too: α from the migrated configuration.
                let table = try reader.comparisonTable()
                #expect(table.runs.first?.alpha == 0.3 && table.unreadableConfigurations.isEmpty)
            }

            // Opened to append, the file is upgraded; the old run stays readable, a new run is written in format 2.
            let writer = try ResultsFile(path: path, access: .createOrAppend(toolVersion: "0.2.0"))
            #expect(writer.formatVersion == ResultsFile.currentFormatVersion)
            #expect(try writer.hdf5File.attributes.int64("format_version") == ResultsFile.currentFormatVersion)
            var newer = Self.expected
            newer.strategy = "fedavg"
            _ = try writer.createRun("new", specification: RunSpecification(
                strategy: "fedavg", dataset: "fashion-mnist", model: "resnet8", seed: 1,
                configuration: try RunRecord.configurationJSON(newer), toolVersion: "0.2.0"))
            #expect(try writer.openRun("old").runConfiguration() == Self.expected)
            #expect(try writer.openRun("new").runConfiguration() == newer)
        }
    }

    @Test("format 2 stores exactly the schema's keys and round-trips every field")
    func formatTwoRoundTrip() throws {
        var configuration = Self.expected
        configuration.dataDirectory = "/data/fm"
        configuration.mix = .homogeneous
        configuration.seed = 9
        configuration.momentum = 0.9
        configuration.batchNormEvaluation = .testBatch
        configuration.checkpointInterval = 4
        configuration.profileRepeats = 2
        let text = try RunRecord.configurationJSON(configuration)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == Set(RunConfiguration.Key.allCases.map(\.rawValue)))
        #expect(try JSONDecoder().decode(RunConfiguration.self, from: Data(text.utf8)) == configuration)
    }

    @Test("an undecodable configuration is named in the table, not dropped silently")
    func unreadable() throws {
        try withTemporaryDirectory { directory in
            let results = try ResultsFileTests.makeFile(in: directory)
            _ = try results.createRun("odd", specification: ResultsFileTests.specification)
            let table = try results.comparisonTable()
            #expect(table.runs.map(\.run) == ["odd"])
            #expect(table.unreadableConfigurations["odd"]?.contains("attribute 'configuration'") == true)
        }
    }
}
