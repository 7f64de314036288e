import CoCoFLCore
import Foundation
import NN

// The profile a run chose its CoCoFL windows from: /runs/<name>/profile, a uint8 dataset holding the UTF-8 JSON of
// the profile (the objects of cocofl profile's JSON output plus model, input shape, classes, batch and unit names). A
// resumed run must use the same profile as its first part, and re-measuring gives other numbers, so it is stored.
extension RunRecord {
    /// Stores the run's profile, replacing an earlier one.
    public func writeProfile(_ profile: ModelProfile) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = [UInt8](try encoder.encode(profile))
        if try group.contains(ResultsLayout.runProfile) { try group.deleteChild(ResultsLayout.runProfile) }
        let dataset = try group.createDataset(ResultsLayout.runProfile, values: bytes, shape: [bytes.count], compression: .none)
        try dataset.attributes.set("encoding", to: .string("UTF-8 JSON"))
        try results.flush()
    }

    /// The run's stored profile, or nil when the run has none (runs written before profiles were stored).
    public func storedProfile() throws -> ModelProfile? {
        guard try group.kind(of: ResultsLayout.runProfile) == .dataset else { return nil }
        let bytes = try group.readDataset(ResultsLayout.runProfile, as: UInt8.self).values
        do {
            return try JSONDecoder().decode(ModelProfile.self, from: Data(bytes))
        } catch {
            throw self.error(.damaged, at: ResultsLayout.runProfile, "the stored profile is not valid profile JSON (\(error)); restart the run")
        }
    }
}
