import Foundation
import Platform

/// Mean, sample standard deviation and 95 % confidence interval of one metric over the seeds of a group.
public struct SeedStatistics: Codable, Sendable, Equatable {
    /// Number of values (seeds).
    public let count: Int
    /// Their mean.
    public let mean: Double
    /// Sample standard deviation s (n − 1 in the denominator); nil with one value.
    public let standardDeviation: Double?
    /// Half-width t(0.975, n − 1)·s/√n of the two-sided 95 % Student-t interval; nil with one value.
    public let halfWidth95: Double?
    /// mean − halfWidth95.
    public let lower95: Double?
    /// mean + halfWidth95.
    public let upper95: Double?

    /// The statistics of `values`; nil when there are none.
    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        count = values.count
        self.mean = mean
        guard values.count >= 2 else {
            standardDeviation = nil; halfWidth95 = nil; lower95 = nil; upper95 = nil
            return
        }
        let s = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot()
        let half = StudentT.quantile(probability: 0.975, degreesOfFreedom: Double(values.count - 1)) * s / Double(values.count).squareRoot()
        standardDeviation = s
        halfWidth95 = half
        lower95 = mean - half
        upper95 = mean + half
    }
}

/// Runs whose configurations differ only in the seed, with statistics of their results over the seeds.
public struct SeedGroup: Codable, Sendable {
    /// The first run's name with its seed part `-sSEED` written `-s*`.
    public let name: String
    public let strategy: String
    public let dataset: String
    public let model: String
    /// Dirichlet α of the partition, nil for other partitions.
    public let alpha: Double?
    /// Every run of the group, in run-name order.
    public let runs: [String]
    /// The seeds of the complete runs, which the statistics are over.
    public let seeds: [Int64]
    /// Runs of the group that are not complete (running or failed); the statistics leave them out.
    public let incompleteRuns: [String]
    /// Final test accuracy.
    public let finalAccuracy: SeedStatistics?
    /// Best test accuracy of any evaluated round.
    public let bestAccuracy: SeedStatistics?
    /// Final accuracy on each device group's data distribution.
    public let groupAccuracy: [String: SeedStatistics]
    /// Final best-minus-worst group accuracy.
    public let groupGap: SeedStatistics?
    /// Final accuracy of each run's worst-served device group.
    public let worstGroupAccuracy: SeedStatistics?

    /// Groups `runs` by `configurations[run]`, the run's resolved configuration (runs without one stay alone);
    /// groups are in the order of their first run.
    public static func groups(_ rows: [ComparisonRow], configurations: [String: RunConfiguration]) -> [SeedGroup] {
        var order: [String] = []
        var members: [String: [ComparisonRow]] = [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for row in rows {
            var key = "run:" + row.run
            if var configuration = configurations[row.run] {
                configuration.seed = 0
                // The checkpoint interval does not change results, so it does not split a group.
                configuration.checkpointInterval = 0
                if let data = try? encoder.encode(configuration) { key = "configuration:" + String(decoding: data, as: UTF8.self) }
            }
            if members[key] == nil { order.append(key) }
            members[key, default: []].append(row)
        }
        return order.map { SeedGroup(members[$0]!) }
    }

    init(_ rows: [ComparisonRow]) {
        let first = rows[0]
        name = first.run.split(separator: "-", omittingEmptySubsequences: false)
            .map { $0 == "s\(first.seed)" ? "s*" : String($0) }.joined(separator: "-")
        strategy = first.strategy
        dataset = first.dataset
        model = first.model
        alpha = first.alpha
        runs = rows.map(\.run)
        let complete = rows.filter { $0.status == "complete" }
        incompleteRuns = rows.filter { $0.status != "complete" }.map(\.run)
        seeds = complete.map(\.seed)
        finalAccuracy = SeedStatistics(complete.compactMap(\.finalAccuracy))
        bestAccuracy = SeedStatistics(complete.compactMap(\.bestAccuracy))
        let groupNames = Set(complete.flatMap { $0.groupAccuracy.keys })
        groupAccuracy = Dictionary(uniqueKeysWithValues: groupNames.compactMap { group in
            SeedStatistics(complete.compactMap { $0.groupAccuracy[group] }).map { (group, $0) }
        })
        groupGap = SeedStatistics(complete.compactMap(\.groupGap))
        worstGroupAccuracy = SeedStatistics(complete.compactMap(\.worstGroupAccuracy))
    }
}

/// The comparison table and its seed groups: what cocofl inspect prints as JSON.
public struct ComparisonTable: Codable, Sendable {
    /// One row per run, in run-name order.
    public let runs: [ComparisonRow]
    /// The runs grouped by configuration without the seed.
    public let seedGroups: [SeedGroup]
    /// Runs of a campaign that are linked but have not written their run file yet (not started).
    public let notStarted: [String]
    /// Runs whose stored configuration could not be read, with the reason: they have no α and no seed group.
    public let unreadableConfigurations: [String: String]
}

extension ResultsFile {
    /// The comparison table with the runs grouped by seed.
    public func comparisonTable() throws -> ComparisonTable {
        var configurations: [String: RunConfiguration] = [:]
        var unreadable: [String: String] = [:]
        for name in try runNames() {
            do {
                configurations[name] = try openRun(name).runConfiguration()
            } catch {
                unreadable[name] = "\(error)"
            }
        }
        let rows = try comparison(configurations: configurations)
        return ComparisonTable(runs: rows, seedGroups: SeedGroup.groups(rows, configurations: configurations),
                               notStarted: try pendingRunNames(), unreadableConfigurations: unreadable)
    }
}
