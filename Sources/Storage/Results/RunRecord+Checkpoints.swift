import CoCoFLCore
import Dispatch
import NN

/// A model's parameters at the end of a round, with the state needed to resume training from there.
public struct Checkpoint: Equatable, Sendable {
    /// The round after which the parameters were saved.
    public var round: Int
    /// The parameters by PyTorch `state_dict` key, in PyTorch shapes, sorted by key.
    public var parameters: [NamedArray]
    /// The resume state the writer supplied (generator state, learning-rate schedule position, …).
    public var state: [String: HDF5AttributeValue]

    /// Collects a checkpoint's parts.
    public init(round: Int, parameters: [NamedArray], state: [String: HDF5AttributeValue]) {
        self.round = round
        self.parameters = parameters
        self.state = state
    }

    /// The parameter with PyTorch key `key`, if the checkpoint has it.
    public func parameter(_ key: String) -> NamedArray? {
        parameters.first { $0.key == key }
    }
}

// Checkpoints: /runs/<name>/checkpoints/round_<k>/<state_dict key> float32 datasets. The `round` attribute is
// written last, so a group without it is a checkpoint whose writer stopped half-way; readers skip it.
extension RunRecord {
    /// Arrays with at least this many elements are stored compressed; smaller ones are not worth the chunk
    /// overhead.
    static let compressionThreshold = 4096

    /// Saves `parameters` as the checkpoint of `round` (replacing an earlier checkpoint of that round) and
    /// flushes the file.
    ///
    /// `state` becomes attributes of the round group (the name `round` is reserved). With `keepLast`, older
    /// checkpoints beyond the newest `keepLast` are deleted afterwards (HDF5 does not shrink the file, but later
    /// writes reuse the space while the file stays open).
    public func writeCheckpoint(
        round: Int, parameters: [NamedArray], state: [String: HDF5AttributeValue] = [:], keepLast: Int? = nil
    ) throws {
        let checkpoints = try checkpointsGroup()
        let roundName = ResultsLayout.checkpointPrefix + String(round)
        guard round >= 0 else {
            throw error(.invalidValue, at: ResultsLayout.checkpoints, "round \(round) is negative; rounds start at 0")
        }
        if let keepLast, keepLast < 1 {
            throw error(
                .invalidValue, at: ResultsLayout.checkpoints,
                "keepLast is \(keepLast); keep at least 1 checkpoint, or pass nil to keep all")
        }
        try validate(parameters, state: state, under: ResultsNames.join(checkpoints.path, roundName))

        // Written under a name of its own and renamed once flushed: a write cut short (full disk, file-size
        // limit) then leaves only a stray `partial_…` link that no reader looks at, never a `round_N` link to an
        // object that did not reach the file (such a link can be neither read nor deleted).
        let partialName = "partial_\(roundName)_\(DispatchTime.now().uptimeNanoseconds)"
        let roundGroup: HDF5Group
        if let keepLast, let reused = try reusableCheckpoint(in: checkpoints, keeping: keepLast, round: round, for: parameters) {
            // The checkpoint this write retires, overwritten in place under the partial name: a file that is closed
            // and reopened every round (a run file) keeps no free-space list, so deleting it and writing a new one
            // would grow the file by a checkpoint each time.
            try checkpoints.renameChild(reused, to: partialName)
            roundGroup = try checkpoints.openGroup(partialName)
            try roundGroup.attributes.delete("round")
            for parameter in parameters { try roundGroup.openDataset(parameter.key).write(parameter.values) }
            for name in try roundGroup.attributes.names() where state[name] == nil { try roundGroup.attributes.delete(name) }
        } else {
            roundGroup = try checkpoints.createGroup(partialName)
            for parameter in parameters {
                // Rolling checkpoints are stored uncompressed so that they can be overwritten in place (a
                // compressed chunk of another size is reallocated).
                let compression: HDF5Compression =
                    keepLast == nil && parameter.values.count >= RunRecord.compressionThreshold ? .deflate(level: 4) : .none
                try roundGroup.createDataset(
                    parameter.key, values: parameter.values, shape: parameter.shape, compression: compression)
            }
        }
        for (name, value) in state.sorted(by: { $0.key < $1.key }) {
            try roundGroup.attributes.set(name, to: value)
        }
        try roundGroup.attributes.set("round", to: .int64(Int64(round)))
        try results.flush()
        if try checkpoints.contains(roundName) {
            try checkpoints.deleteChild(roundName)
        }
        try checkpoints.renameChild(partialName, to: roundName)
        try results.flush()

        if let keepLast {
            try prune(in: checkpoints, keeping: keepLast, justWritten: round)
        }
    }

