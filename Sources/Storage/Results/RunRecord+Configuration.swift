import Foundation
import Platform

extension RunRecord {
    /// The resolved configuration as the JSON a run group stores in its `configuration` attribute.
    public static func configurationJSON(_ configuration: RunConfiguration) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(configuration), as: UTF8.self)
    }

    /// The run's resolved configuration, decoded from its `configuration` attribute.
    public func runConfiguration() throws -> RunConfiguration {
        let text = try metadata().specification.configuration
        do {
            return try JSONDecoder().decode(RunConfiguration.self, from: Data(text.utf8))
        } catch {
            throw self.error(
                .damaged,
                "attribute 'configuration' is not a run configuration this version of cocofl reads "
                    + "(\(error)); evaluate it with the cocofl version in 'tool_version'")
        }
    }

    /// The round of the newest complete checkpoint; throws when the run has none.
    public func latestCheckpointRound() throws -> Int {
        guard let round = try checkpointRounds().last else {
            throw error(
                .notFound, at: ResultsLayout.checkpoints,
                "the run has no complete checkpoint; runs write one every --checkpoint-every rounds and after "
                    + "the last round")
        }
        return round
    }

    /// The accuracy and loss recorded for `round`, nil when that round has no metrics row or was not evaluated.
    public func recordedEvaluation(round: Int) throws -> (accuracy: Double, loss: Double)? {
        let columns = try metrics()
        guard let row = columns[ResultsLayout.roundMetric]?.firstIndex(of: Double(round)),
            let accuracy = columns["accuracy"]?[row], let loss = columns["loss"]?[row],
            !accuracy.isNaN, !loss.isNaN
        else { return nil }
        return (accuracy, loss)
    }
}
