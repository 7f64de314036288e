import CoCoFLCore
import Foundation
import NN
import Storage
import Testing
import TestSupport

/// A refactor must not change results: the small campaign in Tests/Fixtures/same-results (every built-in kind of
/// local work) gives the metrics and final checkpoints stored in its expected.json, bit for bit.
///
/// The run is made reproducible across machines: CoCoFL chooses windows from the stored profile.json (handed in the
/// way a campaign's parent hands profiles to its workers), the binary computes on 1 thread (oneDNN's reductions
/// depend on the thread count) and oneDNN is limited to AVX2 kernels (AVX-512 kernels sum in another order). To
/// write the fixture anew — only when a change is meant to change results, saying so in the commit — run this test
/// with `COCOFL_WRITE_FIXTURE=1`.
@Suite("Same results as the stored fixture", .heavy)
struct SameResultsTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/same-results")
    static let environment = ["OMP_NUM_THREADS": "1", "DNNL_MAX_CPU_ISA": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"]

    /// What is compared of one run: every metric column but the wall-clock one, and a digest of each checkpoint.
    struct RunDigest: Codable, Equatable {
        var metrics: [String: [Double]]
        var checkpointRounds: [Int]
        /// FNV-1a over every key, shape and float bit pattern of the final checkpoint's parameters.
        var finalCheckpoint: String
    }

    static var hasAVX2: Bool {
        ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "").contains(" avx2")
    }

    @Test("the fixture campaign gives the stored metrics and checkpoints bit for bit", .enabled(if: hasAVX2))
    func sameAsFixture() throws {
        let directory = try TemporaryDirectory()
        let campaign = Self.folder.appendingPathComponent("campaign.toml").path
        let profileFile = Self.folder.appendingPathComponent("profile.json")
        let expectedFile = Self.folder.appendingPathComponent("expected.json")
        let writing = ProcessInfo.processInfo.environment["COCOFL_WRITE_FIXTURE"] == "1"
        if writing && !FileManager.default.fileExists(atPath: profileFile.path) {
            // Measure the profile once with the campaign's own settings and keep it.
            let out = directory.path("measure.h5")
            let measured = try Self.run(campaign: campaign, out: out, profiles: Data())
            try #require(measured.status == 0, "\(measured.error)")
            let profile = try ResultsFile(path: out, access: .readOnly).openRun("cocofl-fashion-mnist-resnet8-a0.5-s7").storedProfile()
            try JSONEncoder().encode([try #require(profile)]).write(to: profileFile)
        }
        let out = directory.path("fixture.h5")
        let result = try Self.run(campaign: campaign, out: out, profiles: try Data(contentsOf: profileFile))
        try #require(result.status == 0, "\(result.error)")
        let digests = try Self.digests(of: out)
        #expect(digests.count == 4)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if writing {
            try encoder.encode(digests).write(to: expectedFile)
            return
        }
        let expected = try JSONDecoder().decode([String: RunDigest].self, from: Data(contentsOf: expectedFile))
        #expect(digests.keys.sorted() == expected.keys.sorted())
        for (name, digest) in expected {
            let actual = try #require(digests[name], "run \(name) is missing")
            #expect(actual.checkpointRounds == digest.checkpointRounds, "\(name)")
            #expect(actual.finalCheckpoint == digest.finalCheckpoint, "final checkpoint of \(name)")
            #expect(actual.metrics.keys.sorted() == digest.metrics.keys.sorted(), "metric columns of \(name)")
            for (column, values) in digest.metrics {
                let same = actual.metrics[column].map { zip($0, values).allSatisfy { $0.bitPattern == $1.bitPattern } && $0.count == values.count } ?? false
                #expect(same, "\(name) \(column): \(actual.metrics[column] ?? []) vs \(values)")
            }
        }
    }

    /// Runs the campaign as a worker does: the profiles on standard input instead of measured.
    static func run(campaign: String, out: String, profiles: Data) throws -> Tool.Result {
        try Tool.run(["campaign", campaign, "--out", out, "--plain", "--worker"], environment: environment, input: profiles)
    }

    static func digests(of path: String) throws -> [String: RunDigest] {
        let results = try ResultsFile(path: path, access: .readOnly)
        var digests: [String: RunDigest] = [:]
        for name in try results.runNames() {
            let record = try results.openRun(name)
            let metrics = try record.metrics().filter { $0.key != "seconds" }
            let checkpoint = try #require(try record.latestCheckpoint())
            digests[name] = RunDigest(metrics: metrics, checkpointRounds: try record.checkpointRounds(),
                                      finalCheckpoint: digest(checkpoint.parameters))
        }
        return digests
    }

    static func digest(_ parameters: [NamedArray]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        func mix(_ word: UInt64) { for shift in stride(from: 0, to: 64, by: 8) { mix(UInt8(truncatingIfNeeded: word >> UInt64(shift))) } }
        for parameter in parameters {
            for byte in parameter.key.utf8 { mix(byte) }
            for extent in parameter.shape { mix(UInt64(extent)) }
            for value in parameter.values { mix(UInt64(value.bitPattern)) }
        }
        return String(hash, radix: 16)
    }
}
