import CoCoFLCore
import NN
import Platform
import Testing

// Expected values in this file are computed by hand; the arithmetic is in the comments next to them.

/// Absolute tolerance for aggregated values: the kernels accumulate in double and round once to float, so the
/// results are within one float rounding of the exact rational value (≤ 1e-5 for magnitudes below ~100).
private let tolerance: Float = 1e-5

private func expectClose(
    _ actual: [Float]?, _ expected: [Float], tolerance: Float = tolerance, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let actual else {
        Issue.record("missing values, expected \(expected)", sourceLocation: sourceLocation)
        return
    }
    #expect(actual.count == expected.count, "value count", sourceLocation: sourceLocation)
    for (index, (value, reference)) in zip(actual, expected).enumerated() {
        #expect(abs(value - reference) <= tolerance, "element \(index): \(value) vs \(reference)",
                sourceLocation: sourceLocation)
    }
}

private func bitPatterns(_ values: [Float]?) -> [UInt32] { (values ?? []).map(\.bitPattern) }

/// Runs `body`, expecting an `AggregationError` of `kind` that names `key` in its message.
private func expectAggregationError(
    _ kind: AggregationError.Kind, key: String?, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected \(kind) error", sourceLocation: sourceLocation)
    } catch let error as AggregationError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        #expect(error.key == key, sourceLocation: sourceLocation)
        if let key { #expect(error.description.contains("'\(key)'"), "\(error)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

/// Seeded SplitMix64, so that the random-subset tests are reproducible.
private struct AggregationTestGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

@Suite("Parameter sets")
struct ParameterSetTests {
    @Test("keys keep insertion order, export is sorted by key")
    func ordering() throws {
        let set = try ParameterSet([
            NamedArray(key: "fc.weight", shape: [1, 2], values: [1, 2]),
            NamedArray(key: "conv.weight", shape: [1], values: [3]),
            NamedArray(key: "bn.running_mean", shape: [1], values: [4]),
        ])
        #expect(set.keys == ["fc.weight", "conv.weight", "bn.running_mean"])
        #expect(set.exported().map(\.key) == ["bn.running_mean", "conv.weight", "fc.weight"])
        #expect(set.count == 3 && set.elementCount == 4)
        #expect(set["conv.weight"]?.values == [3])
        #expect(set["missing"] == nil)
    }

    @Test("duplicate keys, wrong value counts and shape changes throw naming the key")
    func shapeChecks() throws {
        expectAggregationError(.duplicateKey, key: "a") {
            _ = try ParameterSet([NamedArray(key: "a", shape: [1], values: [1]), NamedArray(key: "a", shape: [1], values: [2])])
        }
        expectAggregationError(.shapeMismatch, key: "b") {
            _ = try ParameterSet([NamedArray(key: "b", shape: [2, 2], values: [1, 2, 3])])
        }
        var set = try ParameterSet([NamedArray(key: "c", shape: [2], values: [1, 2])])
        expectAggregationError(.shapeMismatch, key: "c") {
            try set.update(NamedArray(key: "c", shape: [1, 2], values: [1, 2]))
        }
        expectAggregationError(.shapeMismatch, key: "c") { try set.setValues([1, 2, 3], for: "c") }
        expectAggregationError(.unknownKey, key: "d") { try set.setValues([1], for: "d") }
        try set.setValues([5, 6], for: "c")
        #expect(set["c"]?.values == [5, 6])
    }
}

@Suite("CoCoFL and FedAvg aggregation")
struct FullTensorAggregationTests {
    /// A = [1, 2] (trained by devices 0, 1), B = [10, 20] (device 2), C nobody trains: awkward bit patterns
    /// (0.1, −0, NaN) that must survive unchanged.
    static func global() throws -> ParameterSet {
        try ParameterSet([
            NamedArray(key: "A", shape: [2], values: [1, 2]),
            NamedArray(key: "B", shape: [2], values: [10, 20]),
            NamedArray(key: "C", shape: [3], values: [0.1, -0.0, .nan]),
        ])
    }

    static func uploads(samples: [Int] = [1, 1, 1]) throws -> [PartialUpdate] {
        [
            try PartialUpdate(deviceID: 0, sampleCount: samples[0], parameters: [NamedArray(key: "A", shape: [2], values: [4, 8])]),
            try PartialUpdate(deviceID: 1, sampleCount: samples[1], parameters: [NamedArray(key: "A", shape: [2], values: [7, 2])]),
            try PartialUpdate(deviceID: 2, sampleCount: samples[2], parameters: [NamedArray(key: "B", shape: [2], values: [13, 26])]),
        ]
    }

    @Test("CoCoFL rule with N = 3: two devices trained A, one trained B")
    func cocoflThreeDevices() throws {
        let result = try CoCoFLAggregation().aggregate(global: Self.global(), updates: Self.uploads(), participantCount: 3)
        // A: mean = ([4,8] + [7,2]) / 2 = [5.5, 5]; 2/3·[5.5, 5] + 1/3·[1, 2] = [12/3, 12/3] = [4, 4]
        expectClose(result["A"]?.values, [4, 4])
        // B: 1/3·[13, 26] + 2/3·[10, 20] = [33/3, 66/3] = [11, 22]
        expectClose(result["B"]?.values, [11, 22])
        #expect(bitPatterns(result["C"]?.values) == bitPatterns([0.1, -0.0, .nan]))
        #expect(result.keys == ["A", "B", "C"])
    }

    @Test("CoCoFL rule with N = 4: a fourth device took part but uploaded nothing")
    func cocoflFourDevices() throws {
        // A: 2/4·[5.5, 5] + 2/4·[1, 2] = [2.75 + 0.5, 2.5 + 1] = [3.25, 3.5]
        // B: 1/4·[13, 26] + 3/4·[10, 20] = [3.25 + 7.5, 6.5 + 15] = [10.75, 21.5]
        let withEmptyUpload = try Self.uploads() + [PartialUpdate(deviceID: 3, sampleCount: 1, parameters: [])]
        let explicit = try CoCoFLAggregation().aggregate(global: Self.global(), updates: Self.uploads(), participantCount: 4)
        let implicit = try CoCoFLAggregation().aggregate(global: Self.global(), updates: withEmptyUpload)
        for result in [explicit, implicit] {
            expectClose(result["A"]?.values, [3.25, 3.5])
            expectClose(result["B"]?.values, [10.75, 21.5])
            #expect(bitPatterns(result["C"]?.values) == bitPatterns([0.1, -0.0, .nan]))
        }
    }

    @Test("the result does not depend on the order uploads arrive in")
    func orderIndependent() throws {
        let forward = try CoCoFLAggregation().aggregate(global: Self.global(), updates: Self.uploads(), participantCount: 3)
        let backward = try CoCoFLAggregation().aggregate(
            global: Self.global(), updates: Self.uploads().reversed(), participantCount: 3)
        #expect(bitPatterns(forward["A"]?.values) == bitPatterns(backward["A"]?.values))
    }

    @Test("sample-count weighting changes the mean, not the |S_k|/N mix")
    func cocoflSampleWeighting() throws {
        let rule = CoCoFLAggregation(weighting: .sampleCount)
        let result = try rule.aggregate(global: Self.global(), updates: Self.uploads(samples: [30, 10, 50]), participantCount: 3)
        // A: weighted mean = (30·[4, 8] + 10·[7, 2]) / 40 = [190, 260] / 40 = [4.75, 6.5]
        //    2/3·[4.75, 6.5] + 1/3·[1, 2] = [(9.5 + 1)/3, (13 + 2)/3] = [3.5, 5]
        expectClose(result["A"]?.values, [3.5, 5])
        // B: a single device, so its weight cancels: [11, 22] as without weighting
        expectClose(result["B"]?.values, [11, 22])

        expectAggregationError(.invalidWeights, key: "A") {
            _ = try rule.aggregate(global: Self.global(), updates: Self.uploads(samples: [0, 0, 5]), participantCount: 3)
        }
        expectAggregationError(.invalidWeights, key: "A") {
            _ = try rule.aggregate(global: Self.global(), updates: Self.uploads(samples: [-1, 3, 5]), participantCount: 3)
        }
    }

    @Test("FedAvg is the plain mean over uploaders and equals CoCoFL when every device uploads every key")
    func fedAvgMatchesCoCoFL() throws {
        let all = [
            try PartialUpdate(deviceID: 0, sampleCount: 1, parameters: [
                NamedArray(key: "A", shape: [2], values: [4, 8]), NamedArray(key: "B", shape: [2], values: [1, 1]),
            ]),
            try PartialUpdate(deviceID: 1, sampleCount: 3, parameters: [
                NamedArray(key: "A", shape: [2], values: [7, 2]), NamedArray(key: "B", shape: [2], values: [2, 5]),
            ]),
            try PartialUpdate(deviceID: 2, sampleCount: 4, parameters: [
                NamedArray(key: "A", shape: [2], values: [1, 5]), NamedArray(key: "B", shape: [2], values: [3, 0]),
            ]),
        ]
        let fedAvg = try FedAvgAggregation().aggregate(global: Self.global(), updates: all)
        let cocofl = try CoCoFLAggregation().aggregate(global: Self.global(), updates: all, participantCount: 3)
        // A: ([4,8] + [7,2] + [1,5]) / 3 = [12, 15] / 3 = [4, 5];  B: ([1,1] + [2,5] + [3,0]) / 3 = [2, 2]
        expectClose(fedAvg["A"]?.values, [4, 5])
        expectClose(fedAvg["B"]?.values, [2, 2])
        #expect(bitPatterns(fedAvg["A"]?.values) == bitPatterns(cocofl["A"]?.values))
        #expect(bitPatterns(fedAvg["B"]?.values) == bitPatterns(cocofl["B"]?.values))
        #expect(bitPatterns(fedAvg["C"]?.values) == bitPatterns([0.1, -0.0, .nan]))

        // Sample weights 1, 3, 4: A = ([4,8] + 3·[7,2] + 4·[1,5]) / 8 = [29, 34] / 8 = [3.625, 4.25]
        let weighted = try FedAvgAggregation(weighting: .sampleCount).aggregate(global: Self.global(), updates: all)
        expectClose(weighted["A"]?.values, [3.625, 4.25])

        // With partial uploads FedAvg ignores N: A = mean of devices 0, 1 = [5.5, 5]; B = device 2's [13, 26]
        let partial = try FedAvgAggregation().aggregate(global: Self.global(), updates: Self.uploads(), participantCount: 10)
        expectClose(partial["A"]?.values, [5.5, 5])
        expectClose(partial["B"]?.values, [13, 26])
    }

    @Test("a 0-dimensional tensor (num_batches_tracked) averages like any other")
    func scalarTensor() throws {
        let global = try ParameterSet([NamedArray(key: "bn.num_batches_tracked", shape: [], values: [5])])
        let updates = try [7, 9].enumerated().map { device, value in
            try PartialUpdate(deviceID: device, sampleCount: 1, parameters: [
                NamedArray(key: "bn.num_batches_tracked", shape: [], values: [Float(value)]),
            ])
        }
        // (7 + 9) / 2 = 8 for every rule
        for rule in [CoCoFLAggregation() as any AggregationRule, FedAvgAggregation(), ElementwiseAggregation()] {
            expectClose(try rule.aggregate(global: global, updates: updates)["bn.num_batches_tracked"]?.values, [8])
        }
    }

    @Test("bad rounds throw naming the key or device")
    func roundErrors() throws {
        expectAggregationError(.unknownKey, key: "D") {
            let update = try PartialUpdate(deviceID: 0, sampleCount: 1, parameters: [NamedArray(key: "D", shape: [1], values: [1])])
            _ = try CoCoFLAggregation().aggregate(global: Self.global(), updates: [update], participantCount: 1)
        }
        expectAggregationError(.shapeMismatch, key: "A") {
            let update = try PartialUpdate(deviceID: 0, sampleCount: 1, parameters: [NamedArray(key: "A", shape: [3], values: [1, 2, 3])])
            _ = try FedAvgAggregation().aggregate(global: Self.global(), updates: [update])
        }
        expectAggregationError(.invalidUpdate, key: "A") {
            let sub = TensorUpdate(key: "A", shape: [1], values: [1], coverage: [.indices([1])])
            let update = try PartialUpdate(deviceID: 0, sampleCount: 1, tensors: [sub])
            _ = try CoCoFLAggregation().aggregate(global: Self.global(), updates: [update], participantCount: 1)
        }
        expectAggregationError(.invalidUpdate, key: nil) {
            _ = try CoCoFLAggregation().aggregate(global: Self.global(), updates: Self.uploads(), participantCount: 2)
        }
        expectAggregationError(.invalidUpdate, key: nil) {
            let uploads = try Self.uploads()
            _ = try CoCoFLAggregation().aggregate(global: Self.global(), updates: [uploads[0], uploads[0]], participantCount: 2)
        }
        expectAggregationError(.duplicateKey, key: "A") {
            _ = try PartialUpdate(deviceID: 4, sampleCount: 1, parameters: [
                NamedArray(key: "A", shape: [2], values: [1, 2]), NamedArray(key: "A", shape: [2], values: [1, 2]),
            ])
        }
        // No uploads at all: everything stays as it was.
        let unchanged = try CoCoFLAggregation().aggregate(global: Self.global(), updates: [], participantCount: 3)
        #expect(bitPatterns(unchanged.arrays.flatMap(\.values)) == bitPatterns(try Self.global().arrays.flatMap(\.values)))
    }

    @Test("quantization scales are plain means over the devices that reported them")
    func scalarAveraging() throws {
        let updates = [
            try PartialUpdate(deviceID: 0, sampleCount: 100, parameters: [], scalars: ["s1": 0.5, "s2": 2]),
            try PartialUpdate(deviceID: 1, sampleCount: 1, parameters: [], scalars: ["s1": 1.5]),
            try PartialUpdate(deviceID: 2, sampleCount: 1, parameters: []),
        ]
        let averaged = averageScalars(updates, previous: ["s1": 9, "s3": 4])
        // s1: (0.5 + 1.5) / 2 = 1 (no sample weighting, device 2 did not report it); s2: only device 0 → 2;
        // s3: nobody reported → previous 4
        #expect(averaged.keys.sorted() == ["s1", "s2", "s3"])
        #expect(abs(averaged["s1"]! - 1) <= tolerance)
        #expect(abs(averaged["s2"]! - 2) <= tolerance)
        #expect(averaged["s3"] == 4)
    }
}

@Suite("Elementwise sub-model aggregation")
struct ElementwiseAggregationTests {
    /// conv.weight [4, 2, 1, 1] with w[o, i] = 100 + 10·o + i; conv.bias [4] = [−1, −2, −3, −4];
    /// fc.weight [3, 4] = 0 … 11 row-major.
    static func global() throws -> ParameterSet {
        try ParameterSet([
            NamedArray(key: "conv.weight", shape: [4, 2, 1, 1], values: [100, 101, 110, 111, 120, 121, 130, 131]),
            NamedArray(key: "conv.bias", shape: [4], values: [-1, -2, -3, -4]),
            NamedArray(key: "fc.weight", shape: [3, 4], values: (0..<12).map(Float.init)),
        ])
    }

    /// A HeteroFL device of width ratio r: ⌈r·4⌉ output channels and ⌈r·2⌉ input channels, both prefixes.
    static func heteroFLDevice(_ device: Int, outputs: Int, inputs: Int, weight: [Float], bias: [Float]) throws -> PartialUpdate {
        try PartialUpdate(deviceID: device, sampleCount: 1, tensors: [
            TensorUpdate(key: "conv.weight", shape: [outputs, inputs, 1, 1], values: weight,
                         coverage: [.prefix(outputs), .prefix(inputs), .all, .all]),
            TensorUpdate(key: "conv.bias", shape: [outputs], values: bias, coverage: [.prefix(outputs)]),
        ])
    }

    /// r = 1: 4×2 channels, weight 1 … 8, bias [10, 20, 30, 40].
    static func full() throws -> PartialUpdate {
        try heteroFLDevice(0, outputs: 4, inputs: 2, weight: [1, 2, 3, 4, 5, 6, 7, 8], bias: [10, 20, 30, 40])
    }
    /// r = 0.5: ⌈2⌉ = 2 output × ⌈1⌉ = 1 input channels: w[0,0] = 11, w[1,0] = 13; bias [50, 60].
    static func half() throws -> PartialUpdate {
        try heteroFLDevice(1, outputs: 2, inputs: 1, weight: [11, 13], bias: [50, 60])
    }
    /// r = 0.25: ⌈1⌉ = 1 output × ⌈0.5⌉ = 1 input channel: w[0,0] = 20; bias [90].
    static func quarter() throws -> PartialUpdate {
        try heteroFLDevice(2, outputs: 1, inputs: 1, weight: [20], bias: [90])
    }

    @Test("HeteroFL prefixes r = 1, 0.5, 0.25 of 4 output channels")
    func overlappingPrefixes() throws {
        let result = try ElementwiseAggregation().aggregate(
            global: Self.global(), updates: [Self.full(), Self.half(), Self.quarter()])
        // w[0,0]: all three (1 + 11 + 20)/3 = 32/3;  w[0,1]: only r=1 → 2
        // w[1,0]: r=1 and r=0.5 (3 + 13)/2 = 8;       w[1,1]: 4
        // w[2,·] = 5, 6 and w[3,·] = 7, 8: only r=1
        expectClose(result["conv.weight"]?.values, [32.0 / 3, 2, 8, 4, 5, 6, 7, 8])
        // bias: (10 + 50 + 90)/3 = 50, (20 + 60)/2 = 40, 30, 40
        expectClose(result["conv.bias"]?.values, [50, 40, 30, 40])
        #expect(result["fc.weight"] == (try Self.global())["fc.weight"])
    }

    @Test("elements no sub-model covered keep their value")
    func uncoveredElements() throws {
        let result = try ElementwiseAggregation().aggregate(global: Self.global(), updates: [Self.half(), Self.quarter()])
        // w[0,0]: (11 + 20)/2 = 15.5; w[1,0]: 13; the rest is the old global 101, 111, 120, 121, 130, 131
        expectClose(result["conv.weight"]?.values, [15.5, 101, 13, 111, 120, 121, 130, 131])
        #expect(result["conv.weight"]!.values[1].bitPattern == Float(101).bitPattern)
        // bias: (50 + 90)/2 = 70, 60, old −3, −4
        expectClose(result["conv.bias"]?.values, [70, 60, -3, -4])
    }

    @Test("FedRolex windows wrap around modulo the channel count")
    func rolledWindows() throws {
        #expect(AxisCoverage.window(start: 3, count: 2, dimension: 4) == .indices([3, 0]))
        #expect(AxisCoverage.window(start: 6, count: 3, dimension: 4) == .indices([2, 3, 0]))
        #expect(AxisCoverage.window(start: -1, count: 1, dimension: 4) == .indices([3]))
        let first = try PartialUpdate(deviceID: 0, sampleCount: 1, tensors: [
            // sub-position 0 → global channel 3: [1, 2]; position 1 → global channel 0: [3, 4]
            TensorUpdate(key: "conv.weight", shape: [2, 2, 1, 1], values: [1, 2, 3, 4],
                         coverage: [.window(start: 3, count: 2, dimension: 4), .all, .all, .all]),
            TensorUpdate(key: "conv.bias", shape: [2], values: [5, 7], coverage: [.indices([3, 0])]),
        ])
        let second = try PartialUpdate(deviceID: 1, sampleCount: 1, tensors: [
            // global channels 2, 3, 0 get [10, 20], [30, 40], [50, 60]
            TensorUpdate(key: "conv.weight", shape: [3, 2, 1, 1], values: [10, 20, 30, 40, 50, 60],
                         coverage: [.indices([2, 3, 0]), .all, .all, .all]),
            TensorUpdate(key: "conv.bias", shape: [3], values: [1, 2, 3], coverage: [.indices([2, 3, 0])]),
        ])
        let result = try ElementwiseAggregation().aggregate(global: Self.global(), updates: [first, second])
        // channel 0: ([3,4] + [50,60])/2 = [26.5, 32]; channel 1: untouched [110, 111];
        // channel 2: [10, 20]; channel 3: ([1,2] + [30,40])/2 = [15.5, 21]
        expectClose(result["conv.weight"]?.values, [26.5, 32, 110, 111, 10, 20, 15.5, 21])
        // bias: g0 = (7 + 3)/2 = 5, g1 = old −2, g2 = 1, g3 = (5 + 2)/2 = 3.5
        expectClose(result["conv.bias"]?.values, [5, -2, 1, 3.5])
    }

    @Test("Federated Dropout: unordered random channel subsets on both axes")
    func randomSubset() throws {
        // fc.weight g[o][i] = 4·o + i. Device 0 keeps outputs [2, 0] and inputs [3, 1]:
        // g[2][3] = 100, g[2][1] = 200, g[0][3] = 300, g[0][1] = 400. Device 1 keeps output [0], inputs [1, 2]:
        // g[0][1] = 50, g[0][2] = 60.
        let updates = [
            try PartialUpdate(deviceID: 0, sampleCount: 1, tensors: [
                TensorUpdate(key: "fc.weight", shape: [2, 2], values: [100, 200, 300, 400],
                             coverage: [.indices([2, 0]), .indices([3, 1])]),
            ]),
            try PartialUpdate(deviceID: 1, sampleCount: 1, tensors: [
                TensorUpdate(key: "fc.weight", shape: [1, 2], values: [50, 60], coverage: [.indices([0]), .indices([1, 2])]),
            ]),
        ]
        let result = try ElementwiseAggregation().aggregate(global: Self.global(), updates: updates)
        // row 0: [old 0, (400 + 50)/2 = 225, 60, 300]; row 1 untouched [4, 5, 6, 7]; row 2: [old 8, 200, old 10, 100]
        expectClose(result["fc.weight"]?.values, [0, 225, 60, 300, 4, 5, 6, 7, 8, 200, 10, 100])
    }

    @Test("seeded random subsets of rank 1 … 4 match a direct per-element reference", arguments: [
        [5], [4, 3], [3, 4, 2], [4, 3, 2, 2],
    ])
    func randomSubsetsAgainstReference(shape: [Int]) throws {
        var generator = AggregationTestGenerator(state: UInt64(shape.count * 7919))
        let count = shape.reduce(1, *)
        let globalValues = (0..<count).map { _ in Float.random(in: -1...1, using: &generator) }
        let global = try ParameterSet([NamedArray(key: "t", shape: shape, values: globalValues)])
        var sums = [Double](repeating: 0, count: count)
        var covers = [Int](repeating: 0, count: count)
        var updates: [PartialUpdate] = []
        for device in 0..<4 {
            let indices = shape.map { dimension in
                Array((0..<dimension).shuffled(using: &generator).prefix(Int.random(in: 1...dimension, using: &generator)))
            }
            let subShape = indices.map(\.count)
            let values = (0..<subShape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &generator) }
            // Reference: walk every sub-element, map it to its global row-major offset.
            for subOffset in 0..<values.count {
                var remainder = subOffset
                var globalOffset = 0
                var stride = 1
                for axis in (0..<shape.count).reversed() {
                    globalOffset += indices[axis][remainder % subShape[axis]] * stride
                    remainder /= subShape[axis]
                    stride *= shape[axis]
                }
                sums[globalOffset] += Double(values[subOffset])
                covers[globalOffset] += 1
            }
            updates.append(try PartialUpdate(deviceID: device, sampleCount: 1, tensors: [
                TensorUpdate(key: "t", shape: subShape, values: values, coverage: indices.map { .indices($0) }),
            ]))
        }
        let expected = (0..<count).map { covers[$0] > 0 ? Float(sums[$0] / Double(covers[$0])) : globalValues[$0] }
        let result = try ElementwiseAggregation().aggregate(global: global, updates: updates)
        expectClose(result["t"]?.values, expected, tolerance: 1e-6)
    }

    @Test("full tensors average exactly like FedAvg")
    func fullTensorsMatchFedAvg() throws {
        let updates = try (0..<3).map { device in
            try PartialUpdate(deviceID: device, sampleCount: device + 1, parameters: [
                NamedArray(key: "conv.bias", shape: [4], values: (0..<4).map { Float(device * 4 + $0) / 3 }),
            ])
        }
        for weighting in DeviceWeighting.allCases {
            let elementwise = try ElementwiseAggregation(weighting: weighting).aggregate(global: Self.global(), updates: updates)
            let fedAvg = try FedAvgAggregation(weighting: weighting).aggregate(global: Self.global(), updates: updates)
            #expect(bitPatterns(elementwise["conv.bias"]?.values) == bitPatterns(fedAvg["conv.bias"]?.values))
        }
    }

    @Test("sample-count weighting applies per element")
    func weightedElements() throws {
        var half = try Self.half()
        half.sampleCount = 3
        let result = try ElementwiseAggregation(weighting: .sampleCount).aggregate(
            global: Self.global(), updates: [Self.full(), half])
        // bias[0] = (1·10 + 3·50)/4 = 160/4 = 40; bias[1] = (1·20 + 3·60)/4 = 200/4 = 50; bias[2, 3] only r = 1
        expectClose(result["conv.bias"]?.values, [40, 50, 30, 40])
    }

    @Test("index and shape errors name the key")
    func indexErrors() throws {
        func aggregate(_ tensor: TensorUpdate) throws {
            let update = try PartialUpdate(deviceID: 0, sampleCount: 1, tensors: [tensor])
            _ = try ElementwiseAggregation().aggregate(global: Self.global(), updates: [update])
        }
        // output channel 4 of 4
        expectAggregationError(.invalidIndex, key: "conv.weight") {
            try aggregate(TensorUpdate(key: "conv.weight", shape: [2, 2, 1, 1], values: [1, 2, 3, 4],
                                       coverage: [.indices([0, 4]), .all, .all, .all]))
        }
        expectAggregationError(.invalidIndex, key: "conv.bias") {
            try aggregate(TensorUpdate(key: "conv.bias", shape: [1], values: [1], coverage: [.indices([-1])]))
        }
        expectAggregationError(.invalidIndex, key: "conv.bias") {
            try aggregate(TensorUpdate(key: "conv.bias", shape: [2], values: [1, 2], coverage: [.indices([1, 1])]))
        }
        // 3 output channels in the sub-tensor, but the index list covers 2
        expectAggregationError(.shapeMismatch, key: "conv.weight") {
            try aggregate(TensorUpdate(key: "conv.weight", shape: [3, 2, 1, 1], values: Array(repeating: 0, count: 6),
                                       coverage: [.prefix(2), .all, .all, .all]))
        }
        // `.all` inputs but only one input channel in the sub-tensor
        expectAggregationError(.shapeMismatch, key: "conv.weight") {
            try aggregate(TensorUpdate(key: "conv.weight", shape: [2, 1, 1, 1], values: [1, 2],
                                       coverage: [.prefix(2), .all, .all, .all]))
        }
        // rank 2 index lists for a rank 4 tensor
        expectAggregationError(.shapeMismatch, key: "conv.weight") {
            try aggregate(TensorUpdate(key: "conv.weight", shape: [2, 2], values: [1, 2, 3, 4], coverage: [.prefix(2), .all]))
        }
        // shape and lists agree, values do not
        expectAggregationError(.shapeMismatch, key: "conv.bias") {
            try aggregate(TensorUpdate(key: "conv.bias", shape: [2], values: [1], coverage: [.prefix(2)]))
        }
        expectAggregationError(.unknownKey, key: "conv.wieght") {
            try aggregate(TensorUpdate(key: "conv.wieght", shape: [1], values: [1], coverage: [.prefix(1)]))
        }
    }
}

