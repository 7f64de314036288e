import ArgumentParser
import Platform

/// `cocofl strategies`: the registered strategies, built in and from `--plugin` libraries.
struct StrategiesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strategies", abstract: "List the strategies a run can use (built in and from --plugin libraries).")

    @OptionGroup var plugins: PluginOptions

    func run() throws {
        let sources = try plugins.strategies()
        let catalog = sources.catalog
        let width = catalog.ids.map(\.count).max() ?? 0
        for entry in catalog.entries {
            var line = entry.id.padding(toLength: width + 2, withPad: " ", startingAt: 0) + entry.summary
            if let source = sources.source(of: entry.id), source != StrategySources.builtinSource {
                line += "  [plugin \(source)]"
            }
            print(line)
        }
    }
}
