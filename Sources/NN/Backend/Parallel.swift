import Dispatch
import Foundation

/// Splits 0..<count into one contiguous chunk per core and runs `body` on the chunks concurrently; small counts
/// run inline. For the memory-bound C passes (masking, quantization, optimizer updates) that oneDNN does not do.
func parallelChunks(_ count: Int, minimumChunk: Int = 1 << 15, _ body: @Sendable (Range<Int>) -> Void) {
    let cores = ComputeThreads.count
    let chunks = min(cores, max(1, count / minimumChunk))
    guard chunks > 1 else { body(0..<count); return }
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
        body(start..<end)
    }
}

/// How many threads this process computes with: `OMP_NUM_THREADS` when set (oneDNN's OpenMP reads the same
/// variable, so both pools agree), otherwise the cores this process may run on. Worker processes are started with
/// their share of the cores in `OMP_NUM_THREADS`: two processes that each use every core run ~80× slower.
public enum ComputeThreads {
    public static let count: Int = configured(ProcessInfo.processInfo.environment) ?? ProcessInfo.processInfo.activeProcessorCount

    /// The positive thread count in `OMP_NUM_THREADS` (its first entry, as OpenMP reads a list), or nil.
    public static func configured(_ environment: [String: String]) -> Int? {
        guard let text = environment["OMP_NUM_THREADS"]?.split(separator: ",").first,
            let value = Int(text.trimmingCharacters(in: .whitespaces)), value > 0
        else { return nil }
        return value
    }
}

/// A raw pointer that may cross into `parallelChunks` bodies; each chunk touches a disjoint range.
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
    init(_ pointer: UnsafePointer<T>) { self.pointer = UnsafeMutablePointer(mutating: pointer) }
}
