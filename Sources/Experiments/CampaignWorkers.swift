import CoCoFLCore
import Foundation
import NN
import Platform
import Storage

/// How to start the worker process of one run: the same binary, told to run only that run and to report its events
/// as JSON lines (`WorkerProtocol`).
public struct WorkerLaunch: Sendable {
    public var executable: URL
    public var arguments: [String]
    /// Set on top of the parent's environment (e.g. `OMP_NUM_THREADS`).
    public var environment: [String: String]
    /// Written to the worker's standard input, which is then closed (the profiles it chooses windows from).
    public var input: Data

    public init(executable: URL, arguments: [String], environment: [String: String], input: Data) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.input = input
    }
}

/// What a worker writes on standard output: one `CampaignEvent` per line, JSON.
public enum WorkerProtocol {
    /// One event as a line (without the newline).
    public static func line(_ event: CampaignEvent) throws -> String {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(event), as: UTF8.self)
    }

    /// The event of a line, or nil for a line that is not one (a plugin printing to standard output).
    public static func event(_ line: Substring) -> CampaignEvent? {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try? decoder.decode(CampaignEvent.self, from: Data(line.utf8))
    }

    /// The profiles handed to a worker on standard input.
    public static func encodeProfiles(_ profiles: [ModelProfile]) throws -> Data { try JSONEncoder().encode(profiles) }

    /// The profiles a worker read from standard input (empty input: none).
    public static func decodeProfiles(_ data: Data) throws -> [ModelProfile] {
        data.isEmpty ? [] : try JSONDecoder().decode([ModelProfile].self, from: data)
    }
}

/// Runs a planned campaign's runs in up to `workers` child processes at once, one run per process: a run that
/// crashes its process (a plugin's segfault, a precondition) is recorded as `failed` with the signal or exit status
/// and the end of its standard error, and the other runs go on. The parent keeps the campaign file; each worker
/// writes only its run's file.
public final class CampaignWorkers {
    private let runs: [CampaignRun]
    private let starts: [CampaignRunner.Start]
    private let campaignFile: String
    private let workers: Int
    private let toolVersion: String
    private let launch: (CampaignRun) throws -> WorkerLaunch
    /// Polled between events; when it returns true every worker is sent SIGTERM (each checkpoints its last
    /// completed round and ends `interrupted`) and no further run starts.
    public var stopRequested: (() -> Bool)?

    /// Workers for `runs` as planned by `runner` (already validated, planned, profiled and linked with
    /// `prepareRunFiles`).
    public init(runs: [CampaignRun], starts: [CampaignRunner.Start], campaignFile: String, workers: Int, toolVersion: String,
                launch: @escaping (CampaignRun) throws -> WorkerLaunch) {
        precondition(runs.count == starts.count && workers >= 1)
        self.runs = runs
        self.starts = starts
        self.campaignFile = campaignFile
        self.workers = workers
        self.toolVersion = toolVersion
        self.launch = launch
    }

