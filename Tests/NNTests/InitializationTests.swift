import CoCoFLCore
import Testing
@testable import NN

@Suite("Initialization")
struct InitializationTests {
    @Test("the C fill draws exactly Float.random(in: -b...b) of the seeded generator, and leaves it in the same state",
          arguments: [(Float(0.0078125), UInt64(1)), (Float(0.3), UInt64(42)), (Float(1.0 / 3.0), UInt64(0xDEAD_BEEF)), (Float(2.5), UInt64.max)])
    func fillMatchesFloatRandom(bound: Float, seed: UInt64) throws {
        let context = try ComputeContext()
        let (fast, reference) = (try Tensor(zeros: [10_007], context: context), try Tensor(zeros: [10_007], context: context))
        var fastGenerator = SeededGenerator(seed: seed), referenceGenerator = SeededGenerator(seed: seed)
        fillUniform(fast, bound: bound, generator: &fastGenerator)
        fillUniformGeneric(reference, bound: bound, generator: &referenceGenerator)
        let (a, b) = (try fast.toArray(), try reference.toArray())
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        #expect(fastGenerator == referenceGenerator)
        #expect(a.allSatisfy { abs($0) <= bound } && Set(a).count > 9_000)
    }
}
