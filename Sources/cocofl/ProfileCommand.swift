import CoCoFLCore
import ArgumentParser
import Foundation
import NN
import Storage

/// `cocofl profile`: CoCoFL's design-time cost table of every trained window of a model on this machine.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Measure time, memory and upload of every contiguous trained window of a model, and of its width-scaled sub-models.",
        discussion: """
            For each of the n(n+1)/2 windows [first, last] it trains a few batches with the units before the window \
            frozen (int8, forward only), the window trained (fp32) and the units after it frozen with an int8 \
            input-gradient backward, and reports the median time per batch, the engine's peak memory, the process's \
            peak-RSS growth and the upload bytes, each also as a ratio to full training [0, n−1]. Then it trains \
            the width-scaled sub-model of each --ratios value (the HeteroFL family's local work) the same way, so \
            that sub-models and windows are charged by the same ruler. Build with -c release. Progress goes to stderr.
            """)

    @OptionGroup var measured: ModelOptions

    @Option(help: "Number of classes.")
    var classes = 10

    @Option(help: "Only these windows, e.g. 0-19,10-19,19-19 (default: all).")
    var windows: String?

    @Option(help: "Width ratios of the sub-models to measure, comma-separated; none: windows only.")
    var ratios = SubModelCost.standardRatios.map { "\($0)" }.joined(separator: ",")

    @Flag(help: "Print the profile as JSON (model, inputShape, classes, batch, repeats, unitNames, windows, sub_models): what --profile of cocofl run and cocofl campaign reads.")
    var json = false

    @Option(help: "Also write the table into this HDF5 results file under /profiles/<model>/<name>.")
    var out: String?

    @Option(help: "Profile name inside the HDF5 file (default: CxHxW-bBATCH).")
    var name: String?

    func validate() throws {
        guard classes >= 2 else { throw ValidationError("--classes must be at least 2") }
        _ = try parsedWindows()
        _ = try parsedRatios()
    }

    func parsedRatios() throws -> [Double] {
        guard ratios != "none" else { return [] }
        let values = ratios.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0.map { $0 > 0 && $0 <= 1 } ?? false }) else {
            throw ValidationError("--ratios takes comma-separated width ratios in (0, 1] (e.g. 1,0.5,0.25) or none, got '\(ratios)'")
        }
        return values.map { $0! }
    }

    func parsedWindows() throws -> [TrainedWindow]? {
        guard let windows else { return nil }
        return try windows.split(separator: ",").map { part in
            let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard bounds.count == 2, let first = bounds[0], let last = bounds[1], 0 <= first, first <= last else {
                throw ValidationError("--windows takes FIRST-LAST pairs separated by commas (e.g. 0-19,10-19), got '\(part)'")
            }
            return TrainedWindow(first: first, last: last)
        }
    }

    func run() throws {
        let (model, batch, repeats, shape) = (measured.model, measured.batch, measured.repeats, try measured.inputShape())
        let profiler = try Profiler(modelName: model, inputShape: shape, classes: classes, batch: batch, repeats: repeats)
        let start = Date()
        let subModelRatios = try parsedRatios()
        let profile = try profiler.run(windows: try parsedWindows(), needs: subModelRatios.isEmpty ? .windows : [.windows, .subModels],
                                       subModelRatios: subModelRatios) { done, total, what in
            let elapsed = Date().timeIntervalSince(start)
            let eta = done == 0 ? "" : String(format: ", ETA %.0f s", elapsed / Double(done) * Double(total - done))
            standardError("profiling \(model): \(done + 1)/\(total) \(what)\(eta)")
        }
        standardError(String(format: "profiled %d windows and %d sub-models in %.1f s", profile.windows.count, profile.subModels.count,
                             Date().timeIntervalSince(start)))
        if let out {
            let results = try ResultsFile(path: out, access: .createOrAppend(toolVersion: toolVersion))
            let table = ProfileTable(profile, toolVersion: toolVersion)
            let profileName = name ?? "\(shape.map(String.init).joined(separator: "x"))-b\(batch)"
            try results.writeProfile(table, model: model, name: profileName)
            try results.flush()
            standardError("wrote /profiles/\(model)/\(profileName) to \(out)")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(profile), as: UTF8.self))
        } else {
            print(Self.table(profile))
        }
    }

    static func table(_ profile: ModelProfile) -> String {
        var lines = ["\(profile.model), input \(profile.inputShape.map(String.init).joined(separator: "×")), batch \(profile.batch), median of \(profile.repeats)",
                     "first last  time_ms  time_ratio  memory_MB  memory_ratio  upload_MB  upload_ratio"]
        for w in profile.windows {
            lines.append(String(format: "%5d %4d %8.2f %11.3f %10.1f %13.3f %10.2f %13.3f", w.first, w.last, w.timeSeconds * 1e3,
                                w.timeRatio, Double(w.memoryBytes) / 1e6, w.memoryRatio, Double(w.uploadBytes) / 1e6, w.uploadRatio))
        }
        if !profile.subModels.isEmpty {
            lines.append("")
            lines.append("sub-model  time_ms  time_ratio  memory_MB  memory_ratio  upload_MB  upload_ratio  (analytic r², r, r²)")
            for m in profile.subModels {
                lines.append(String(format: "%9.3f %8.2f %11.3f %10.1f %13.3f %10.2f %13.3f  (%.3f, %.3f, %.3f)", m.ratio, m.timeSeconds * 1e3,
                                    m.timeRatio, Double(m.memoryBytes) / 1e6, m.memoryRatio, Double(m.uploadBytes) / 1e6, m.uploadRatio,
                                    m.ratio * m.ratio, m.ratio, m.ratio * m.ratio))
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Writes a line to standard error (progress and diagnostics).
func standardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Writes a line to standard output without buffering.
func standardOutput(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
