import SMMU
#if canImport(Glibc)
import Glibc
#endif

/// Which harness runs: VSMMU_FUZZ_TARGET=model (the default: guest
/// programs against the model, ModelFuzzer) or wire (front-end byte
/// streams against a backend session, WireFuzzer).
enum FuzzTarget {
    static let wire: Bool = {
        guard let p = getenv("VSMMU_FUZZ_TARGET") else { return false }
        return String(cString: p) == "wire"
    }()

    static func run(_ input: UnsafeRawBufferPointer) {
        if wire { WireFuzzer.run(input) } else { ModelFuzzer.run(input) }
    }
}

#if VSMMU_FUZZER
/// libFuzzer's entry point (built with --sanitize=fuzzer -DVSMMU_FUZZER;
/// libFuzzer brings main): one input against the chosen harness.
@_cdecl("LLVMFuzzerTestOneInput")
public func vsmmuFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
/// Without libFuzzer: replays the inputs named on the command line (files,
/// or directories of them, such as the corpus), for a crash found by the
/// fuzzer to be debugged in an ordinary build; `--write-wire-seeds DIR`
/// writes the wire harness's seed inputs (Tests/FuzzCorpus/wire).
@main
struct Replay {
    static func main() throws {
        var arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "--write-wire-seeds", let dir = arguments.dropFirst().first {
            for (name, bytes) in WireFuzzer.seeds { try Corpus.write(bytes, to: dir + "/" + name) }
            print("wrote \(WireFuzzer.seeds.count) seeds to \(dir)")
            return
        }
        var inputs = 0
        while let path = arguments.popFirst() {
            for file in Corpus.files(at: path) {
                let bytes = try Corpus.read(file)
                bytes.withUnsafeBytes { FuzzTarget.run($0) }
                if FuzzTarget.wire { print("\(file): \(bytes.count) bytes in, \(WireFuzzer.lastReplyBytes) bytes of replies") }
                inputs += 1
            }
        }
        print("replayed \(inputs) inputs")
    }
}
#endif
