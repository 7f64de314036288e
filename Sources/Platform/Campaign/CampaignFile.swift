import Foundation
import NN
import TOMLKit

/// One fully resolved run of a campaign: its unique name and everything the runner needs to start it.
public struct CampaignRun: Sendable, Equatable {
    /// The run's name in the results file, e.g. "cocofl-fashion-mnist-resnet8-a0.1-s1".
    public let name: String
    /// The complete, validated configuration of the run.
    public let configuration: RunConfiguration

    /// Creates a run from its parts.
    public init(name: String, configuration: RunConfiguration) {
        self.name = name
        self.configuration = configuration
    }
}

/// A campaign file (TOML) expanded into the list of runs it describes; see docs/campaigns.md for the format.
///
/// Reading a campaign has no side effects: nothing is written and plugin or data paths are not opened, only
/// resolved to absolute paths. Strategy ids and dataset names are kept as written, because plugins may add
/// strategies and datasets that only the runner knows.
public struct Campaign: Sendable {
    /// The campaign file as it was given.
    public let path: String
    /// The file's free-text `description` ("" if it has none).
    public let description: String
    /// Strategy plugin libraries to load before the runs, as absolute paths.
    public let plugins: [String]
    /// Every combination of the grid, in the order described in docs/campaigns.md (strategies vary fastest).
    public let runs: [CampaignRun]

    /// The partition names `[run] partition` accepts.
    public static let partitionNames = PartitionScheme.names

    /// Reads and expands the campaign file at `path`.
    public static func load(path: String) throws -> Campaign {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CampaignError(file: path, line: nil, key: nil,
                                message: "the campaign file does not exist; check the path (relative paths start at "
                                    + "the current directory \(FileManager.default.currentDirectoryPath))")
        }
        guard !isDirectory.boolValue else {
            throw CampaignError(file: path, line: nil, key: nil,
                                message: "this is a directory, not a campaign file; name a .toml file inside it")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CampaignError(file: path, line: nil, key: nil,
                                message: "cannot read the campaign file (\(error.localizedDescription)); check its "
                                    + "permissions")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CampaignError(file: path, line: nil, key: nil,
                                message: "the campaign file is not UTF-8 text; save it as UTF-8")
        }
        return try parse(text: text, path: path)
    }

    /// Expands campaign `text`; `path` names the file in errors and is the base of relative plugin and data paths.
    /// The text passes `TOMLSyntaxCheck` before TOMLKit parses it: toml++ aborts the process on some malformed
    /// text instead of throwing (found by scripts/fuzz.sh), so only syntactically valid TOML reaches it.
    public static func parse(text: String, path: String) throws -> Campaign {
        do {
            try TOMLSyntaxCheck.check(text)
        } catch {
            throw CampaignError(file: path, line: error.line, key: nil,
                                message: "invalid TOML at column \(error.column): \(error.message)")
        }
        let document: TOMLTable
        do {
            document = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw CampaignError(file: path, line: error.source.begin.line, key: nil,
                                message: "invalid TOML at column \(error.source.begin.column): \(error.description); "
                                    + "fix the syntax (strings need quotes, one key = value per line, tables as "
                                    + "[name])")
        }
        let source = CampaignSource(file: path, locator: TOMLKeyLocator(text: text))
        let reader = CampaignReader(
            root: CampaignTable(table: document, path: [], source: source),
            baseDirectory: URL(fileURLWithPath: path).deletingLastPathComponent())
        return try reader.campaign(path: path)
    }
}

/// Reads one parsed campaign file into a `Campaign`, key by key, with an error for anything it does not accept.
private struct CampaignReader {
    let root: CampaignTable
    /// The directory of the campaign file, for relative paths.
    let baseDirectory: URL

