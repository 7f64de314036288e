import CoCoFLCore
/// Plain means of named scalars (quantization scales) over the devices that reported each one.
///
/// The CoCoFL reference averages activation and gradient scales observed in trained blocks this way, without
/// sample weighting. Names nobody reported keep their `previous` value; names in neither are absent.
public func averageScalars(_ updates: [PartialUpdate], previous: [String: Float] = [:]) -> [String: Float] {
    var sums: [String: (sum: Double, count: Int)] = [:]
    for update in updates.sorted(by: { $0.deviceID < $1.deviceID }) {
        for (name, value) in update.scalars {
            sums[name, default: (0, 0)].sum += Double(value)
            sums[name, default: (0, 0)].count += 1
        }
    }
    var result = previous
    for (name, accumulated) in sums {
        result[name] = Float(accumulated.sum / Double(accumulated.count))
    }
    return result
}
