import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Compiles Tests/CABI/cabi_test.c with `cc` against the built libvsmmu-c.so
/// (including only vsmmu.h) and runs it.
@Suite("C ABI")
struct CABITests {
    static let packageRoot: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)   // Tests/ServerTests/CABITests.swift
        return parts.joined(separator: "/")
    }()

    /// The build directory: where the running test bundle lives.
    static func buildDirectory() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        var path = String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // .../debug/vsmmuPackageTests.xctest
        while let slash = path.lastIndex(of: "/") {
            path = String(path[..<slash])
            if access(path + "/libvsmmu-c.so", F_OK) == 0 { return path }
            if path.hasSuffix("/.build") || path.isEmpty { break }
        }
        return nil
    }

    static func run(_ command: String) -> Int32 {
        let status = system(command)
        return status == -1 ? -1 : (status >> 8) & 0xFF
    }

    #if VSMMU_SANITIZED
    /// The C program links the library without the sanitizers' runtimes.
    static let sanitized = true
    #else
    static let sanitized = false
    #endif

    @Test(.disabled(if: sanitized, "built for a sanitizer: the C program cannot link its runtime"))
    func cProgramDrivesTheModel() throws {
        let dir = try #require(CABITests.buildDirectory(), "libvsmmu-c.so not found next to the test bundle (swift build --build-tests builds it)")
        let root = CABITests.packageRoot
        let exe = "/tmp/vsmmu-cabi-test-\(getpid())"
        defer { unlink(exe) }
        let compile = "cc -std=c11 -Wall -Wextra -pedantic -Werror -I '\(root)/CShims/include' '\(root)/Tests/CABI/cabi_test.c' -L '\(dir)' -lvsmmu-c -Wl,-rpath,'\(dir)' -o '\(exe)'"
        #expect(CABITests.run(compile) == 0, "compile: \(compile)")
        #expect(CABITests.run("'\(exe)'") == 0)
    }
}
