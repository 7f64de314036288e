// Metrics: one float64 column per metric under /runs/<name>/metrics, one row per evaluation round; the `round`
// column says which round each row belongs to.
extension RunRecord {
    /// Appends one row — the round number and every metric — and flushes the file, so the row survives a crash.
    ///
    /// A metric already in the file but missing from `values` gets NaN in this row; a metric seen for the first
    /// time is back-filled with NaN for the earlier rows, so all columns keep the same length. Rounds must
    /// increase; to redo rounds after resuming from an earlier checkpoint, call `discardMetrics(afterRound:)`.
    public func appendMetrics(round: Int, values: [String: Double]) throws {
        let metrics = try metricsGroup()
        if values[ResultsLayout.roundMetric] != nil {
            throw error(
                .invalidName, at: ResultsLayout.metrics,
                "'round' is filled from the round argument; remove it from the metric values")
        }
        for name in values.keys {
            try ResultsNames.validate(name, as: "metric name", filePath: results.path, parent: metrics.path)
        }
        let rounds = try metrics.openDataset(ResultsLayout.roundMetric)
        let recordedRounds = try rounds.read(as: Double.self)
        guard round >= 0 else {
            throw error(.invalidValue, at: ResultsLayout.metrics, "round \(round) is negative; rounds start at 0")
        }
        if let last = recordedRounds.last, Double(round) <= last {
            throw error(
                .invalidValue, at: ResultsLayout.metrics,
                "round \(round) is not after the last recorded round \(Int(last)); rounds must increase "
                    + "(call discardMetrics(afterRound:) first to redo rounds after resuming)")
        }
        let rowCount = recordedRounds.count
        for name in values.keys.sorted() where try !metrics.contains(name) {
            try metrics.createExtendibleDataset(name, of: Double.self, chunkLength: RunRecord.metricChunkLength)
        }
        for name in try metrics.children() where name != ResultsLayout.roundMetric {
            let column = try metrics.openDataset(name)
            let length = try column.shape().first ?? 0
            guard length <= rowCount else {
                throw error(
                    .damaged, at: "\(ResultsLayout.metrics)/\(name)",
                    "metric '\(name)' has \(length) entries but 'round' has \(rowCount)")
            }
            let padding = [Double](repeating: .nan, count: rowCount - length)
            try column.append(contentsOf: padding + [values[name] ?? .nan], flush: false)
        }
        // The round goes in last: a row is complete once its round is recorded.
        try rounds.append(contentsOf: [Double(round)], flush: false)
        try results.flush()
    }

    /// Every metric column, `round` included, by name.
    public func metrics() throws -> [String: [Double]] {
        let metrics = try metricsGroup()
        var columns: [String: [Double]] = [:]
        for name in try metrics.children() {
            columns[name] = try metrics.openDataset(name).read(as: Double.self)
        }
        return columns
    }

    /// The names of the metric columns, `round` included, sorted.
    public func metricNames() throws -> [String] {
        try metricsGroup().children()
    }

    /// The last round with recorded metrics, or nil when none are recorded.
    public func lastMetricsRound() throws -> Int? {
        try metricsGroup().openDataset(ResultsLayout.roundMetric).read(as: Double.self).last.map { Int($0) }
    }

    /// Removes the metric rows of rounds after `round` (resuming from the checkpoint of `round` redoes them).
    public func discardMetrics(afterRound round: Int) throws {
        let metrics = try metricsGroup()
        let recordedRounds = try metrics.openDataset(ResultsLayout.roundMetric).read(as: Double.self)
        let keptCount = recordedRounds.prefix(while: { $0 <= Double(round) }).count
        for name in try metrics.children() {
            let column = try metrics.openDataset(name)
            if try (column.shape().first ?? 0) > keptCount {
                try column.resize(toLength: keptCount)
            }
        }
        try results.flush()
    }

    private func metricsGroup() throws -> HDF5Group {
        do {
            return try group.openGroup(ResultsLayout.metrics)
        } catch let failure as HDF5Error where failure.kind == .notFound {
            throw error(.damaged, at: ResultsLayout.metrics, "the run has no 'metrics' group")
        }
    }
}
