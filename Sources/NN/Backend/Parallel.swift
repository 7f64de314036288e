import Dispatch
import Foundation

/// Splits 0..<count into one contiguous chunk per core and runs `body` on the chunks concurrently; small counts
/// run inline. For the memory-bound C passes (masking, quantization, optimizer updates) that oneDNN does not do.
func parallelChunks(_ count: Int, minimumChunk: Int = 1 << 15, _ body: @Sendable (Range<Int>) -> Void) {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let chunks = min(cores, max(1, count / minimumChunk))
    guard chunks > 1 else { body(0..<count); return }
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
        body(start..<end)
    }
}

/// A raw pointer that may cross into `parallelChunks` bodies; each chunk touches a disjoint range.
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
    init(_ pointer: UnsafePointer<T>) { self.pointer = UnsafeMutablePointer(mutating: pointer) }
}
