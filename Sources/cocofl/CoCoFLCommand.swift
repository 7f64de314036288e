import ArgumentParser

/// The `cocofl` command-line tool: thin commands over the NN, Platform and Storage libraries.
@main
struct CoCoFLCommand: ParsableCommand {
    /// Lets `--plugin` come before the subcommand; the subcommands that use strategies read it from their own group.
    @OptionGroup var plugins: PluginOptions

    static let configuration = CommandConfiguration(
        commandName: "cocofl",
        abstract: "Federated learning on heterogeneous devices: CoCoFL and baselines on oneDNN.",
        version: toolVersion,
        subcommands: [RunCommand.self, CampaignCommand.self, InspectCommand.self, PackCommand.self, EvaluateCommand.self, StrategiesCommand.self, ProfileCommand.self, BenchCommand.self, BenchUnitsCommand.self, BenchRanksCommand.self])
}

/// The tool's version, recorded in every result file.
let toolVersion = "0.1.0"
