import SMMU

#if VSMMU_FUZZER
/// libFuzzer's entry point (built with --sanitize=fuzzer -DVSMMU_FUZZER;
/// libFuzzer brings main): one input, one fresh model.
@_cdecl("LLVMFuzzerTestOneInput")
public func vsmmuFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ModelFuzzer.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
/// Without libFuzzer: replays the inputs named on the command line (files,
/// or directories of them, such as the corpus), for a crash found by the
/// fuzzer to be debugged in an ordinary build.
@main
struct Replay {
    static func main() throws {
        var inputs = 0
        for path in CommandLine.arguments.dropFirst() {
            for file in Corpus.files(at: path) {
                let bytes = try Corpus.read(file)
                bytes.withUnsafeBytes { ModelFuzzer.run($0) }
                inputs += 1
            }
        }
        print("replayed \(inputs) inputs")
    }
}
#endif
