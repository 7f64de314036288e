import Foundation
import FuzzSupport
import Platform

/// Input: two length-prefixed parts, CIFAR-100's train.bin and test.bin (CIFAR-100 because its two label bytes
/// exercise more of the record checks than CIFAR-10's one; both share the reader).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = splitInput(data, size, into: 2)
    writeScratch("cifar/train.bin", parts[0])
    writeScratch("cifar/test.bin", parts[1])
    _ = try? CIFARDatasetLoader.cifar100.load(directory: scratchDirectory + "/cifar")
    return 0
}

/// The executable's entry point (see `runFuzzer`).
@_cdecl("FuzzCIFAR_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { withInput($0, $1, fuzz) }
}
