import Dispatch
import Foundation

/// A fixture that could not be prepared: the toolchain is missing or a build failed. The message says which.
struct FixtureError: Error, CustomStringConvertible, Sendable {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What a finished child process left behind.
struct ProcessResult: Sendable {
    let status: Int32
    let standardOutput: String
    let standardError: String
}

/// The build products the plugin tests use: the example plugin (built once per test process), the `cocofl`
/// binary next to the test bundle, and tiny C libraries for the failure cases.
enum PluginFixtures {
    /// The platform's package root (this file is Tests/PluginLoadingTests/PluginFixtures.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The stored resnet8 profile (1×28×28, batch 32, windows and sub-models) of Tests/Fixtures/same-results, for
    /// `--profile`: these tests are about plugins, not profiling, and measuring one costs each run about a second.
    static let storedProfile = packageRoot.appendingPathComponent("Tests/Fixtures/same-results/profile.json").path

    /// The build directory holding the test bundle, `cocofl` and `libCoCoFLCore.so`.
    static let buildDirectory: URL = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent()
    }()

    /// The `cocofl` binary of this build; `swift build --build-tests` and `swift test` put it next to the tests.
    static func cocofl() throws -> URL {
        let binary = buildDirectory.appendingPathComponent("cocofl")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw FixtureError("no cocofl binary in \(buildDirectory.path); run `swift build --build-tests` before `swift test`")
        }
        return binary
    }

    /// The example plugin's library, built with `swift build -c release` the first time any test asks. Its
    /// scratch directory lives in this build directory's parent, so a second test run only relinks what changed.
    ///
    /// The build runs on a thread of its own and the tests await it: a test blocked on it would hold one of the
    /// test runner's few threads (one per core), and with both held no other test could start (measured: 4.7 s in
    /// which nothing ran while a fresh clone built the plugin).
    private static let maxWindowPluginBuild = Task<Result<URL, FixtureError>, Never> {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: buildMaxWindowPlugin()) }.start()
        }
    }

    private static func buildMaxWindowPlugin() -> Result<URL, FixtureError> {
        do {
            let swift = try executable(named: "swift", purpose: "build Examples/MaxWindowPlugin")
            let scratch = buildDirectory.deletingLastPathComponent().appendingPathComponent("plugin-tests/MaxWindowPlugin")
            let package = packageRoot.appendingPathComponent("Examples/MaxWindowPlugin")
            let start = DispatchTime.now().uptimeNanoseconds
            let result = try run(swift, ["build", "-c", "release", "--package-path", package.path, "--scratch-path", scratch.path])
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            guard result.status == 0 else {
                throw FixtureError("`swift build -c release` of \(package.path) failed (exit \(result.status)): \(result.standardError)\(result.standardOutput)")
            }
            let library = scratch.appendingPathComponent("release/libMaxWindowPlugin.so")
            guard FileManager.default.fileExists(atPath: library.path) else {
                throw FixtureError("the plugin build succeeded but \(library.path) is missing")
            }
            print(String(format: "[plugin-tests] built Examples/MaxWindowPlugin in %.1f s", seconds))
            return .success(library)
        } catch let error as FixtureError {
            return .failure(error)
        } catch {
            return .failure(FixtureError("building Examples/MaxWindowPlugin: \(error)"))
        }
    }

    /// Waits for the example plugin's build, whatever its outcome (a failed build fails the tests that ask for the
    /// path): the heavy plugin suites wait here before they take the heavy-test gate, not while holding it.
    @Sendable static func awaitMaxWindowPlugin() async {
        _ = await maxWindowPluginBuild.value
    }

    /// The path of the built example plugin; throws (failing the test) if it could not be built.
    static func maxWindowPluginPath() async throws -> String {
        try await maxWindowPluginBuild.value.get().path
    }

    /// Compiles `source` into the shared library `name` in `directory` with the system C compiler (or the Swift
    /// toolchain's clang, which every Swift installation has), against the plugin ABI header.
    static func cLibrary(_ name: String, source: String, in directory: URL) throws -> String {
        let compiler = try (try? executable(named: "cc", purpose: ""))
            ?? executable(named: "clang", purpose: "build the C fixture libraries (neither cc nor clang was found)")
        let sourceFile = directory.appendingPathComponent("\(name).c")
        try source.write(to: sourceFile, atomically: true, encoding: .utf8)
        let library = directory.appendingPathComponent("\(name).so")
        let include = packageRoot.appendingPathComponent("Core/Sources/CoCoFLPluginABI/include")
        let result = try run(compiler, ["-shared", "-fPIC", "-I", include.path, "-o", library.path, sourceFile.path])
        guard result.status == 0 else {
            throw FixtureError("cc could not build the fixture \(name): \(result.standardError)")
        }
        return library.path
    }

    /// `name` on PATH; throws saying what it is needed for when it is missing.
    static func executable(named name: String, purpose: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw FixtureError("'\(name)' is not on PATH; the plugin tests need it to \(purpose): install it or fix PATH")
    }

    /// Runs `executable` to completion. Output goes through files, so a chatty child can never block on a full
    /// pipe.
    static func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil) throws -> ProcessResult {
        try withTemporaryDirectory { scratch in
            let outputFile = scratch.appendingPathComponent("stdout")
            let errorFile = scratch.appendingPathComponent("stderr")
            guard FileManager.default.createFile(atPath: outputFile.path, contents: nil),
                  FileManager.default.createFile(atPath: errorFile.path, contents: nil) else {
                throw FixtureError("cannot create output files in \(scratch.path)")
            }
            let output = try FileHandle(forWritingTo: outputFile)
            let errors = try FileHandle(forWritingTo: errorFile)
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            if let directory { process.currentDirectoryURL = directory }
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            process.waitUntilExit()
            try output.close()
            try errors.close()
            return ProcessResult(
                status: process.terminationStatus,
                standardOutput: try String(contentsOf: outputFile, encoding: .utf8),
                standardError: try String(contentsOf: errorFile, encoding: .utf8))
        }
    }
}

/// Runs `body` with a fresh temporary directory that is removed afterwards.
func withTemporaryDirectory<Result>(_ body: (URL) throws -> Result) throws -> Result {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("PluginLoadingTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory)
}
