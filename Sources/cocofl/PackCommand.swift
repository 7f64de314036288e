import ArgumentParser
import Foundation
import Storage

/// `cocofl pack`: a campaign file and its run files as one self-contained file, for sharing.
struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Copy a results file with every run it links (NAME.runs/*.h5) into one self-contained HDF5 file.",
        discussion: """
            A campaign file links each run to its own file in NAME.runs/ (docs/hdf5-layout.md, "Run files"). pack \
            writes a new file holding every run and profile table itself, readable anywhere without the run files. \
            Runs that have not started are left out and named; a run that is still being written is copied as \
            far as it has got (run pack again when the campaign has finished).
            """)

    @Argument(help: "The campaign's results file (.h5).")
    var file: String

    @Option(help: "The self-contained file to write (must not exist yet).")
    var out: String

    func run() throws {
        try MissingResultsFile.check(file)
        guard !FileManager.default.fileExists(atPath: out) else {
            throw CampaignFailure(description: "--out \(out) already exists; pack into a new file (or remove it first)")
        }
        let results = try ResultsFile(path: file, access: .readOnly)
        let running = try results.runNames().filter { try results.liveWriter(ofRun: $0) != nil }
        let left = try results.pack(into: out, toolVersion: toolVersion)
        let runs = try ResultsFile(path: out, access: .readOnly).runNames()
        print("wrote \(out): \(runs.count) run\(runs.count == 1 ? "" : "s")"
              + (running.isEmpty ? "" : "; still running, copied as far as they got: " + running.joined(separator: ", "))
              + (left.isEmpty ? "" : "; not started, left out: " + left.joined(separator: ", ")))
    }
}
