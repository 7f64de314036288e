import CoCoFLCore
import Foundation
import Platform
import Strategies
import Testing

/// The HeteroFL family chooses the largest width ratio whose measured costs fit, like CoCoFL's windows; HeteroFL's
/// analytic rule stays an option.
@Suite("Sub-model costs")
struct SubModelCostTests {
    /// A hand-made profile: measured costs that differ from r² (time), r (memory) and r² (upload) on purpose.
    static let profile = ModelProfile(
        model: "hand-made", inputShape: [1, 28, 28], classes: 10, batch: 32, repeats: 1, unitNames: ["a", "b"], windows: [],
        subModels: [
            SubModelCost(ratio: 1, timeSeconds: 0.02, timeRatio: 1, memoryBytes: 1000, memoryRatio: 1, uploadBytes: 400, uploadRatio: 1),
            SubModelCost(ratio: 0.5, timeSeconds: 0.011, timeRatio: 0.55, memoryBytes: 700, memoryRatio: 0.7, uploadBytes: 110, uploadRatio: 0.275),
            SubModelCost(ratio: 0.25, timeSeconds: 0.008, timeRatio: 0.4, memoryBytes: 450, memoryRatio: 0.45, uploadBytes: 32, uploadRatio: 0.08),
            SubModelCost(ratio: 0.125, timeSeconds: 0.006, timeRatio: 0.3, memoryBytes: 300, memoryRatio: 0.3, uploadBytes: 10, uploadRatio: 0.025),
        ])

    static func strategy(_ options: [String: String] = [:]) throws -> SubModelStrategy {
        let environment = StrategyEnvironment(modelName: "hand-made", unitCount: 2, profile: profile)
        return try #require(try SubModelStrategy.entries[0].instantiate(options: options, environment: environment) as? SubModelStrategy)
    }

    @Test("measured: the largest ratio whose measured time, memory and upload fit", arguments: [
        // (time, memory, upload) → ratio
        (DeviceLimits(time: 1, memory: 1, upload: 1), Optional(1.0)),
        (DeviceLimits(time: 0.66, memory: 0.66, upload: 0.6), Optional(0.25)),   // 0.5 needs memory 0.7
        (DeviceLimits(time: 0.66, memory: 0.7, upload: 0.5), Optional(0.5)),
        (DeviceLimits(time: 0.33, memory: 0.33, upload: 0.5), Optional(0.125)),
        (DeviceLimits(time: 0.25, memory: 1, upload: 1), nil),                  // nothing runs in a quarter of the time
    ])
    func measuredChoice(limits: DeviceLimits, expected: Double?) throws {
        #expect(try Self.strategy().ratio(for: limits) == expected)
    }

    @Test("analytic: HeteroFL's rule r² ≤ time, r ≤ memory, r² ≤ upload, whatever was measured")
    func analyticChoice() throws {
        let analytic = try Self.strategy(["costs": "analytic"])
        #expect(analytic.ratio(for: DeviceLimits(time: 0.66, memory: 0.66, upload: 0.6)) == 0.5)    // 0.25 ≤ 0.66, 0.5 ≤ 0.66
        #expect(analytic.ratio(for: DeviceLimits(time: 0.33, memory: 0.33, upload: 0.5)) == 0.25)   // 0.0625, 0.25
        #expect(analytic.ratio(for: DeviceLimits(time: 0.01, memory: 1, upload: 1)) == nil)
        // The reference groups under each rule: medium 0.66 and weak 0.33 limits.
        let measured = try Self.strategy()
        #expect(measured.ratio(for: DeviceLimits(time: 0.33, memory: 0.33, upload: 1)) == 0.125)
        #expect(analytic.ratio(for: DeviceLimits(time: 0.33, memory: 0.33, upload: 1)) == 0.25)
    }

    @Test("a ratio without a measured cost, or an unknown costs value, is an error naming it and the fix")
    func errors() throws {
        let missing = try #require(throws: StrategyError.self) { try Self.strategy(["ratios": "1,0.3"]) }
        #expect(missing.description.contains("width ratio 0.3 has no measured cost"))
        #expect(missing.description.contains("profiled: 1.0, 0.5, 0.25, 0.125"))
        #expect(missing.description.contains("costs = \"analytic\""))
        #expect(try Self.strategy(["ratios": "1,0.3", "costs": "analytic"]).ratio(for: DeviceLimits(time: 0.1, memory: 0.3, upload: 0.1)) == 0.3)
        let unknown = try #require(throws: StrategyError.self) { try Self.strategy(["costs": "guessed"]) }
        #expect(unknown.description == "option 'costs' of strategy 'heterofl' must be 'measured' or 'analytic', got 'guessed'")
    }

    @Test("the profile keeps its sub-models through JSON; window-only profiles decode with none")
    func profileJSON() throws {
        let data = try JSONEncoder().encode(Self.profile)
        #expect(try JSONDecoder().decode(ModelProfile.self, from: data) == Self.profile)
        let windowsOnly = #"{"batch":32,"classes":10,"inputShape":[1,28,28],"model":"m","repeats":1,"unitNames":["a"],"windows":[]}"#
        let decoded = try JSONDecoder().decode(ModelProfile.self, from: Data(windowsOnly.utf8))
        #expect(decoded.subModels.isEmpty && decoded.contents.isEmpty)
        #expect(Self.profile.contents == .subModels)
    }
}
