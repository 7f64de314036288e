import CoCoFLCore
import Foundation
import NN
import Platform
import Testing

/// The engine's seeded SplitMix64 generator, for the federation tests (partitions, device resources, sampling).
typealias FederationTestGenerator = SeededGenerator

/// `count` labels cycling through `classCount` classes, so every class has count/classCount samples.
private func balancedLabels(count: Int, classCount: Int) -> [Int32] {
    (0..<count).map { Int32($0 % classCount) }
}

/// The partition schemes that take a seed, each as a function of labels, device count and seed.
enum SeededPartitionScheme: String, CaseIterable, CustomTestStringConvertible {
    case iid, dirichletEqual, dirichletNatural, resourceCorrelated

    var testDescription: String { rawValue }

    /// Whether every device gets ⌊n/N⌋ or ⌈n/N⌉ samples.
    var hasEqualShards: Bool { self != .dirichletNatural }

    func partition(labels: [Int32], classCount: Int, deviceCount: Int, alpha: Double = 0.5, seed: UInt64)
        throws -> DataPartition
    {
        var generator = FederationTestGenerator(seed: seed)
        switch self {
        case .iid:
            return try DataPartition.iid(labels: labels, classCount: classCount, deviceCount: deviceCount,
                                         using: &generator)
        case .dirichletEqual:
            return try DataPartition.dirichletEqualShards(
                labels: labels, classCount: classCount, deviceCount: deviceCount, alpha: alpha, using: &generator)
        case .dirichletNatural:
            return try DataPartition.dirichletNaturalSizes(
                labels: labels, classCount: classCount, deviceCount: deviceCount, alpha: alpha, using: &generator)
        case .resourceCorrelated:
            let population = try DeviceMix.reference.population(deviceCount: deviceCount)
            return try DataPartition.resourceCorrelated(
                labels: labels, classCount: classCount, groupOfDevice: population.groupOfDevice,
                groupCount: population.groupCount, alpha: alpha, using: &generator)
        }
    }
}

