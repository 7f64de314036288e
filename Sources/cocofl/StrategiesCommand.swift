import ArgumentParser
import Platform
import Plugins

/// `cocofl strategies`: the registered strategies.
struct StrategiesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "strategies", abstract: "List the strategies a run can use.")

    func run() throws {
        let catalog = try BuiltinStrategies.catalog()
        let width = catalog.ids.map(\.count).max() ?? 0
        for entry in catalog.entries {
            print(entry.id.padding(toLength: width + 2, withPad: " ", startingAt: 0) + entry.summary)
        }
    }
}
