import CMPI
import Foundation

/// The MPI ranks of this job (OpenMPI): who this process is among them, and the few collectives a data-parallel
/// run needs. A process not started by an MPI launcher never initializes MPI (`MPIWorld.launched` is nil), so the
/// single-process tool is unchanged.
///
/// Every call is a collective over `MPI_COMM_WORLD`: all ranks must make the same calls in the same order. A failed
/// call ends the job (OpenMPI's default error handler), and the launcher reports which rank failed.
public final class MPIWorld: @unchecked Sendable {
    /// This process's rank, 0 ..< size.
    public let rank: Int
    /// The number of ranks.
    public let size: Int
    /// The ranks on this node (this one included).
    public let localSize: Int

    /// The world of a process an MPI launcher started with two or more ranks; nil otherwise (then MPI is not touched).
    public static func launched(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MPIWorld? {
        let size = ["OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"].lazy.compactMap { environment[$0].flatMap(Int.init) }.first
        guard let size, size > 1 else { return nil }
        return try MPIWorld()
    }

    private init() throws {
        var provided: Int32 = 0
        var argc: Int32 = 0
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        guard MPI_Init_thread(&argc, &argv, cocofl_mpi_thread_funneled(), &provided) == cocofl_mpi_success() else {
            throw MPIError("MPI_Init_thread failed; start the job with mpirun (or srun --mpi=pmix) from an OpenMPI 4 install")
        }
        var value: Int32 = 0
        MPI_Comm_rank(cocofl_mpi_comm_world(), &value)
        rank = Int(value)
        MPI_Comm_size(cocofl_mpi_comm_world(), &value)
        size = Int(value)
        var local: MPI_Comm?
        MPI_Comm_split_type(cocofl_mpi_comm_world(), cocofl_mpi_comm_type_shared(), Int32(rank), cocofl_mpi_info_null(), &local)
        if let node = local {
            MPI_Comm_size(node, &value)
            localSize = Int(value)
            MPI_Comm_free(&local)
        } else {
            localSize = 1
        }
    }

    /// Whether this is rank 0, the one that writes results and prints progress.
    public var isRoot: Bool { rank == 0 }

    /// Ends MPI for this process; call once, after the last collective.
    public func finalize() {
        MPI_Finalize()
    }

    /// Ends the whole job at once (every rank), with `code` as the launcher's exit status: for a rank that cannot
    /// go on, so that the others do not wait for it forever.
    public func abort(code: Int32) -> Never {
        MPI_Abort(cocofl_mpi_comm_world(), code)
        exit(code)
    }

    /// `bytes` of rank 0, on every rank.
    public func broadcast(_ bytes: [UInt8]) -> [UInt8] {
        var count = Int64(bytes.count)
        MPI_Bcast(&count, 1, cocofl_mpi_int64(), 0, cocofl_mpi_comm_world())
        var buffer = isRoot ? bytes : [UInt8](repeating: 0, count: Int(count))
        if count > 0 {
            buffer.withUnsafeMutableBytes { raw in
                sendInChunks(raw) { pointer, length in
                    MPI_Bcast(pointer, length, cocofl_mpi_byte(), 0, cocofl_mpi_comm_world())
                }
            }
        }
        return buffer
    }

    /// Every rank's `bytes`, in rank order, on every rank.
    public func allGather(_ bytes: [UInt8]) -> [[UInt8]] {
        var count = Int64(bytes.count)
        var counts = [Int64](repeating: 0, count: size)
        MPI_Allgather(&count, 1, cocofl_mpi_int64(), &counts, 1, cocofl_mpi_int64(), cocofl_mpi_comm_world())
        // Each rank's part goes out by broadcast from that rank, in rank order: simple, exact, and no 2 GiB limit of
        // MPI_Allgatherv's int displacements.
        return (0..<size).map { source in
            var part = source == rank ? bytes : [UInt8](repeating: 0, count: Int(counts[source]))
            if counts[source] > 0 {
                part.withUnsafeMutableBytes { raw in
                    sendInChunks(raw) { pointer, length in
                        MPI_Bcast(pointer, length, cocofl_mpi_byte(), Int32(source), cocofl_mpi_comm_world())
                    }
                }
            }
            return part
        }
    }

    /// The maximum of `value` over all ranks.
    public func maximum(_ value: Int) -> Int {
        var local = Int64(value), result: Int64 = 0
        MPI_Allreduce(&local, &result, 1, cocofl_mpi_int64(), cocofl_mpi_max(), cocofl_mpi_comm_world())
        return Int(result)
    }

    /// MPI counts are Int32: large buffers go in pieces of at most 1 GiB.
    private func sendInChunks(_ raw: UnsafeMutableRawBufferPointer, _ send: (UnsafeMutableRawPointer, Int32) -> Void) {
        let chunk = 1 << 30
        var offset = 0
        while offset < raw.count {
            let length = min(chunk, raw.count - offset)
            send(raw.baseAddress! + offset, Int32(length))
            offset += length
        }
    }
}

/// An MPI job that cannot start as asked, with what to do.
public struct MPIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