    /// Runs every run that is not skipped, reporting the workers' events (run numbers and ETA of the whole
    /// campaign) through `events` on the calling thread.
    public func run(events: (CampaignEvent) -> Void) throws -> CampaignOutcome {
        var outcome = CampaignOutcome()
        let total = runs.count
        var queue: [Int] = []
        for (index, start) in starts.enumerated() {
            if start == .skip {
                events(.skipped(index: index + 1, total: total, name: runs[index].name))
                outcome.skipped.append(runs[index].name)
            } else {
                queue.append(index)
            }
        }
        let hub = WorkerHub()
        var running: [Int: Worker] = [:]
        var remainingRounds = queue.reduce(0) { $0 + runs[$1].configuration.rounds }
        var roundsDone = 0
        let started = Date()
        var stopping = false
        while !queue.isEmpty || !running.isEmpty {
            if !stopping, let stopRequested, stopRequested() {
                stopping = true
                queue.removeAll()
                for worker in running.values { kill(worker.process.processIdentifier, SIGTERM) }
            }
            while !stopping, running.count < workers, let index = queue.first {
                queue.removeFirst()
                running[index] = try Worker(index: index, launch: try launch(runs[index]), hub: hub)
            }
            hub.wait(timeout: 0.25)
            for message in hub.drain() {
                guard let worker = running[message.index] else { continue }
                switch message.kind {
                case .event(let event):
                    switch event {
                    case .starting(_, _, let name, let resumed):
                        remainingRounds -= resumed ?? 0
                        events(.starting(index: message.index + 1, total: total, name: name, resumingAfterRound: resumed))
                    case .round(_, _, let name, let metrics, let rounds, _):
                        roundsDone += 1
                        remainingRounds -= 1
                        let perRound = Date().timeIntervalSince(started) / Double(roundsDone)
                        worker.completedRounds = metrics.round
                        events(.round(index: message.index + 1, total: total, name: name, metrics: metrics, rounds: rounds,
                                      remainingSeconds: Double(max(remainingRounds, 0)) * perRound))
                    case .finished(_, _, let name, let status, let text):
                        worker.finished = (status, text)
                        if status == .failed { remainingRounds -= runs[message.index].configuration.rounds - worker.completedRounds }
                        events(.finished(index: message.index + 1, total: total, name: name, status: status, message: text))
                    case .message(let text):
                        events(.message("\(runs[message.index].name): \(text)"))
                    case .skipped(_, _, let name):
                        worker.finished = (.complete, "")
                        events(.skipped(index: message.index + 1, total: total, name: name))
                    }
                case .exited:
                    running[message.index] = nil
                    let run = runs[message.index]
                    switch worker.finished?.status {
                    case .complete?:
                        outcome.completed.append(run.name)
                    case .failed?:
                        outcome.failed[run.name] = worker.finished?.message ?? ""
                    case .interrupted?:
                        outcome.interrupted = (run.name, worker.completedRounds)
                    case .running?, nil:
                        // The worker ended without saying how the run ended: killed by a signal, or an error before
                        // its first event. The parent records it.
                        let report = worker.deathReport()
                        do {
                            try recordFailure(of: run, message: report)
                        } catch {
                            events(.message("could not record the failure of '\(run.name)': \(CampaignRunner.oneLine(error))"))
                        }
                        outcome.failed[run.name] = report
                        remainingRounds -= run.configuration.rounds - worker.completedRounds
                        events(.finished(index: message.index + 1, total: total, name: run.name, status: .failed, message: report))
                    }
                }
            }
        }
        return outcome
    }

    /// Marks a run whose worker died as `failed` in its run file (creating the file when the worker died before
    /// writing it).
    private func recordFailure(of run: CampaignRun, message: String) throws {
        let location = try ResultsFile(path: campaignFile, access: .readOnly).runLocation(run.name)
        let stored: String? = switch location {
        case .embedded?: campaignFile
        case .linked(let file, true)?: file
        default: nil
        }
        if let stored {
            try ResultsFile(path: stored, access: .createOrAppend(toolVersion: toolVersion)).openRun(run.name).setStatus(.failed, message: message)
            return
        }
        let configuration = run.configuration
        try ResultsFile(path: ResultsFile.runFilePath(of: campaignFile, run: run.name), access: .createOrAppend(toolVersion: toolVersion))
            .createRun(run.name, specification: RunSpecification(
                strategy: configuration.strategy, dataset: configuration.dataset, model: configuration.model,
                seed: Int64(bitPattern: configuration.seed), configuration: try RunRecord.configurationJSON(configuration),
                toolVersion: toolVersion))
            .setStatus(.failed, message: message)
    }
}

/// Messages from the workers' reader threads to the scheduling loop.
private final class WorkerHub: @unchecked Sendable {
    enum Kind {
        case event(CampaignEvent)
        case exited
    }

    struct Message {
        let index: Int
        let kind: Kind
    }

