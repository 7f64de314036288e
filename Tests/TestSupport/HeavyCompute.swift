import Foundation
import Testing

/// A trait for tests that compute with oneDNN or run the `cocofl` binary: such tests run one at a time across the
/// whole test process (every test target runs in the same process).
///
/// Each heavy test uses every core through OpenMP; two at once on a small machine do not share the cores but spin
/// against each other (measured on 2 cores: the end-to-end suite took 131 s in parallel and 34 s one test at a
/// time). Light tests still run alongside. Put `.heavy` on a suite to serialize every test case in it with every
/// other heavy test case.
public struct HeavyCompute: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    /// Awaited before the gate is taken: a slow fixture (a build) that would otherwise keep every heavy test waiting.
    let prerequisite: (@Sendable () async throws -> Void)?

    public init(after prerequisite: (@Sendable () async throws -> Void)? = nil) {
        self.prerequisite = prerequisite
    }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // Suites and whole test functions pass through; each test case takes the gate for its own body.
        guard testCase != nil else {
            try await function()
            return
        }
        try await prerequisite?()
        await HeavyComputeGate.shared.acquire()
        let start = Date()
        let startCPU = cpuSeconds()
        defer {
            // COCOFL_TEST_TIMINGS=1 prints how long each heavy case held the gate: the suite's critical path.
            if ProcessInfo.processInfo.environment["COCOFL_TEST_TIMINGS"] == "1" {
                // Also when it took the gate, in seconds since the process started: gaps show where no heavy case ran.
                // And the cores it kept busy: CPU seconds of this process and its finished children per second.
                let wall = Date().timeIntervalSince(start)
                print(String(format: "[heavy] %6.1f s  at %6.1f s  %4.2f cores  %@", wall, start.timeIntervalSince(processStart),
                             (cpuSeconds() - startCPU) / max(wall, 1e-3), test.name))
            }
        }
        do {
            try await function()
        } catch {
            await HeavyComputeGate.shared.release()
            throw error
        }
        await HeavyComputeGate.shared.release()
    }
}

extension Trait where Self == HeavyCompute {
    /// Runs the test's cases one at a time with every other heavy test case of the process.
    public static var heavy: HeavyCompute { HeavyCompute() }

    /// As `.heavy`, but awaits `prerequisite` (e.g. building a fixture) before taking the gate, so that other heavy
    /// tests run meanwhile.
    public static func heavy(after prerequisite: @escaping @Sendable () async throws -> Void) -> HeavyCompute {
        HeavyCompute(after: prerequisite)
    }
}

/// CPU seconds (user and system) of this process and of its children that have been waited for.
private func cpuSeconds() -> Double {
    var total = 0.0
    for who in [RUSAGE_SELF.rawValue, RUSAGE_CHILDREN.rawValue] {
        var usage = rusage()
        getrusage(who, &usage)
        total += Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
    return total
}

/// When this process started (from /proc/self/stat), for the timings of `COCOFL_TEST_TIMINGS=1`.
private let processStart: Date = {
    let stat = (try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8)) ?? ""
    let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
    // Field 22 of the whole line (the 20th after the command name) is the start time in clock ticks since boot.
    guard fields.count > 19, let ticks = Double(fields[19]),
          let uptime = (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8))?.split(separator: " ").first.flatMap({ Double($0) })
    else { return Date() }
    return Date().addingTimeInterval(ticks / Double(sysconf(Int32(_SC_CLK_TCK))) - uptime)
}()

/// A first-come, first-served gate: one holder at a time, waiters suspended (never blocking a thread, so that the
/// test runner's few threads stay free for the holder and for light tests).
actor HeavyComputeGate {
    static let shared = HeavyComputeGate()
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            held = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