/// A registry entry for the tests.
private struct TestStrategy: RegistryEntry, Sendable {
    let id: String
    let summary: String
}

@Suite("Strategy registry")
struct StrategyRegistryTests {
    fileprivate static func registry() throws -> StrategyRegistry<TestStrategy> {
        try StrategyRegistry([
            TestStrategy(id: "heterofl", summary: "width-scaled sub-models"),
            TestStrategy(id: "cocofl", summary: "partial freezing and quantization"),
            TestStrategy(id: "fedavg", summary: "every device trains the full model"),
        ])
    }

    @Test("ids are sorted and entries are found by id")
    func lookup() throws {
        let registry = try Self.registry()
        #expect(registry.ids == ["cocofl", "fedavg", "heterofl"])
        #expect(try registry.entry(id: "fedavg").summary == "every device trains the full model")
        #expect(registry.entries.map(\.id) == registry.ids)
        #expect(registry.contains(id: "cocofl") && !registry.contains(id: "CoCoFL"))
    }

    @Test("a duplicate id throws listing the registered ids")
    func duplicate() throws {
        var registry = try Self.registry()
        do {
            try registry.register(TestStrategy(id: "cocofl", summary: "again"))
            Issue.record("expected a duplicate-id error")
        } catch let error as RegistryError {
            #expect(error.kind == .duplicateID)
            #expect(error.id == "cocofl")
            #expect(error.knownIDs == ["cocofl", "fedavg", "heterofl"])
            #expect(error.description.contains("'cocofl'") && error.description.contains("cocofl, fedavg, heterofl"))
        }
        #expect(registry.count == 3)
    }

    @Test("an unknown id throws listing the ids and suggesting the closest", arguments: [
        ("fedavgg", "fedavg"), ("CoCoFL", "cocofl"), ("hetero-fl", "heterofl"), ("sgd-magic", nil),
    ] as [(String, String?)])
    func unknown(id: String, suggestion: String?) throws {
        let registry = try Self.registry()
        do {
            _ = try registry.entry(id: id)
            Issue.record("expected an unknown-id error")
        } catch let error as RegistryError {
            #expect(error.kind == .unknownID)
            #expect(error.suggestion == suggestion)
            #expect(error.description.contains("'\(id)'"))
            #expect(error.description.contains("cocofl, fedavg, heterofl"))
            if let suggestion { #expect(error.description.contains("did you mean '\(suggestion)'")) }
        }
    }

    @Test("an empty registry says that nothing is registered")
    func empty() throws {
        let registry = StrategyRegistry<TestStrategy>(entryKind: "model")
        let error = #expect(throws: RegistryError.self) { try registry.entry(id: "resnet18") }
        #expect(error?.description.contains("unknown model 'resnet18'") == true)
        #expect(error?.description.contains("Known model ids: none") == true)
        #expect(error?.suggestion == nil)
    }
}
