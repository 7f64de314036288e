import Foundation
import Testing

/// The `cocofl` binary built next to this test bundle, run as a child process.
enum Tool {
    /// The build directory holding the test bundle and the `cocofl` executable.
    static let binary: URL = {
        let candidates = [CommandLine.arguments.first.map { URL(fileURLWithPath: $0).deletingLastPathComponent() },
                          Bundle.main.executableURL?.deletingLastPathComponent(), Bundle.main.bundleURL.deletingLastPathComponent()]
        for directory in candidates.compactMap({ $0 }) {
            let url = directory.appendingPathComponent("cocofl")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return URL(fileURLWithPath: "cocofl-not-found-next-to-the-test-bundle")
    }()

    /// What a finished command left behind.
    struct Result {
        let status: Int32
        let output: String
        let error: String

        /// The non-empty lines of standard error.
        var errorLines: [String] { error.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty } }
    }

    /// Runs `cocofl arguments…` to completion in `directory`.
    static func run(_ arguments: [String], in directory: URL? = nil, executable: URL = binary,
                    environment: [String: String] = [:], input: Data? = nil) throws -> Result {
        try finish(try launch(arguments, in: directory, executable: executable, environment: environment, input: input))
    }

    /// Waits for a launched process, reading both pipes to the end first so a chatty child never blocks on a
    /// full pipe.
    static func finish(_ process: Launched) throws -> Result {
        let output = process.outputPipe.fileHandleForReading.readDataToEndOfFile()
        let error = process.errorPipe.fileHandleForReading.readDataToEndOfFile()
        process.process.waitUntilExit()
        return Result(status: process.process.terminationStatus, output: String(decoding: output, as: UTF8.self),
                      error: String(decoding: error, as: UTF8.self))
    }

    /// A started child process with its pipes.
    struct Launched {
        let process: Process
        let outputPipe: Pipe
        let errorPipe: Pipe

        /// Reads standard error until it contains `text` or the child closes it; returns what was read.
        func readError(until text: String) -> String { read(errorPipe, untilAll: [text]) }

        /// Reads standard error until it contains every one of `texts` or the child closes it; returns what was read.
        func readError(untilAll texts: [String]) -> String { read(errorPipe, untilAll: texts) }

        /// Reads standard output until it contains `text` or the child closes it; returns what was read.
        func readOutput(until text: String) -> String { read(outputPipe, untilAll: [text]) }

        private func read(_ pipe: Pipe, untilAll texts: [String]) -> String {
            var seen = ""
            while !texts.allSatisfy(seen.contains) {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            return seen
        }
    }

    /// Runs `cocofl arguments…` to completion under a file-size limit (`ulimit -f`, in KiB): writes past it fail
    /// as they would on a full disk.
    static func run(_ arguments: [String], fileSizeLimitKiB: Int) throws -> Result {
        let quoted = ([binary.path] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        return try finish(try launch(["-c", "ulimit -f \(fileSizeLimitKiB); exec " + quoted.joined(separator: " ")],
                                     executable: URL(fileURLWithPath: "/bin/bash")))
    }

    /// Starts `cocofl arguments…` (or another executable) without waiting.
    static func launch(_ arguments: [String], in directory: URL? = nil, executable: URL = binary,
                       environment: [String: String] = [:], input: Data? = nil) throws -> Launched {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        // The child inherits the test process's environment, OMP_NUM_THREADS included: results are compared bit
        // for bit with in-process runs, and oneDNN's reductions depend on the thread count.
        if let directory { process.currentDirectoryURL = directory }
        let (output, error) = (Pipe(), Pipe())
        process.standardOutput = output
        process.standardError = error
        let inputPipe = input.map { _ in Pipe() }
        if let inputPipe { process.standardInput = inputPipe }
        try process.run()
        if let input, let inputPipe {
            // Written whole, then closed: the child reads its standard input to the end before it starts.
            try inputPipe.fileHandleForWriting.write(contentsOf: input)
            try inputPipe.fileHandleForWriting.close()
        }
        return Launched(process: process, outputPipe: output, errorPipe: error)
    }
}

/// A fresh temporary directory, removed when the value goes away.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cocofl-command-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// The path of `name` inside the directory.
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `text` to `name` and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }
}

