import ArgumentParser
import Dispatch
import Foundation
import Ranks

/// `cocofl bench-ranks`: what one round's exchange between MPI ranks costs (run it under mpirun).
struct BenchRanksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-ranks",
        abstract: "Time the exchange of device updates between MPI ranks (run under mpirun -np R).",
        discussion: """
            Each rank contributes --megabytes/R of updates and receives everyone's, as a round of a run across ranks \
            does (docs/scaling.md); prints the median time over --repeat exchanges and the bandwidth each rank \
            receives at. Compare transports with mpirun's --mca btl self,vader (shared memory) and self,tcp.
            """)

    @Option(help: "Megabytes of updates per round, all ranks together (fedavg, 10 devices: resnet8 3.1, mobilenetv2 92, resnet18 447).")
    var megabytes: [Double] = [1, 3.1, 16, 64]

    @Option(name: .customLong("repeat"), help: "Exchanges per size (the median is reported).")
    var repeats = 10

    func run() throws {
        guard let world = try MPIWorld.launched() else {
            throw CommandLineError(description: "bench-ranks needs several MPI ranks: run it as mpirun -np 2 cocofl bench-ranks")
        }
        defer { world.finalize() }
        if world.isRoot { print("ranks  total_MB  median_ms  received_MB/s_per_rank") }
        for megabytes in megabytes {
            let total = Int(megabytes * 1e6)
            let share = [UInt8](repeating: UInt8(world.rank), count: total / world.size)
            var times: [Double] = []
            for _ in 0..<repeats {
                _ = world.maximum(0)  // start together
                let start = DispatchTime.now().uptimeNanoseconds
                let parts = world.allGather(share)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                precondition(parts.count == world.size)
            }
            let median = times.sorted()[times.count / 2]
            let slowest = Double(world.maximum(Int(median * 1e9))) / 1e9
            let received = Double(share.count * (world.size - 1))
            if world.isRoot {
                print(String(format: "%5d  %8.1f  %9.2f  %10.0f", world.size, megabytes, slowest * 1e3, received / slowest / 1e6))
            }
        }
    }
}
