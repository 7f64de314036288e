import Dispatch
import Foundation
import Synchronization

/// SIGINT (Ctrl-C) and SIGTERM (what Slurm and most schedulers send at a time limit) as a stop request: the first
/// one asks the running work to stop after its last completed round (it is checkpointed and marked
/// `interrupted`); a second one exits at once, like kill -9, which leaves the results file readable up to its
/// last flushed round.
final class StopSignals: @unchecked Sendable {
    /// The signal that asked to stop, 0 while none did.
    private let received = Atomic<Int32>(0)
    /// Kept alive so the handlers stay installed; written once, in init.
    private let sources: [any DispatchSourceSignal]

    /// Installs the handlers; they stay for the life of the process.
    init() {
        let queue = DispatchQueue(label: "cocofl.stop-signals")
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)  // delivered through the dispatch source instead of the default (exit)
            sources.append(DispatchSource.makeSignalSource(signal: number, queue: queue))
        }
        self.sources = sources
        for (source, number) in zip(sources, [SIGINT, SIGTERM]) {
            source.setEventHandler { [self] in
                let name = number == SIGINT ? "SIGINT" : "SIGTERM"
                if self.received.compareExchange(expected: 0, desired: number, ordering: .sequentiallyConsistent).exchanged {
                    FileHandle.standardError.write(Data(
                        "\n\(name): stopping: the round in progress is abandoned and the last completed one checkpointed (send it again to exit at once)\n".utf8))
                } else {
                    FileHandle.standardError.write(Data("\n\(name) again: exiting at once; the results file holds every round written so far\n".utf8))
                    _exit(128 + self.received.load(ordering: .sequentiallyConsistent))
                }
            }
            source.resume()
        }
        // A file-size limit (ulimit -f) then makes a write fail with an error we report, instead of killing us.
        signal(SIGXFSZ, SIG_IGN)
    }

    /// Whether a stop was requested.
    var requested: Bool { received.load(ordering: .sequentiallyConsistent) != 0 }

    /// The conventional exit status for the signal that asked to stop (128 + its number), or nil.
    var exitStatus: Int32? {
        let number = received.load(ordering: .sequentiallyConsistent)
        return number == 0 ? nil : 128 + number
    }
}
