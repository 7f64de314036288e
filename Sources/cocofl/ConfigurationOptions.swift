import ArgumentParser
import Experiments
import Foundation
import Platform

/// The one mapping between the configuration schema's keys and this tool's options: a key with dashes
/// (`per_round` → `--per-round`); the repeatable `strategy_options` is given one KEY=VALUE at a time as
/// `--strategy-option`.
extension RunConfiguration.Key {
    /// The command-line option of the key.
    var flag: String {
        "--" + (self == .strategyOptions ? "strategy-option" : rawValue.replacingOccurrences(of: "_", with: "-"))
    }

    /// The help of the key's option: the schema's summary and default.
    var help: ArgumentHelp {
        ArgumentHelp("\(summary.prefix(1).uppercased() + summary.dropFirst()) (configuration key \(rawValue); default: \(defaultText)).")
    }

    /// The schema's default as text, read off the default configuration's stored JSON so that it cannot drift.
    var defaultText: String {
        switch self {
        case .strategy: return "required"
        case .lrMilestones: return "60 % and 80 % of rounds"
        case .dataDirectory: return "the dataset's usual place"
        case .trainSubset, .testSubset: return "all"
        case .strategyOptions: return "none"
        case .mix: return "reference"
        default: break
        }
        guard let data = try? JSONEncoder().encode(RunConfiguration()),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let value = object[rawValue]
        else { return "none" }
        return "\(value)"
    }
}

/// Library errors as the command line says them: configuration keys become options, a remedy the runner calls
/// "restart" becomes --restart.
func commandLineError(_ error: Error) -> Error {
    switch error {
    case let error as ConfigurationError:
        return CommandLineError(description: error.message { $0.flag })
    case let error as CampaignRunError where error.remedyIsRestart:
        return CommandLineError(description: error.description + " (pass --restart to run it again from round 0)")
    default:
        return error
    }
}

/// A one-line error of this tool.
struct CommandLineError: Error, CustomStringConvertible {
    let description: String
}