    static let topLevelKeys = ["description", "plugins", "grid", "run", "data_dirs", "strategy", "mixes"]
    static let gridKeys = ["strategies", "datasets", "models", "alphas", "seeds", "mixes"]
    /// The keys of `[run]`: every key of the schema but those the grid, `[strategy.ID]` and `[data_dirs]` set.
    static let runKeys = RunConfiguration.Key.allCases.filter {
        $0.gridList == nil && $0 != .strategyOptions && $0 != .dataDirectory
    }
    static let mixKeys = ["groups"]
    static let groupKeys = ["name", "share", "count", "time", "memory", "upload"]

    /// The `[run]` values shared by every run, each with where it is written.
    struct SharedSettings {
        var values: [(key: RunConfiguration.Key, value: RunConfiguration.Value, location: CampaignValue)] = []
        /// The run table, for errors about keys it does not set.
        var table: CampaignTable?

        /// The value given for `key`, if any.
        func value(_ key: RunConfiguration.Key) -> RunConfiguration.Value? { values.first { $0.key == key }?.value }

        /// The partition name the runs use.
        var partitionName: String {
            if case .text(let name)? = value(.partition) { return name }
            return RunConfiguration().partitionName
        }
    }

    func campaign(path: String) throws -> Campaign {
        try root.rejectUnknownKeys(known: Self.topLevelKeys)
        let description = try root.value("description")?.string(example: "description = \"CoCoFL vs FedAvg\"") ?? ""
        let plugins = try (root.list("plugins") ?? []).map { value in
            let library = try value.string(example: "plugins = [\"plugins/libMyStrategy.so\"]")
            guard !library.isEmpty else { throw value.error("'\(value.key)' is empty; give the path of a .so file") }
            return resolve(library)
        }
        guard let gridValue = root.value("grid") else {
            throw root.source.error(at: ["grid"], "the campaign has no [grid] table; add one that lists at least the "
                                        + "strategies to compare, e.g. [grid] strategies = [\"fedavg\", \"cocofl\"]")
        }
        let grid = try gridValue.table(example: "[grid] with strategies = [\"fedavg\"]")
        try grid.rejectUnknownKeys(known: Self.gridKeys)
        let settings = try sharedSettings()
        let customMixes = try mixes()

        // The grid's values are read as types here; whether each is a valid model, α, seed… is the schema's
        // validation below, whose errors point at the element of the grid that gave the value.
        let strategies = try gridList(grid, "strategies", defaults: nil, example: "strategies = [\"fedavg\", \"cocofl\"]") {
            try runNamePart($0)
        }
        let datasets = try gridList(grid, "datasets", defaults: [RunConfiguration().dataset],
                                    example: "datasets = [\"fashion-mnist\"]") { try runNamePart($0) }
        let models = try gridList(grid, "models", defaults: [RunConfiguration().model],
                                  example: "models = [\"resnet8\"]") { try runNamePart($0) }
        let alphas = try gridList(grid, "alphas", defaults: [RunConfiguration().alpha], example: "alphas = [0.1, 1.0]") {
            try $0.number(example: "alphas = [0.1]")
        }
        let seeds = try gridList(grid, "seeds", defaults: [Int(RunConfiguration().seed)], example: "seeds = [1, 2, 3]") {
            try $0.integer(example: "seeds = [1, 2, 3]")
        }
        let knownMixes = Array(DeviceMix.builtIn.keys.sorted()) + customMixes.keys.sorted()
        let mixNames = try gridList(grid, "mixes", defaults: ["reference"], example: "mixes = [\"reference\"]") { value in
            let name = try runNamePart(value)
            guard DeviceMix.builtIn[name] != nil || customMixes[name] != nil else {
                throw value.error("unknown device mix '\(name)' in \(value.key)" + Suggestion.didYouMean(name, among: knownMixes)
                                  + "; use one of \(knownMixes.joined(separator: ", ")) or define it as [mixes.\(name)] "
                                  + "with [[mixes.\(name).groups]] entries")
            }
            return name
        }

        let partitionUsesAlpha = PartitionScheme.usesAlpha(settings.partitionName)
        if !partitionUsesAlpha && alphas.count > 1 {
            throw grid.error(at: "alphas", "grid.alphas lists \(alphas.count) values but partition "
                             + "'\(settings.partitionName)' has no α, so the runs would be identical; list one α or "
                             + "use a Dirichlet partition")
        }
        let options = try strategyOptions(strategies: strategies.map(\.value))
        let dataDirectories = try dataDirectories(datasets: datasets.map(\.value))

        // Strategies vary fastest so that a campaign stopped part-way has every strategy for the settings it reached.
        let combinations = datasets.flatMap { dataset in
            models.flatMap { model in
                mixNames.flatMap { mix in
                    alphas.flatMap { alpha in
                        seeds.flatMap { seed in
                            strategies.map { strategy in
                                (strategy: strategy, dataset: dataset, model: model, mix: mix, alpha: alpha, seed: seed)
                            }
                        }
                    }
                }
            }
        }
        var runs: [CampaignRun] = []
        var indexOfName: [String: Int] = [:]
        for combination in combinations {
            var name = "\(combination.strategy.value)-\(combination.dataset.value)-\(combination.model.value)"
            if partitionUsesAlpha { name += "-a\(combination.alpha.value)" }
            name += "-s\(combination.seed.value)"
            if combination.mix.value != "reference" { name += "-\(combination.mix.value)" }
            if let first = indexOfName[name] {
                throw grid.error("runs \(first + 1) and \(runs.count + 1) of the grid are both named '\(name)' (a '-' "
                                 + "inside a strategy, dataset, model or mix name makes two combinations read alike); "
                                 + "rename one of them")
            }
            let mix = combination.mix.value
            var values = settings.values.map { ($0.key, $0.value) }
            values += [(.strategy, .text(combination.strategy.value)), (.dataset, .text(combination.dataset.value)),
                       (.model, .text(combination.model.value)), (.alpha, .number(combination.alpha.value)),
                       (.seed, .integer(combination.seed.value)),
                       (.mix, .mix(DeviceMix.builtIn[mix] ?? customMixes[mix]!.mix))]
            if let strategyOptions = options[combination.strategy.value] { values.append((.strategyOptions, .options(strategyOptions))) }
            if let directory = dataDirectories[combination.dataset.value] { values.append((.dataDirectory, .text(directory))) }
            let configuration: RunConfiguration
            do {
                configuration = try RunConfiguration.assemble(values)
            } catch let error as ConfigurationError {
                let gridLocations: [RunConfiguration.Key: CampaignValue?] = [
                    .strategy: combination.strategy.location, .dataset: combination.dataset.location,
                    .model: combination.model.location, .alpha: combination.alpha.location,
                    .seed: combination.seed.location, .mix: customMixes[mix]?.location ?? combination.mix.location,
                ]
                throw locate(error, settings: settings, grid: grid, gridLocation: gridLocations[error.key] ?? nil)
            }
            indexOfName[name] = runs.count
            runs.append(CampaignRun(name: name, configuration: configuration))
        }
        return Campaign(path: path, description: description, plugins: plugins, runs: runs)
    }

