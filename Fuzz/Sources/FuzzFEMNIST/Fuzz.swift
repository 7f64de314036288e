import Foundation
import FuzzSupport
import Platform

/// Input: two length-prefixed parts, one LEAF JSON file in train/ and one in test/.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = splitInput(data, size, into: 2)
    writeScratch("femnist/train/all_data_0.json", parts[0])
    writeScratch("femnist/test/all_data_0.json", parts[1])
    _ = try? FEMNISTDatasetLoader.femnist.load(directory: scratchDirectory + "/femnist")
    return 0
}

/// The executable's entry point (see `runFuzzer`).
@_cdecl("FuzzFEMNIST_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { withInput($0, $1, fuzz) }
}
