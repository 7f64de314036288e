import ArgumentParser
import Foundation
import NN

/// `cocofl bench`: engine throughput, measured side by side in one run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure convolution GFLOP/s against the machine's fp32 peak, and full-model training throughput.",
        discussion: """
            Build with -c release. Prints the measured fp32 FMA peak (all cores), a 3×3 convolution's forward, \
            backward-data and backward-weights GFLOP/s as a fraction of it, and for each model the training \
            throughput at the given batch size (forward + backward + SGD step on random data), its FLOPs per \
            image (training = 3× forward) and the fraction of peak reached; then each model's forward-only \
            evaluation throughput through its own layers, folded in fp32 (BatchNorm folded into the convolutions, \
            as the server evaluates) and folded in int8, the time to fold, and the resulting time for 10,000 \
            test images.
            """)

    @Option(help: "Models to measure (comma-separated).")
    var models = "resnet8,resnet18,mobilenetv2"

    @Option(help: "Input shape C,H,W.")
    var input = "3,32,32"

    @Option(help: "Batch size.")
    var batch = 32

    @Option(help: "Images per forward pass of the evaluation measurement (the server's evaluation uses 250).")
    var evalBatch = 250

    @Option(help: "Timed training steps per model (median of per-step times is reported).")
    var steps = 20

    @Option(help: "Channels of the 3×3 convolution benchmark (input = output).")
    var convChannels = 64

    @Option(help: "Spatial size of the 3×3 convolution benchmark.")
    var convSize = 32

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard batch > 0, steps > 0, evalBatch > 0 else {
            throw ValidationError("--batch, --eval-batch and --steps must be positive")
        }
        _ = try parseShape(input, option: "--input")
    }

    func run() throws {
        let shape = try parseShape(input, option: "--input")
        let context = try ComputeContext()
        let report = try EngineBenchmark(context: context).run(
            models: models.split(separator: ",").map(String.init), inputShape: shape, batch: batch, steps: steps,
            convolutionChannels: convChannels, convolutionSize: convSize, evaluationBatch: evalBatch,
            progress: { message in FileHandle.standardError.write(Data((message + "\n").utf8)) })
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.table)
        }
    }
}

/// Parses "C,H,W" into three positive integers, naming the option in the error.
func parseShape(_ text: String, option: String) throws -> [Int] {
    let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard parts.count == 3, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
        throw ValidationError("\(option) must be three positive integers C,H,W (e.g. 3,32,32), got '\(text)'")
    }
    return parts.map { $0! }
}
