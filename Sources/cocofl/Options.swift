import ArgumentParser
import NN

/// Options shared by the commands that measure one model: which model, its input and the batch.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model: \(ModelZoo.names.joined(separator: ", ")).")
    var model = "mobilenetv2"

    @Option(help: "Input shape C,H,W.")
    var input = "3,32,32"

    @Option(help: "Batch size.")
    var batch = 32

    @Option(name: .customLong("repeat"), help: "Timed repetitions per measurement (the median is reported).")
    var repeats = 5

    func validate() throws {
        _ = try inputShape()
        guard ModelZoo.names.contains(model) else {
            throw ValidationError("unknown model '\(model)'; known models: \(ModelZoo.names.joined(separator: ", "))")
        }
        guard batch > 0, repeats > 0 else { throw ValidationError("--batch and --repeat must be positive") }
    }

    /// The parsed --input.
    func inputShape() throws -> [Int] { try parseShape(input, option: "--input") }
}
