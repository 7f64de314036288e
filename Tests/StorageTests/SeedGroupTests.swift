import Foundation
import Platform
import Storage
import Testing

/// Runs grouped by everything but the seed, with mean, s and the 95 % Student-t interval over the seeds.
@Suite("Seed groups and confidence intervals")
struct SeedGroupTests {
    @Test("t quantiles match the published table to 3 decimals",
          arguments: [(1.0, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (10, 2.228), (20, 2.086),
                      (30, 2.042), (100, 1.984), (1e6, 1.960)])
    func quantiles(degreesOfFreedom: Double, expected: Double) {
        let t = StudentT.quantile(probability: 0.975, degreesOfFreedom: degreesOfFreedom)
        #expect(abs(t - expected) < 5e-4, "t(0.975, \(degreesOfFreedom)) = \(t)")
        #expect(abs(StudentT.cdf(t, degreesOfFreedom: degreesOfFreedom) - 0.975) < 1e-10)
    }

    @Test("The interval of [80.1, 81.3, 79.8] is the hand-computed one")
    func handComputed() throws {
        let statistics = try #require(SeedStatistics([80.1, 81.3, 79.8]))
        // mean 241.2/3 = 80.4; s = √(1.26/2) = 0.793725; half-width 4.302653·s/√3 = 1.971723.
        #expect(statistics.count == 3)
        #expect(abs(statistics.mean - 80.4) < 1e-12)
        #expect(abs(try #require(statistics.standardDeviation) - 0.793725) < 1e-6)
        #expect(abs(try #require(statistics.halfWidth95) - 1.971723) < 1e-6)
        #expect(abs(try #require(statistics.lower95) - 78.428277) < 1e-6)
        #expect(abs(try #require(statistics.upper95) - 82.371723) < 1e-6)
        let single = try #require(SeedStatistics([0.7]))
        #expect(single.mean == 0.7 && single.standardDeviation == nil && single.halfWidth95 == nil)
        #expect(SeedStatistics([]) == nil)
    }

    /// fedavg α 0.1 with seeds 1, 2, 3; fedavg α 1.0 seed 1; cocofl α 0.1 seeds 1 (complete) and 2 (failed).
    static func writeRuns(at path: String) throws -> ResultsFile {
        let results = try ResultsFile(path: path, access: .createOrAppend(toolVersion: "test"))
        func run(_ strategy: String, alpha: Double, seed: UInt64, final: Double, status: RunStatus = .complete) throws {
            var configuration = RunConfiguration(strategy: strategy)
            configuration.alpha = alpha
            configuration.seed = seed
            let name = "\(strategy)-fashion-mnist-resnet8-a\(alpha)-s\(seed)"
            let record = try results.createRun(name, specification: RunSpecification(
                strategy: strategy, dataset: "fashion-mnist", model: "resnet8", seed: Int64(seed),
                configuration: try RunRecord.configurationJSON(configuration), toolVersion: "test"))
            try record.appendMetrics(round: 1, values: ["accuracy": final + 0.01, "accuracy_strong": final + 0.02,
                                                        "accuracy_weak": final - 0.02, "group_gap": 0.04])
            try record.appendMetrics(round: 2, values: ["accuracy": final, "accuracy_strong": final + 0.03,
                                                        "accuracy_weak": final - 0.03, "group_gap": 0.06])
            try record.setStatus(status)
        }
        try run("fedavg", alpha: 0.1, seed: 1, final: 0.801)
        try run("fedavg", alpha: 0.1, seed: 2, final: 0.813)
        try run("fedavg", alpha: 0.1, seed: 3, final: 0.798)
        try run("fedavg", alpha: 1.0, seed: 1, final: 0.85)
        try run("cocofl", alpha: 0.1, seed: 1, final: 0.78)
        try run("cocofl", alpha: 0.1, seed: 2, final: 0.5, status: .failed)
        return results
    }

    @Test("Runs group when only the seed differs; statistics are over the complete runs; JSON round-trips")
    func grouping() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.writeRuns(at: directory.appendingPathComponent("seeds.h5").path)
            let table = try results.comparisonTable()
            #expect(table.runs.count == 6)
            let byName = Dictionary(uniqueKeysWithValues: table.seedGroups.map { ($0.name, $0) })
            #expect(Set(byName.keys) == ["fedavg-fashion-mnist-resnet8-a0.1-s*", "fedavg-fashion-mnist-resnet8-a1.0-s*",
                                         "cocofl-fashion-mnist-resnet8-a0.1-s*"])
            let fedavg = try #require(byName["fedavg-fashion-mnist-resnet8-a0.1-s*"])
            #expect(fedavg.seeds.sorted() == [1, 2, 3] && fedavg.incompleteRuns.isEmpty)
            let final = try #require(fedavg.finalAccuracy)
            let half = try #require(final.halfWidth95)
            #expect(abs(final.mean - 0.804) < 1e-12 && abs(half - 0.01971723) < 1e-8)
            #expect(abs(try #require(fedavg.bestAccuracy).mean - 0.814) < 1e-12)
            #expect(abs(try #require(fedavg.groupAccuracy["weak"]).mean - 0.774) < 1e-12)
            // The worst-served group of every seed is weak (final − 0.02).
            #expect(abs(try #require(fedavg.worstGroupAccuracy).mean - 0.774) < 1e-12)
            #expect(table.runs.first { $0.run == "fedavg-fashion-mnist-resnet8-a0.1-s1" }?.worstGroupAccuracy == table.runs.first { $0.run == "fedavg-fashion-mnist-resnet8-a0.1-s1" }?.groupAccuracy["weak"])
            let gap = try #require(fedavg.groupGap)
            #expect(try #require(gap.standardDeviation) < 1e-12)
            let cocofl = try #require(byName["cocofl-fashion-mnist-resnet8-a0.1-s*"])
            #expect(cocofl.runs.count == 2 && cocofl.seeds == [1])
            #expect(cocofl.incompleteRuns == ["cocofl-fashion-mnist-resnet8-a0.1-s2"])
            #expect(cocofl.finalAccuracy?.count == 1 && cocofl.finalAccuracy?.halfWidth95 == nil)

            let data = try JSONEncoder().encode(table)
            let decoded = try JSONDecoder().decode(ComparisonTable.self, from: data)
            #expect(decoded.seedGroups.map(\.name) == table.seedGroups.map(\.name))
            #expect(decoded.seedGroups.map(\.finalAccuracy) == table.seedGroups.map(\.finalAccuracy))
            #expect(decoded.seedGroups.map(\.groupAccuracy) == table.seedGroups.map(\.groupAccuracy))
            #expect(decoded.seedGroups.map(\.incompleteRuns) == table.seedGroups.map(\.incompleteRuns))
            #expect(decoded.runs.map(\.run) == table.runs.map(\.run))
        }
    }

    @Test("The seed-group plot draws each group's mean curve and a band where there are two or more seeds")
    func meanCurvePlot() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.writeRuns(at: directory.appendingPathComponent("seeds.h5").path)
            let plot = try results.seedGroupAccuracyPlot()
            let fedavg = try #require(plot.series.first { $0.name == "fedavg-fashion-mnist-resnet8-a0.1-s* (3 seeds)" })
            #expect(fedavg.points.map(\.round) == [1, 2])
            #expect(abs(fedavg.points[1].accuracy - 0.804) < 1e-12)
            #expect(fedavg.band.count == 2)
            #expect(abs(fedavg.band[1].upper - fedavg.band[1].lower - 2 * 0.01971723) < 1e-8)
            let cocofl = try #require(plot.series.first { $0.name == "cocofl-fashion-mnist-resnet8-a0.1-s* (1 seed)" })
            #expect(cocofl.points.count == 2 && cocofl.band.isEmpty)
            let svg = plot.svg()
            #expect(svg.components(separatedBy: "<polygon").count - 1 == 1)
            #expect(svg.components(separatedBy: "<polyline").count - 1 == 3)
        }
    }
}