    // MARK: - [grid]

    /// A grid key's values, each with where it is written (nil for defaults); a single value stands for a
    /// one-element list; `defaults` nil makes the key required.
    private func gridList<Value: Hashable>(
        _ grid: CampaignTable, _ key: String, defaults: [Value]?, example: String,
        element: (CampaignValue) throws -> Value
    ) throws -> [(value: Value, location: CampaignValue?)] {
        guard let values = grid.list(key) else {
            guard let defaults else {
                throw grid.error(at: key, "[grid] has no '\(key)'; every campaign lists the values to run, e.g. "
                                 + example)
            }
            return defaults.map { ($0, nil) }
        }
        guard !values.isEmpty else {
            throw grid.error(at: key, "'grid.\(key)' is empty, so the campaign would have no runs; list at least one "
                             + "value, e.g. \(example), or remove the key to use the default")
        }
        var entries: [(value: Value, location: CampaignValue?)] = []
        for value in values {
            let parsed = try element(value)
            if entries.contains(where: { $0.value == parsed }) {
                throw value.error("'grid.\(key)' lists \(parsed) twice, which would repeat runs; remove the repeat")
            }
            entries.append((parsed, value))
        }
        return entries
    }

    /// A strategy, dataset, model or mix name, which becomes part of run names (HDF5 link names: no '/').
    private func runNamePart(_ value: CampaignValue) throws -> String {
        let name = try value.string(example: "\(value.path.last(where: { !$0.hasPrefix("[") }) ?? "key") = [\"name\"]")
        guard !name.isEmpty, !name.contains("/"), !name.contains(where: \.isWhitespace) else {
            throw value.error("'\(value.key)' is \"\(name)\", which cannot be part of a run name; use a non-empty "
                              + "name without '/' or spaces")
        }
        return name
    }

    // MARK: - [run]

    private func sharedSettings() throws -> SharedSettings {
        var settings = SharedSettings()
        guard let runValue = root.value("run") else { return settings }
        let run = try runValue.table(example: "[run] with rounds = 40")
        settings.table = run
        for name in run.keys {
            guard let key = RunConfiguration.Key(rawValue: name), Self.runKeys.contains(key) else {
                if let key = RunConfiguration.Key(rawValue: name), let list = key.gridList {
                    throw run.error(at: name, "'run.\(name)' is set per run by the grid; list it in [grid] as "
                                    + "\(list) = [\(key.example)]")
                }
                try run.rejectUnknownKeys(known: Self.runKeys.map(\.rawValue))
                continue
            }
            let location = run.value(name)!
            let value = try Self.value(location, of: key)
            // A value that is not one of the key's choices is reported here, at its line, before the grid uses it.
            var scratch = RunConfiguration()
            do {
                try scratch.set(key, to: value)
            } catch let error as ConfigurationError {
                throw location.error(error.message { "run.\($0.rawValue)" })
            }
            settings.values.append((key, value, location))
        }
        return settings
    }

    /// A `[run]` value read as the kind its key takes (a type error names the key, its line and an example).
    private static func value(_ location: CampaignValue, of key: RunConfiguration.Key) throws -> RunConfiguration.Value {
        let example = "\(key.rawValue) = \(key.example)"
        switch key.valueKind {
        case .integer: return .integer(try location.integer(example: example))
        case .number:
            let number = try location.number(example: example)
            guard number.isFinite else {
                throw location.error("'\(location.key)' is \(number); write a finite number, e.g. \(example)")
            }
            return .number(number)
        case .text: return .text(try location.string(example: example))
        case .integers:
            guard let elements = location.value.type == .array ? try location.array() : nil else {
                return .integers([try location.integer(example: example)])
            }
            return .integers(try elements.map { try $0.integer(example: example) })
        case .options, .mix:
            throw location.typeError(expected: "set elsewhere", example: example)
        }
    }

    /// A configuration error at the line of the value it is about: a `[run]` key, the grid element that set it
    /// (or the custom mix of the run), or the `[run]` table when the key took its default.
    private func locate(_ error: ConfigurationError, settings: SharedSettings, grid: CampaignTable,
                        gridLocation: CampaignValue?) -> CampaignError {
        let message = error.message { key in
            if key == error.key, let gridLocation { return gridLocation.key }
            if let list = key.gridList { return "grid.\(list)" }
            if key == .strategyOptions { return "[strategy.ID]" }
            if key == .dataDirectory { return "data_dirs" }
            return "run.\(key.rawValue)"
        }
        if let given = settings.values.first(where: { $0.key == error.key }) { return given.location.error(message) }
        if let gridLocation { return gridLocation.error(message) }
        if let list = error.key.gridList { return grid.error(at: list, message) }
        if let table = settings.table { return table.error(message) }
        return root.error(message)
    }

    // MARK: - [mixes]

    /// The custom device mixes by name, each with the value of its `[mixes.NAME]` table.
    private func mixes() throws -> [String: (mix: DeviceMix, location: CampaignValue)] {
        guard let mixesValue = root.value("mixes") else { return [:] }
        let table = try mixesValue.table(example: "[mixes.small] with [[mixes.small.groups]] entries")
        var mixes: [String: (mix: DeviceMix, location: CampaignValue)] = [:]
        for name in table.keys {
            let mixValue = table.value(name)!
            guard DeviceMix.builtIn[name] == nil else {
                throw mixValue.error("[mixes.\(name)] would replace the built-in '\(name)' mix; give the custom mix "
                                     + "another name")
            }
            _ = try runNamePart(CampaignValue(value: name, path: mixValue.path, source: mixValue.source))
            let mixTable = try mixValue.table(example: "[[mixes.\(name).groups]] entries")
            try mixTable.rejectUnknownKeys(known: Self.mixKeys)
            guard let groupValues = mixTable.list("groups"), !groupValues.isEmpty else {
                throw mixTable.error(at: "groups", "mix '\(name)' has no device groups; add [[mixes.\(name).groups]] "
                                     + "entries with name, share (or count), time, memory and upload")
            }
            let groups = try groupValues.map { try group($0) }
            var seen: [String: Int] = [:]
            for (index, group) in groups.enumerated() {
                if seen[group.name] != nil {
                    throw groupValues[index].error("mix '\(name)' has two groups named '\(group.name)'; give each "
                                                   + "group a unique name")
                }
                seen[group.name] = index
            }
            mixes[name] = (DeviceMix(groups: groups), mixValue)
        }
        return mixes
    }

    /// One `[[mixes.NAME.groups]]` entry.
    private func group(_ value: CampaignValue) throws -> DeviceGroup {
        let entry = try value.table(example: "{ name = \"weak\", share = 0.34, time = 0.33 }")
        try entry.rejectUnknownKeys(known: Self.groupKeys)
        guard let nameValue = entry.value("name") else {
            throw entry.error("the device group '\(value.key)' has no name; add e.g. name = \"weak\"")
        }
        let name = try nameValue.string(example: "name = \"weak\"")
        guard !name.isEmpty else { throw nameValue.error("'\(nameValue.key)' is empty; name the group, e.g. \"weak\"") }
        let size: DeviceGroup.Size
        switch (entry.value("share"), entry.value("count")) {
        case (let share?, nil):
            let fraction = try share.number(example: "share = 0.34")
            guard fraction.isFinite && fraction > 0 else {
                throw share.error("'\(share.key)' is \(fraction) but a share must be positive (a relative weight such "
                                  + "as 0.34); remove the group to have no such devices")
            }
            size = .share(fraction)
        case (nil, let count?):
            size = .count(try count.integer(atLeast: 1, example: "count = 10"))
        case (_?, let count?):
            throw count.error("device group '\(name)' has both share and count; keep one (share: a relative weight, "
                              + "count: a fixed number of devices)")
        case (nil, nil):
            throw entry.error("device group '\(name)' (\(value.key)) needs 'share' (a relative weight) or 'count' (a "
                              + "number of devices); add e.g. share = 0.5")
        }
        var limits: [String: ResourceLimit] = [:]
        for field in ["time", "memory", "upload"] {
            guard let limitValue = entry.value(field) else { continue }
            let limit = try resourceLimit(limitValue)
            do {
                try limit.validate(group: name, field: field)
            } catch {
                throw limitValue.error("'\(limitValue.key)': \(error)")
            }
            limits[field] = limit
        }
        return DeviceGroup(name: name, size: size, time: limits["time"] ?? .constant(1),
                           memory: limits["memory"] ?? .constant(1), upload: limits["upload"] ?? .constant(1))
    }

    /// A number (fixed), `[lower, upper]` or `{ lower = …, upper = … }` (uniform, redrawn every round).
    private func resourceLimit(_ value: CampaignValue) throws -> ResourceLimit {
        let expected = "a number (a fixed fraction) or [lower, upper] (uniform, redrawn every round)"
        switch value.value.type {
        case .int, .double:
            return .constant(try value.number())
        case .array:
            let bounds = try value.array()
            guard bounds.count == 2 else {
                throw value.error("'\(value.key)' has \(bounds.count) elements but a uniform limit is [lower, upper]; "
                                  + "write e.g. [0.5, 1.0]")
            }
            return .uniform(lower: try bounds[0].number(example: "[0.5, 1.0]"),
                            upper: try bounds[1].number(example: "[0.5, 1.0]"))
        case .table:
            let bounds = try value.table()
            try bounds.rejectUnknownKeys(known: ["lower", "upper"])
            guard let lower = bounds.value("lower"), let upper = bounds.value("upper") else {
                throw value.error("'\(value.key)' needs both lower and upper; write e.g. { lower = 0.5, upper = 1.0 }")
            }
            return .uniform(lower: try lower.number(), upper: try upper.number())
        default:
            throw value.typeError(expected: expected, example: "\(value.path.last ?? "upload") = [0.5, 1.0]")
        }
    }

    // MARK: - [strategy.ID] and [data_dirs]

    /// Options by strategy id; each `[strategy.ID]` must name a strategy of the grid.
    private func strategyOptions(strategies: [String]) throws -> [String: [String: String]] {
        guard let strategyValue = root.value("strategy") else { return [:] }
        let table = try strategyValue.table(example: "[strategy.heterofl] with ratios = \"1,0.5,0.25\"")
        var options: [String: [String: String]] = [:]
        for id in table.keys {
            let optionsValue = table.value(id)!
            guard strategies.contains(id) else {
                throw optionsValue.error("[strategy.\(id)] sets options for '\(id)', which is not in grid.strategies"
                                         + Suggestion.didYouMean(id, among: strategies)
                                         + "; add it to grid.strategies or remove the table")
            }
            let optionTable = try optionsValue.table(example: "[strategy.\(id)] with key = \"value\" lines")
            var values: [String: String] = [:]
            for key in optionTable.keys {
                let option = optionTable.value(key)!
                switch option.value.type {
                case .string: values[key] = try option.string()
                case .int: values[key] = String(try option.integer())
                case .double: values[key] = "\(try option.number())"
                case .bool: values[key] = String(try option.boolean())
                default:
                    throw option.typeError(expected: "a string, number or boolean",
                                           example: "\(key) = \"1,0.5,0.25\" (lists as one string)")
                }
            }
            options[id] = values
        }
        return options
    }

    /// Absolute data directories by dataset; each key must be a dataset of the grid.
    private func dataDirectories(datasets: [String]) throws -> [String: String] {
        guard let directoriesValue = root.value("data_dirs") else { return [:] }
        let table = try directoriesValue.table(example: "[data_dirs] with cifar10 = \"/data/cifar10\"")
        var directories: [String: String] = [:]
        for dataset in table.keys {
            let value = table.value(dataset)!
            guard datasets.contains(dataset) else {
                throw value.error("data_dirs.\(dataset) names a dataset that is not in grid.datasets"
                                  + Suggestion.didYouMean(dataset, among: datasets)
                                  + "; add it to grid.datasets or remove the line")
            }
            let directory = try value.string(example: "\(dataset) = \"/data/\(dataset)\"")
            guard !directory.isEmpty else {
                throw value.error("'\(value.key)' is empty; give the dataset's directory (or .h5 file), or remove the "
                                  + "line to use the default place")
            }
            directories[dataset] = resolve(directory)
        }
        return directories
    }

    /// `path` made absolute: `~` expands to the home directory, relative paths start at the campaign file's directory.
    private func resolve(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let url = expanded.hasPrefix("/")
            ? URL(fileURLWithPath: expanded) : baseDirectory.appendingPathComponent(expanded)
        return url.standardizedFileURL.path
    }
}