/// A small campaign on real Fashion-MNIST: 10 devices, 3 per round, 1,000 training and 100 test images.
func smallCampaign(strategies: [String] = ["cocofl"], rounds: Int = 6, extraRun: String = "", extraTop: String = "") -> String {
    """
    description = "command tests"
    \(extraTop)
    [grid]
    strategies = [\(strategies.map { "\"\($0)\"" }.joined(separator: ", "))]
    datasets = ["fashion-mnist"]
    models = ["resnet8"]
    alphas = [0.5]
    seeds = [3]

    [run]
    rounds = \(rounds)
    devices = 10
    per_round = 3
    eval_every = 1
    checkpoint_every = 2
    train_subset = 1000
    test_subset = 100
    profile_repeats = 1
    lr = 0.05
    bn_eval = "aggregated"
    \(extraRun)
    """
}

/// Expects a command to have failed cleanly: non-zero status, one error line (the last line on standard error;
/// progress lines such as "loading fashion-mnist…" may come before it) and no crash trace.
func expectOneLineError(_ result: Tool.Result, mentioning needles: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status != 0, "exit status \(result.status)", sourceLocation: sourceLocation)
    let errors = result.errorLines.filter { $0.hasPrefix("Error: ") }
    #expect(errors.count == 1, "stderr: \(result.error)", sourceLocation: sourceLocation)
    #expect(result.errorLines.last?.hasPrefix("Error: ") == true, "stderr: \(result.error)", sourceLocation: sourceLocation)
    let line = errors.first ?? ""
    for needle in needles {
        #expect(line.contains(needle), "'\(needle)' not in: \(line)", sourceLocation: sourceLocation)
    }
    for trace in ["Fatal error", "Stack dump", "Backtrace", "Current stack trace", "Usage:"] {
        #expect(!result.error.contains(trace), sourceLocation: sourceLocation)
    }
}

/// Uninterrupted reference campaigns that several tests compare with, each run once per test process (keyed by the
/// campaign's text and the environment) into a directory removed when the process exits. A test may `start` one
/// before work of its own and collect it with `run` afterwards: a 1-thread reference then shares the cores with
/// 1-thread workers or ranks instead of running before them.
enum ReferenceCampaigns {
    /// A reference: the results file and what the command printed.
    struct Reference {
        let path: String
        let result: Tool.Result
    }

    private enum State {
        case running(Tool.Launched, out: String)
        case finished(Result<Reference, any Error>)
    }

    private static let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("cocofl-command-tests-references-\(getpid())")
    private static let lock = NSLock()
    nonisolated(unsafe) private static var states: [String: State] = [:]

    private static func key(_ text: String, _ environment: [String: String]) -> String {
        text + "\n" + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
    }

    /// Starts the campaign in the background (its output is small: it waits in the pipes). Call with the lock held.
    private static func launch(_ text: String, environment: [String: String]) -> State {
        do {
            if states.isEmpty {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                atexit { try? FileManager.default.removeItem(at: ReferenceCampaigns.directory) }
            }
            let name = "reference-\(states.count)"
            let campaign = directory.appendingPathComponent(name + ".toml").path
            try text.write(toFile: campaign, atomically: true, encoding: .utf8)
            let out = directory.appendingPathComponent(name + ".h5").path
            return .running(try Tool.launch(["campaign", campaign, "--out", out, "--plain"], environment: environment), out: out)
        } catch {
            return .finished(.failure(error))
        }
    }

    /// Starts `cocofl campaign` on `text` with `environment` in the background, unless it was started before.
    static func start(_ text: String, environment: [String: String] = [:]) {
        lock.lock()
        defer { lock.unlock() }
        let key = key(text, environment)
        if states[key] == nil { states[key] = launch(text, environment: environment) }
    }

    /// The results of `cocofl campaign` on `text` with `environment`: started now unless `start` did, waited for
    /// once; a failed run throws for every test that needs it.
    static func run(_ text: String, environment: [String: String] = [:]) throws -> Reference {
        lock.lock()
        defer { lock.unlock() }
        let key = key(text, environment)
        if states[key] == nil { states[key] = launch(text, environment: environment) }
        if case .running(let launched, let out) = states[key]! {
            let outcome = Result<Reference, any Error> {
                let result = try Tool.finish(launched)
                guard result.status == 0 else { throw ReferenceFailed(description: "reference campaign failed: \(result.error)") }
                return Reference(path: out, result: result)
            }
            states[key] = .finished(outcome)
        }
        guard case .finished(let outcome) = states[key]! else { preconditionFailure("a reference left running") }
        return try outcome.get()
    }

    struct ReferenceFailed: Error, CustomStringConvertible {
        let description: String
    }
}
