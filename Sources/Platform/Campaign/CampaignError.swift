import Foundation

/// A campaign file that cannot be read or used, with the file, line and key at fault and how to fix it.
///
/// `description` is one line, `FILE:LINE: message`, or `FILE: message` when no line applies (a missing file, a
/// required table that is absent), so that editors and terminals can jump to the spot.
public struct CampaignError: Error, CustomStringConvertible, LocalizedError {
    /// The campaign file as it was given.
    public let file: String
    /// The 1-based line the problem is on, if it has one.
    public let line: Int?
    /// The key at fault as a table path (`run.rounds`, `mixes.small.groups[1].share`), if there is one.
    public let key: String?
    /// What is wrong and how to fix it, without the file and line.
    public let message: String

    /// Creates an error; newlines in `message` become spaces so that the description stays one line.
    public init(file: String, line: Int?, key: String?, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// `FILE:LINE: message` or `FILE: message`.
    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }

    /// The description, for Foundation and the command line.
    public var errorDescription: String? { description }
}

/// "did you mean" suggestions for misspelt keys and names.
enum Suggestion {
    /// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo: at most 2
    /// edits, and fewer than half the word's length so that short words are not matched to anything.
    static func closest(to word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { (candidate: $0, distance: editDistance(word, $0)) }
        guard let best = scored.min(by: { $0.distance < $1.distance }) else { return nil }
        let limit = min(2, max(1, (word.count - 1) / 2))
        return best.distance <= limit ? best.candidate : nil
    }

    /// " (did you mean 'rounds'?)" or "".
    static func didYouMean(_ word: String, among candidates: [String]) -> String {
        closest(to: word, among: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    /// The edit distance between two strings by characters, counting a swap of neighbours as one edit (the
    /// optimal-string-alignment variant of Damerau–Levenshtein), so that "rnu" is one edit from "run".
    static func editDistance(_ left: String, _ right: String) -> Int {
        let left = Array(left)
        let right = Array(right)
        guard !left.isEmpty else { return right.count }
        guard !right.isEmpty else { return left.count }
        // distances[i][j]: edits between the first i characters of left and the first j of right.
        var distances = [[Int]](repeating: [Int](repeating: 0, count: right.count + 1), count: left.count + 1)
        for i in 0...left.count { distances[i][0] = i }
        for j in 0...right.count { distances[0][j] = j }
        for i in 1...left.count {
            for j in 1...right.count {
                let substitution = distances[i - 1][j - 1] + (left[i - 1] == right[j - 1] ? 0 : 1)
                var best = min(distances[i - 1][j] + 1, distances[i][j - 1] + 1, substitution)
                if i > 1, j > 1, left[i - 1] == right[j - 2], left[i - 2] == right[j - 1] {
                    best = min(best, distances[i - 2][j - 2] + 1)
                }
                distances[i][j] = best
            }
        }
        return distances[left.count][right.count]
    }
}
