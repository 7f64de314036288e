import CoCoFLCore
import Foundation
import Platform
import Testing

@Suite("Device groups, resource limits and per-round sampling")
struct DeviceResourceTests {
    @Test("the reference mix has 33 strong, 33 medium and 34 weak devices with contiguous ids")
    func referenceCounts() throws {
        let population = try DeviceMix.reference.population(deviceCount: 100)
        #expect(population.groupSizes == [33, 33, 34])
        #expect(population.mix.groups.map(\.name) == ["strong", "medium", "weak"])
        #expect(population.devices(inGroup: 0) == 0..<33)
        #expect(population.devices(inGroup: 1) == 33..<66)
        #expect(population.devices(inGroup: 2) == 66..<100)
        #expect(population.groupOfDevice == [Int](repeating: 0, count: 33) + [Int](repeating: 1, count: 33)
                    + [Int](repeating: 2, count: 34))
        #expect(population.group(ofDevice: 65).name == "medium")
    }

    @Test("shares scale to any device count with largest-remainder rounding",
          arguments: [(1, [0, 0, 1]), (3, [1, 1, 1]), (7, [2, 2, 3]), (10, [3, 3, 4]), (30, [10, 10, 10]),
                      (1_000, [330, 330, 340])])
    func scaledCounts(deviceCount: Int, expected: [Int]) throws {
        #expect(try DeviceMix.reference.deviceCounts(deviceCount: deviceCount) == expected)
    }

    @Test("counts always sum to N and stay within 1 of the exact quota")
    func countsSumToDevices() throws {
        let mix = DeviceMix(groups: [
            DeviceGroup(name: "a", size: .share(1)), DeviceGroup(name: "b", size: .share(2)),
            DeviceGroup(name: "c", size: .share(3.5)),
        ])
        for deviceCount in 1...250 {
            let counts = try mix.deviceCounts(deviceCount: deviceCount)
            #expect(counts.reduce(0, +) == deviceCount)
            for (count, share) in zip(counts, [1, 2, 3.5]) {
                #expect(abs(Double(count) - Double(deviceCount) * share / 6.5) < 1)
            }
        }
    }

    @Test("groups sized by count are exact; the rest is split by share")
    func mixedSizes() throws {
        let mix = DeviceMix(groups: [
            DeviceGroup(name: "fixed", size: .count(5)), DeviceGroup(name: "small", size: .share(1)),
            DeviceGroup(name: "large", size: .share(3)),
        ])
        #expect(try mix.deviceCounts(deviceCount: 25) == [5, 5, 15])
        let tooFew = #expect(throws: FederationError.self) { _ = try mix.deviceCounts(deviceCount: 4) }
        #expect(tooFew?.option == "devices")
        let countsOnly = DeviceMix(groups: [DeviceGroup(name: "only", size: .count(8))])
        #expect(try countsOnly.deviceCounts(deviceCount: 8) == [8])
        let mismatch = #expect(throws: FederationError.self) { _ = try countsOnly.deviceCounts(deviceCount: 9) }
        #expect(mismatch?.option == "devices")
        #expect(mismatch?.description.contains("set devices to 8") == true)
    }

    @Test("reference limits: constants hold and uniform uploads stay in range, redrawn every round")
    func referenceLimits() throws {
        let population = try DeviceMix.reference.population(deviceCount: 100)
        var generator = FederationTestGenerator(seed: 11)
        let rounds = (0..<20).map { _ in population.drawLimits(using: &generator) }
        for limits in rounds {
            #expect(limits.count == 100)
            for device in population.devices(inGroup: 0) { #expect(limits[device] == .unconstrained) }
            for device in population.devices(inGroup: 1) {
                #expect(limits[device].time == 0.66 && limits[device].memory == 0.66)
                #expect((0.5...1.0).contains(limits[device].upload))
            }
            for device in population.devices(inGroup: 2) {
                #expect(limits[device].time == 0.33 && limits[device].memory == 0.33)
                #expect((0.5...1.0).contains(limits[device].upload))
            }
        }
        // Uploads change between rounds and between devices, and cover the range.
        let mediumDevice = 40
        #expect(Set(rounds.map { $0[mediumDevice].upload }).count == rounds.count)
        #expect(Set(rounds[0][66..<100].map(\.upload)).count == 34)
        let uploads = rounds.flatMap { $0[33..<100].map(\.upload) }
        #expect(uploads.min()! < 0.52 && uploads.max()! > 0.98)
        var again = FederationTestGenerator(seed: 11)
        #expect(population.drawLimits(using: &again) == rounds[0])
    }

    @Test("invalid limits throw naming the group and the field")
    func invalidLimits() {
        let cases: [(ResourceLimit, String)] = [
            (.uniform(lower: 0.9, upper: 0.5), "lower bound above its upper bound"),
            (.constant(0), "greater than 0"), (.constant(-0.5), "greater than 0"),
            (.uniform(lower: -0.1, upper: 0.5), "greater than 0"), (.constant(.nan), "finite"),
            (.uniform(lower: 0.5, upper: .infinity), "finite"),
        ]
        for (limit, problem) in cases {
            let mix = DeviceMix(groups: [
                DeviceGroup(name: "strong", size: .share(1)),
                DeviceGroup(name: "medium", size: .share(1), upload: limit),
            ])
            let error = #expect(throws: FederationError.self) { try mix.validate() }
            #expect(error?.kind == .invalidResourceLimit)
            #expect(error?.option == "medium.upload")
            #expect(error?.description.contains("device group 'medium': upload limit") == true)
            #expect(error?.description.contains(problem) == true, "\(error?.description ?? "")")
            #expect(throws: FederationError.self) { _ = try mix.population(deviceCount: 10) }
        }
        #expect(throws: Never.self) { try ResourceLimit.uniform(lower: 0.5, upper: 0.5).validate(group: "g",
                                                                                                 field: "time") }
    }

    @Test("invalid mixes throw naming the group")
    func invalidMixes() {
        let empty = #expect(throws: FederationError.self) { try DeviceMix(groups: []).validate() }
        #expect(empty?.kind == .invalidDeviceMix)
        let duplicate = #expect(throws: FederationError.self) {
            try DeviceMix(groups: [DeviceGroup(name: "x", size: .share(1)), DeviceGroup(name: "x", size: .count(2))])
                .validate()
        }
        #expect(duplicate?.description.contains("'x'") == true)
        let zeroShare = #expect(throws: FederationError.self) {
            try DeviceMix(groups: [DeviceGroup(name: "weak", size: .share(0))]).validate()
        }
        #expect(zeroShare?.option == "weak.share")
        let zeroCount = #expect(throws: FederationError.self) {
            try DeviceMix(groups: [DeviceGroup(name: "weak", size: .count(0))]).validate()
        }
        #expect(zeroCount?.option == "weak.count")
        let noDevices = #expect(throws: FederationError.self) { _ = try DeviceMix.reference.population(deviceCount: 0) }
        #expect(noDevices?.option == "devices")
    }

    @Test("device mixes round-trip through JSON; limits read as numbers or lower/upper pairs")
    func mixCoding() throws {
        let data = try JSONEncoder().encode(DeviceMix.reference)
        #expect(try JSONDecoder().decode(DeviceMix.self, from: data) == DeviceMix.reference)
        let text = #"""
            {"groups": [{"name": "fast", "count": 4},
                        {"name": "slow", "share": 0.5, "time": 0.25, "upload": {"lower": 0.5, "upper": 1.0}}]}
            """#
        let mix = try JSONDecoder().decode(DeviceMix.self, from: Data(text.utf8))
        #expect(mix.groups[0] == DeviceGroup(name: "fast", size: .count(4)))
        #expect(mix.groups[1] == DeviceGroup(name: "slow", size: .share(0.5), time: .constant(0.25),
                                             upload: .uniform(lower: 0.5, upper: 1.0)))
        let both = #"{"groups": [{"name": "odd", "share": 1, "count": 3}]}"#
        #expect(throws: DecodingError.self) { _ = try JSONDecoder().decode(DeviceMix.self, from: Data(both.utf8)) }
    }

    @Test("per-round sampling picks K distinct devices, reproducibly and evenly")
    func sampling() throws {
        let sampler = try DeviceSampler(perRound: 10, deviceCount: 100)
        var generator = FederationTestGenerator(seed: 31)
        var timesChosen = [Int](repeating: 0, count: 100)
        var rounds: [[Int]] = []
        for _ in 0..<2_000 {
            let chosen = sampler.sample(using: &generator)
            #expect(chosen.count == 10)
            #expect(zip(chosen, chosen.dropFirst()).allSatisfy { $0 < $1 })
            #expect(chosen.allSatisfy { (0..<100).contains($0) })
            for device in chosen { timesChosen[device] += 1 }
            rounds.append(chosen)
        }
        // Each device is expected 200 times with a standard deviation of about 13.4; allow 5 of them.
        #expect(timesChosen.allSatisfy { abs($0 - 200) <= 67 }, "\(timesChosen.min()!)…\(timesChosen.max()!)")
        var again = FederationTestGenerator(seed: 31)
        #expect(sampler.sample(using: &again) == rounds[0])
        var other = FederationTestGenerator(seed: 32)
        #expect(sampler.sample(using: &other) != rounds[0])
        var all = FederationTestGenerator(seed: 1)
        #expect(try DeviceSampler(perRound: 7, deviceCount: 7).sample(using: &all) == Array(0..<7))
    }

    @Test("sampling more devices than exist, or none, names per_round",
          arguments: [(11, 10), (0, 10), (-3, 10)])
    func badSampling(perRound: Int, deviceCount: Int) {
        let error = #expect(throws: FederationError.self) {
            _ = try DeviceSampler(perRound: perRound, deviceCount: deviceCount)
        }
        #expect(error?.kind == .invalidSampling)
        #expect(error?.option == "per_round")
        #expect(error?.description.contains("1...\(deviceCount)") == true)
    }
}