    /// The rounds that have a complete checkpoint, ascending.
    public func checkpointRounds() throws -> [Int] {
        let checkpoints = try checkpointsGroup()
        return try checkpoints.children().compactMap { try completeRound(named: $0, in: checkpoints) }.sorted()
    }

    /// The checkpoint of `round`; throws when there is none or it is incomplete.
    public func checkpoint(round: Int) throws -> Checkpoint {
        let checkpoints = try checkpointsGroup()
        let roundName = ResultsLayout.checkpointPrefix + String(round)
        guard try completeRound(named: roundName, in: checkpoints) == round else {
            let relativePath = "\(ResultsLayout.checkpoints)/\(roundName)"
            if try checkpoints.contains(roundName) {
                throw error(
                    .notFound, at: relativePath,
                    "the checkpoint of round \(round) is incomplete (its writer stopped while saving it); "
                        + "resume from an earlier one")
            }
            let available = try checkpointRounds()
            throw error(
                .notFound, at: relativePath,
                "no checkpoint of round \(round); "
                    + (available.isEmpty
                        ? "the run has no checkpoints" : "rounds with checkpoints: \(available)"))
        }
        let roundGroup = try checkpoints.openGroup(roundName)
        let parameters = try roundGroup.children().map { key in
            let array = try roundGroup.readDataset(key, as: Float.self)
            return NamedArray(key: key, shape: array.shape, values: array.values)
        }
        var state: [String: HDF5AttributeValue] = [:]
        for name in try roundGroup.attributes.names() where name != "round" {
            state[name] = try roundGroup.attributes.value(name)
        }
        return Checkpoint(round: round, parameters: parameters, state: state)
    }

    /// The newest complete checkpoint, or nil when the run has none.
    public func latestCheckpoint() throws -> Checkpoint? {
        guard let round = try checkpointRounds().last else { return nil }
        return try checkpoint(round: round)
    }

    /// Deletes the checkpoints of rounds after `round`: after resuming from the checkpoint of `round`, later ones
    /// belong to the abandoned continuation and `latestCheckpoint()` must not return them.
    public func discardCheckpoints(afterRound round: Int) throws {
        try deleteCheckpoints(in: try checkpointsGroup()) { $0 > round }
    }

    // MARK: Helpers

    private func checkpointsGroup() throws -> HDF5Group {
        try group.openOrCreateGroupIfWritable(ResultsLayout.checkpoints, results: results, runPath: path)
    }

    /// The round of a complete checkpoint group called `name`, or nil for anything else.
    private func completeRound(named name: String, in checkpoints: HDF5Group) throws -> Int? {
        guard name.hasPrefix(ResultsLayout.checkpointPrefix),
            let round = Int(name.dropFirst(ResultsLayout.checkpointPrefix.count))
        else { return nil }
        // A checkpoint whose write was cut short by a full disk can have a link to an object that never reached
        // the file: unreadable counts as incomplete, so that resuming falls back to an earlier checkpoint.
        do {
            guard try checkpoints.kind(of: name) == .group else { return nil }
            let attributes = try checkpoints.openGroup(name).attributes
            guard try attributes.contains("round"), case .int64(let stored) = try attributes.value("round"),
                stored == Int64(round)
            else { return nil }
            return round
        } catch is HDF5Error {
            return nil
        }
    }

