import ArgumentParser
import Platform
import Strategies

/// `--plugin PATH` (repeatable): strategy plugin libraries to load. The root command and every command that takes
/// a strategy declare this group; ArgumentParser hands a value given before the subcommand to the subcommand's
/// group too, so `cocofl --plugin X strategies` and `cocofl strategies --plugin X` mean the same.
struct PluginOptions: ParsableArguments {
    @Option(
        name: .customLong("plugin"),
        help: ArgumentHelp(
            "Strategy plugin library to load (repeatable), e.g. Examples/MaxWindowPlugin/.build/release/libMaxWindowPlugin.so; see docs/plugins.md.",
            valueName: "path"))
    var paths: [String] = []

    /// The built-in strategies plus those of every library in `paths`, then `extraPaths` (a campaign file's
    /// `plugins`); a library named twice is loaded once.
    func strategies(adding extraPaths: [String] = []) throws -> StrategySources {
        var sources = StrategySources(builtins: try BuiltinStrategies.catalog())
        try sources.loadPlugins(paths + extraPaths)
        return sources
    }
}
