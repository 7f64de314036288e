import ArgumentParser
import Foundation
import NN

/// `cocofl bench-units`: per-unit cost of the CoCoFL block kinds, side by side in one run.
struct BenchUnitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-units",
        abstract: "Per unit: frozen int8 forward vs fp32 forward, and frozen-with-backward vs trained time.")

    @OptionGroup var measured: ModelOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let (model, input, batch, repeats) = (measured.model, measured.input, measured.batch, measured.repeats)
        let rows = try UnitBenchmark(modelName: model, inputShape: try measured.inputShape(), batch: batch, repeats: repeats)
            .run(progress: { standardError("bench-units \(model): \($0)") })
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        func ms(_ value: Double?) -> String { value.map { String(format: "%8.3f", $0) } ?? "       —" }
        func ratio(_ value: Double?) -> String { value.map { String(format: "%6.2f×", $0) } ?? "      —" }
        print("\(model), batch \(batch), input \(input), median of \(repeats) (ms)")
        print("unit        kind        fp32 fwd  int8 fwd  speedup   trained  frozen+bwd  speedup")
        for r in rows {
            print(r.unit.padding(toLength: 11, withPad: " ", startingAt: 0) + " " + r.kind.padding(toLength: 10, withPad: " ", startingAt: 0)
                  + " " + ms(r.fp32ForwardMs) + "  " + ms(r.int8ForwardMs) + "  " + ratio(r.forwardSpeedup)
                  + "  " + ms(r.trainedMs) + "    " + ms(r.frozenWithBackwardMs) + "  " + ratio(r.backwardSpeedup))
        }
        let fallbacks = rows.flatMap(\.fallbacks)
        if !fallbacks.isEmpty { print("fp32 fallbacks:\n  " + fallbacks.joined(separator: "\n  ")) }
    }
}