    private func validate(_ parameters: [NamedArray], state: [String: HDF5AttributeValue], under path: String)
        throws
    {
        var seen: Set<String> = []
        for parameter in parameters {
            try ResultsNames.validate(parameter.key, as: "parameter key", filePath: results.path, parent: path)
            guard seen.insert(parameter.key).inserted else {
                throw results.error(.invalidValue, at: path, "parameter key '\(parameter.key)' appears twice")
            }
            let count = parameter.shape.reduce(1, *)
            guard parameter.shape.allSatisfy({ $0 >= 0 }), count == parameter.values.count else {
                throw results.error(
                    .invalidValue, at: ResultsNames.join(path, parameter.key),
                    "parameter '\(parameter.key)' has \(parameter.values.count) values for shape \(parameter.shape)")
            }
        }
        for name in state.keys where name.isEmpty || name == "round" || name.utf8.contains(0) {
            throw results.error(
                .invalidName, at: path,
                "resume-state attribute name '\(name)' is reserved or empty; the round is recorded from the "
                    + "round argument")
        }
    }

    /// Deletes the checkpoints other than the `keepLast` newest ones, never the one just written (`round`), and
    /// any incomplete checkpoint.
    /// The oldest complete checkpoint that writing `round` with `keepLast` retires, when it holds exactly the same
    /// arrays (keys and shapes), stored uncompressed, so that it can be overwritten in place; nil otherwise.
    private func reusableCheckpoint(in checkpoints: HDF5Group, keeping keepLast: Int, round: Int,
                                    for parameters: [NamedArray]) throws -> String? {
        let rounds = try checkpointRounds().filter { $0 != round }
        let kept = Set((rounds + [round]).sorted().suffix(keepLast))
        guard let oldest = rounds.first(where: { !kept.contains($0) }) else { return nil }
        let name = ResultsLayout.checkpointPrefix + String(oldest)
        let group = try checkpoints.openGroup(name)
        guard try group.children() == parameters.map(\.key).sorted() else { return nil }
        for parameter in parameters {
            let dataset = try group.openDataset(parameter.key)
            guard try dataset.shape() == parameter.shape, try dataset.compression() == .none,
                try dataset.elementType() == .float32, try !dataset.isExtendible()
            else { return nil }
        }
        return name
    }

    private func prune(in checkpoints: HDF5Group, keeping keepLast: Int, justWritten round: Int) throws {
        var kept = Set(try checkpointRounds().suffix(keepLast))
        kept.insert(round)
        try deleteCheckpoints(in: checkpoints) { !kept.contains($0) }
    }

    /// Deletes every checkpoint group (complete or not) whose round satisfies `isDeleted`, then flushes.
    private func deleteCheckpoints(in checkpoints: HDF5Group, where isDeleted: (Int) -> Bool) throws {
        var deleted = false
        for name in try checkpoints.children() where name.hasPrefix(ResultsLayout.checkpointPrefix) {
            guard let round = Int(name.dropFirst(ResultsLayout.checkpointPrefix.count)), isDeleted(round) else {
                continue
            }
            try checkpoints.deleteChild(name)
            deleted = true
        }
        if deleted { try results.flush() }
    }
}

extension HDF5Group {
    /// Opens the child group `name`, creating it when the file is writable and it is missing (runs written by an
    /// older writer may lack an empty group).
    func openOrCreateGroupIfWritable(_ name: String, results: ResultsFile, runPath: String) throws -> HDF5Group {
        if try kind(of: name) == nil, !results.isReadOnly {
            return try createGroup(name)
        }
        guard try kind(of: name) == .group else {
            throw results.error(.notFound, at: ResultsNames.join(runPath, name), "the run has no '\(name)' group")
        }
        return try openGroup(name)
    }
}
