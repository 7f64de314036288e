import Foundation
import FuzzSupport
import Platform

/// Input: four length-prefixed parts, the train images, train labels, test images and test labels IDX files
/// (uncompressed), loaded with the Fashion-MNIST loader.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = splitInput(data, size, into: 4)
    let names = [IDXDatasetLoader.trainImagesFile, IDXDatasetLoader.trainLabelsFile,
                 IDXDatasetLoader.testImagesFile, IDXDatasetLoader.testLabelsFile]
    for (name, part) in zip(names, parts) { writeScratch("idx/" + name, part) }
    _ = try? IDXDatasetLoader.fashionMNIST.load(directory: scratchDirectory + "/idx")
    return 0
}

/// The executable's entry point (see `runFuzzer`).
@_cdecl("FuzzIDX_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { withInput($0, $1, fuzz) }
}
