import Foundation
import FuzzSupport
import Platform

/// Input: the text of a campaign file (invalid UTF-8 is repaired, as reading a file would).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? Campaign.parse(text: text, path: "fuzz.toml")
    return 0
}

/// The executable's entry point (see `runFuzzer`).
@_cdecl("FuzzCampaign_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { withInput($0, $1, fuzz) }
}