/// Checks that no sample is used twice, that all indices are valid and that histograms match the labels.
private func expectConsistent(_ partition: DataPartition, labels: [Int32], allUsed: Bool) {
    let flat = partition.sampleIndices.flatMap { $0 }
    #expect(Set(flat).count == flat.count, "a sample is on two devices")
    #expect(flat.allSatisfy { labels.indices.contains($0) })
    if allUsed { #expect(flat.count == labels.count) }
    for device in 0..<partition.deviceCount {
        var histogram = [Int](repeating: 0, count: partition.classCount)
        for index in partition.sampleIndices[device] { histogram[Int(labels[index])] += 1 }
        #expect(histogram == partition.classHistograms[device])
    }
}

/// The mean, over devices with data, of the share of each device's most frequent class.
private func meanLargestClassShare(_ partition: DataPartition) -> Double {
    let shares = (0..<partition.deviceCount)
        .filter { partition.shardSizes[$0] > 0 }
        .map { partition.classShares(ofDevice: $0).max()! }
    return shares.reduce(0, +) / Double(shares.count)
}

/// Half the L1 distance between two distributions.
private func totalVariation(_ left: [Double], _ right: [Double]) -> Double {
    zip(left, right).reduce(0) { $0 + abs($1.0 - $1.1) } / 2
}

@Suite("Partitions of a training set over devices")
struct PartitionTests {
    @Test("every scheme uses each sample at most once; equal schemes use all with sizes within 1",
          arguments: SeededPartitionScheme.allCases)
    func sizes(scheme: SeededPartitionScheme) throws {
        let labels = balancedLabels(count: 1_003, classCount: 10)
        let partition = try scheme.partition(labels: labels, classCount: 10, deviceCount: 30, seed: 5)
        #expect(partition.deviceCount == 30)
        #expect(partition.shardSizes.reduce(0, +) == labels.count)
        expectConsistent(partition, labels: labels, allUsed: true)
        if scheme.hasEqualShards {
            let sizes = partition.shardSizes
            #expect(sizes.max()! - sizes.min()! <= 1)
            #expect(sizes.min()! == labels.count / 30)
        }
    }

    @Test("the same seed reproduces a partition and another seed changes it", arguments: SeededPartitionScheme.allCases)
    func reproducible(scheme: SeededPartitionScheme) throws {
        let labels = balancedLabels(count: 600, classCount: 10)
        let first = try scheme.partition(labels: labels, classCount: 10, deviceCount: 12, seed: 17)
        let again = try scheme.partition(labels: labels, classCount: 10, deviceCount: 12, seed: 17)
        let other = try scheme.partition(labels: labels, classCount: 10, deviceCount: 12, seed: 18)
        #expect(first == again)
        #expect(first.sampleIndices != other.sampleIndices)
    }

    @Test("α = 0.1 skews the class histograms and α = 100 leaves them near uniform",
          arguments: [SeededPartitionScheme.dirichletEqual, .dirichletNatural])
    func skew(scheme: SeededPartitionScheme) throws {
        let labels = balancedLabels(count: 6_000, classCount: 10)
        let skewed = try scheme.partition(labels: labels, classCount: 10, deviceCount: 100, alpha: 0.1, seed: 1)
        let uniform = try scheme.partition(labels: labels, classCount: 10, deviceCount: 100, alpha: 100, seed: 1)
        let skewedShare = meanLargestClassShare(skewed)
        let uniformShare = meanLargestClassShare(uniform)
        #expect(skewedShare >= 0.6, "mean largest class share \(skewedShare) at α = 0.1")
        #expect(uniformShare <= 0.25, "mean largest class share \(uniformShare) at α = 100")
        // IID for comparison: 60 samples over 10 classes.
        let iid = try SeededPartitionScheme.iid.partition(labels: labels, classCount: 10, deviceCount: 100, seed: 1)
        #expect(meanLargestClassShare(iid) <= 0.25)
    }

    @Test("resource-correlated: devices of one group share a histogram that differs between groups")
    func resourceCorrelatedGroups() throws {
        let labels = balancedLabels(count: 6_000, classCount: 10)
        let population = try DeviceMix.reference.population(deviceCount: 30)
        var generator = FederationTestGenerator(seed: 3)
        let partition = try DataPartition.resourceCorrelated(
            labels: labels, classCount: 10, groupOfDevice: population.groupOfDevice,
            groupCount: population.groupCount, alpha: 0.1, using: &generator)
        expectConsistent(partition, labels: labels, allUsed: true)
        let groupShares = (0..<population.groupCount).map { group in
            let devices = population.devices(inGroup: group)
            var total = [Double](repeating: 0, count: 10)
            for device in devices {
                for (label, share) in partition.classShares(ofDevice: device).enumerated() {
                    total[label] += share / Double(devices.count)
                }
            }
            return total
        }
        let withinGroup = (0..<population.deviceCount).map { device in
            totalVariation(partition.classShares(ofDevice: device), groupShares[population.groupOfDevice[device]])
        }
        let meanWithin = withinGroup.reduce(0, +) / Double(withinGroup.count)
        var betweenGroups: [Double] = []
        for first in 0..<3 {
            for second in (first + 1)..<3 { betweenGroups.append(totalVariation(groupShares[first],
                                                                                groupShares[second])) }
        }
        let meanBetween = betweenGroups.reduce(0, +) / Double(betweenGroups.count)
        // Over seeds 1…30 the within-group distance stays below 0.05 and the between-group one above 0.55.
        #expect(meanWithin <= 0.1, "devices differ from their group by \(meanWithin) on average")
        #expect(meanBetween >= 0.4, "groups differ by only \(meanBetween) on average")
        #expect(meanWithin < meanBetween / 2)
    }

    @Test("the natural partition maps writers round-robin by sorted id")
    func naturalPartition() throws {
        let labels: [Int32] = [0, 1, 2, 0, 1, 2]
        let writers: [Int32] = [5, 3, 9, 3, 5, 7]
        let two = try DataPartition.natural(labels: labels, classCount: 3, writerIDs: writers, deviceCount: 2)
        // Sorted writers 3, 5, 7, 9 go to devices 0, 1, 0, 1.
        #expect(two.sampleIndices == [[1, 3, 5], [0, 2, 4]])
        #expect(two.classHistograms == [[1, 1, 1], [1, 1, 1]])
        let four = try DataPartition.natural(labels: labels, classCount: 3, writerIDs: writers, deviceCount: 4)
        #expect(four.sampleIndices == [[1, 3], [0, 4], [5], [2]])
        let error = #expect(throws: FederationError.self) {
            _ = try DataPartition.natural(labels: labels, classCount: 3, writerIDs: writers, deviceCount: 5)
        }
        #expect(error?.option == "devices")
        #expect(error?.description.contains("only 4 writers") == true)
    }

    @Test("a dataset splits through its scheme; natural needs writer ids")
    func datasetSchemes() throws {
        let count = 120
        let dataset = Dataset(
            name: "tiny", images: [UInt8](repeating: 0, count: count), labels: balancedLabels(count: count,
                                                                                               classCount: 4),
            channels: 1, height: 1, width: 1, classCount: 4,
            writerIDs: (0..<count).map { Int32($0 % 8) }, normalization: .unit(channels: 1))
        let population = try DeviceMix.reference.population(deviceCount: 6)
        let schemes: [PartitionScheme] = [
            .iid, .dirichlet(alpha: 0.3, shardSizes: .equal), .dirichlet(alpha: 0.3, shardSizes: .natural),
            .resourceCorrelated(alpha: 0.3), .natural,
        ]
        for scheme in schemes {
            var generator = FederationTestGenerator(seed: 9)
            let partition = try DataPartition(dataset: dataset, scheme: scheme, population: population,
                                              using: &generator)
            #expect(partition.deviceCount == 6, "\(scheme)")
            expectConsistent(partition, labels: dataset.labels, allUsed: true)
        }
        let withoutWriters = Dataset(
            name: "anonymous", images: dataset.images, labels: dataset.labels, channels: 1, height: 1, width: 1,
            classCount: 4, normalization: .unit(channels: 1))
        var generator = FederationTestGenerator(seed: 9)
        let error = #expect(throws: FederationError.self) {
            _ = try DataPartition(dataset: withoutWriters, scheme: .natural, population: population,
                                  using: &generator)
        }
        #expect(error?.option == "partition")
        #expect(error?.description.contains("'anonymous'") == true)
    }

    @Test("α must be positive and finite; the error names alpha",
          arguments: [0.0, -1.0, Double.nan, Double.infinity])
    func badAlpha(alpha: Double) {
        let labels = balancedLabels(count: 100, classCount: 10)
        for scheme in [SeededPartitionScheme.dirichletEqual, .dirichletNatural, .resourceCorrelated] {
            let error = #expect(throws: FederationError.self) {
                _ = try scheme.partition(labels: labels, classCount: 10, deviceCount: 6, alpha: alpha, seed: 1)
            }
            #expect(error?.option == "alpha")
            #expect(error?.description.contains("alpha is") == true)
        }
        #expect(throws: FederationError.self) { try PartitionScheme.dirichlet(alpha: alpha, shardSizes: .equal)
            .validate() }
        #expect(throws: FederationError.self) { try PartitionScheme.resourceCorrelated(alpha: alpha).validate() }
    }

    @Test("too many devices or out-of-range labels throw with the option named")
    func badInputs() {
        var generator = FederationTestGenerator(seed: 2)
        let tooMany = #expect(throws: FederationError.self) {
            _ = try DataPartition.iid(labels: balancedLabels(count: 5, classCount: 2), classCount: 2,
                                      deviceCount: 6, using: &generator)
        }
        #expect(tooMany?.option == "devices")
        let none = #expect(throws: FederationError.self) {
            _ = try DataPartition.iid(labels: balancedLabels(count: 5, classCount: 2), classCount: 2,
                                      deviceCount: 0, using: &generator)
        }
        #expect(none?.option == "devices")
        let badLabel = #expect(throws: FederationError.self) {
            _ = try DataPartition.dirichletEqualShards(labels: [0, 1, 7], classCount: 2, deviceCount: 1,
                                                       alpha: 1, using: &generator)
        }
        #expect(badLabel?.option == "labels")
        #expect(badLabel?.description.contains("label 7 of sample 2") == true)
        let badGroup = #expect(throws: FederationError.self) {
            _ = try DataPartition.resourceCorrelated(labels: [0, 1, 0, 1], classCount: 2, groupOfDevice: [0, 3],
                                                     groupCount: 2, alpha: 1, using: &generator)
        }
        #expect(badGroup?.option == "groups")
    }

    @Test("partition schemes round-trip through JSON and unknown kinds are rejected")
    func schemeCoding() throws {
        let schemes: [PartitionScheme] = [
            .iid, .dirichlet(alpha: 0.1, shardSizes: .equal), .dirichlet(alpha: 2, shardSizes: .natural),
            .resourceCorrelated(alpha: 0.1), .natural,
        ]
        for scheme in schemes {
            let data = try JSONEncoder().encode(scheme)
            #expect(try JSONDecoder().decode(PartitionScheme.self, from: data) == scheme)
        }
        let defaulted = try JSONDecoder().decode(PartitionScheme.self,
                                                 from: Data(#"{"kind": "dirichlet", "alpha": 0.1}"#.utf8))
        #expect(defaulted == .dirichlet(alpha: 0.1, shardSizes: .equal))
        #expect(throws: DecodingError.self) {
            _ = try JSONDecoder().decode(PartitionScheme.self, from: Data(#"{"kind": "pathological"}"#.utf8))
        }
    }
}

@Suite("Gamma and Dirichlet sampling")
struct DistributionTests {
    @Test("Gamma sample mean and variance match the shape", arguments: [0.1, 0.5, 1.0, 2.5, 10.0])
    func gammaMoments(shape: Double) throws {
        let gamma = try GammaDistribution(shape: shape)
        var generator = FederationTestGenerator(seed: 21)
        let sampleCount = 40_000
        let samples = (0..<sampleCount).map { _ in gamma.sample(using: &generator) }
        #expect(samples.allSatisfy { $0 >= 0 && $0.isFinite })
        let mean = samples.reduce(0, +) / Double(sampleCount)
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(sampleCount - 1)
        // Standard errors at 40,000 samples: mean ≤ 1.6 % of k, variance ≤ 4 % of k (shape 0.1 is the worst).
        #expect(abs(mean / shape - 1) <= 0.05, "mean \(mean) for shape \(shape)")
        #expect(abs(variance / shape - 1) <= 0.15, "variance \(variance) for shape \(shape)")
    }

    @Test("tiny shapes stay exact in log space: E[log X] = ψ(k)")
    func gammaTinyShape() throws {
        let gamma = try GammaDistribution(shape: 0.01)
        var generator = FederationTestGenerator(seed: 22)
        let sampleCount = 20_000
        let logs = (0..<sampleCount).map { _ in gamma.logSample(using: &generator) }
        #expect(logs.allSatisfy { $0.isFinite })
        let meanLog = logs.reduce(0, +) / Double(sampleCount)
        // ψ(0.01) = −1/0.01 − γ + (π²/6)·0.01 + O(10⁻⁶) ≈ −100.561; the standard error is about 0.71.
        let digamma = -100 - 0.577_215_664_9 + Double.pi * Double.pi / 6 * 0.01
        #expect(abs(meanLog - digamma) <= 3, "mean log \(meanLog) vs ψ(0.01) = \(digamma)")
    }

    @Test("Dirichlet samples lie on the simplex with mean α / Σα",
          arguments: [[0.5, 1, 2, 4.5], [Double](repeating: 0.1, count: 10), [100, 100, 100]])
    func dirichletMeans(concentration: [Double]) throws {
        let dirichlet = try DirichletDistribution(concentration: concentration)
        var generator = FederationTestGenerator(seed: 23)
        let sampleCount = 10_000
        var sums = [Double](repeating: 0, count: concentration.count)
        var largestSumError = 0.0
        var smallestComponent = Double.infinity
        for _ in 0..<sampleCount {
            let point = dirichlet.sample(using: &generator)
            largestSumError = max(largestSumError, abs(point.reduce(0, +) - 1))
            smallestComponent = min(smallestComponent, point.min()!)
            for index in point.indices { sums[index] += point[index] }
        }
        #expect(largestSumError <= 1e-12)
        #expect(smallestComponent >= 0)
        // Each component's standard error is below 0.0022 here.
        for (sum, expected) in zip(sums, dirichlet.mean) {
            let mean = sum / Double(sampleCount)
            #expect(abs(mean - expected) <= 0.01, "mean \(mean) vs \(expected)")
        }
    }

    @Test("a tiny concentration still gives a valid point")
    func dirichletTinyConcentration() throws {
        let dirichlet = try DirichletDistribution(symmetric: 0.001, dimension: 50)
        var generator = FederationTestGenerator(seed: 24)
        var largestTotal = 0.0
        for _ in 0..<100 {
            let point = dirichlet.sample(using: &generator)
            #expect(abs(point.reduce(0, +) - 1) <= 1e-12)
            largestTotal += point.max()!
        }
        // With Σα = 0.05 almost all mass sits on one component (E[max] ≈ 0.97).
        #expect(largestTotal / 100 >= 0.9)
    }

    @Test("non-positive parameters throw")
    func badParameters() {
        #expect(throws: FederationError.self) { _ = try GammaDistribution(shape: 0) }
        #expect(throws: FederationError.self) { _ = try GammaDistribution(shape: -.infinity) }
        let error = #expect(throws: FederationError.self) { _ = try DirichletDistribution(symmetric: -1,
                                                                                          dimension: 3) }
        #expect(error?.option == "alpha")
        #expect(throws: FederationError.self) { _ = try DirichletDistribution(concentration: []) }
    }
}