    private let lock = NSCondition()
    private var messages: [Message] = []

    func post(_ message: Message) {
        lock.lock()
        messages.append(message)
        lock.signal()
        lock.unlock()
    }

    func wait(timeout: Double) {
        lock.lock()
        if messages.isEmpty { _ = lock.wait(until: Date().addingTimeInterval(timeout)) }
        lock.unlock()
    }

    func drain() -> [Message] {
        lock.lock()
        defer { lock.unlock() }
        let drained = messages
        messages.removeAll()
        return drained
    }
}

/// One worker process and what it said.
private final class Worker: @unchecked Sendable {
    let process = Process()
    var finished: (status: RunStatus, message: String)?
    var completedRounds = 0
    private let errorTail = ErrorTail()

    init(index: Int, launch: WorkerLaunch, hub: WorkerHub) throws {
        process.executableURL = launch.executable
        process.arguments = launch.arguments
        process.environment = ProcessInfo.processInfo.environment.merging(launch.environment) { $1 }
        let (input, output, error) = (Pipe(), Pipe(), Pipe())
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        let done = DispatchGroup()
        try process.run()
        let tail = errorTail
        done.enter()
        Thread.detachNewThread {
            let handle = output.fileHandleForReading
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    if let event = WorkerProtocol.event(Substring(line)) { hub.post(.init(index: index, kind: .event(event))) }
                }
            }
            done.leave()
        }
        done.enter()
        Thread.detachNewThread {
            let handle = error.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                tail.append(chunk)
            }
            done.leave()
        }
        let process = self.process
        Thread.detachNewThread {
            input.fileHandleForWriting.write(launch.input)
            try? input.fileHandleForWriting.close()
            // Exited only once both pipes are read to the end, so no event comes after it.
            done.wait()
            process.waitUntilExit()
            hub.post(.init(index: index, kind: .exited))
        }
    }

    /// How the worker ended, with the end of its standard error.
    func deathReport() -> String {
        let how: String
        if process.terminationReason == .uncaughtSignal {
            let number = process.terminationStatus
            how = "its worker process \(process.processIdentifier) was killed by signal \(number) (\(Self.signalName(number)))"
        } else {
            how = "its worker process \(process.processIdentifier) exited with status \(process.terminationStatus) before recording how the run ended"
        }
        let tail = errorTail.text
        return how + (tail.isEmpty ? "" : "; its last standard error: \(tail)")
    }

    static func signalName(_ number: Int32) -> String {
        let names: [Int32: String] = [SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGKILL: "SIGKILL", SIGBUS: "SIGBUS", SIGILL: "SIGILL",
                                      SIGFPE: "SIGFPE", SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGTRAP: "SIGTRAP"]
        return names[number] ?? "signal \(number)"
    }
}

/// What a worker wrote on standard error, kept for its death report: the crash lines of the first 4 KB (Swift's
/// "*** Program crashed: …" and "Fatal error: …" come first, before the backtrace) and the last 2 KB.
private final class ErrorTail: @unchecked Sendable {
    private let lock = NSLock()
    private var head = Data()
    private var tail = Data()
    private static let limit = 2000

    func append(_ chunk: Data) {
        lock.lock()
        if head.count < 2 * Self.limit { head.append(chunk.prefix(2 * Self.limit - head.count)) }
        tail.append(chunk)
        if tail.count > 2 * Self.limit { tail = tail.suffix(Self.limit) }
        lock.unlock()
    }

    /// The crash lines when there are any, otherwise the last lines; on one line.
    var text: String {
        lock.lock()
        defer { lock.unlock() }
        func lines(_ data: Data) -> [String] {
            String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let crash = lines(head).filter { $0.hasPrefix("*** Program crashed") || $0.contains("Fatal error") || $0.hasPrefix("Error:") }
        return (crash.isEmpty ? Array(lines(tail.suffix(Self.limit)).suffix(6)) : Array(crash.prefix(3))).joined(separator: " | ")
    }
}
