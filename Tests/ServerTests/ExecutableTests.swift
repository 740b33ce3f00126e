import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The `vsmmu` executable as a user and a front end meet it: listening on a
/// socket path and shutting down cleanly on SIGTERM, serving an inherited
/// socket and exiting when the front end closes it, printing capabilities,
/// and refusing bad options.
@Suite("vsmmu executable")
struct ExecutableTests {
    static func binary() throws -> String {
        let dir = try #require(CABITests.buildDirectory(), "build directory not found")
        let path = dir + "/vsmmu"
        try #require(access(path, X_OK) == 0, "\(path) missing: swift build --build-tests builds it")
        return path
    }

    /// Starts `argv` with `inherit` (if any) as its fd 3; returns the pid.
    static func spawn(_ argv: [String], inherit: Int32? = nil) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let fd = inherit { posix_spawn_file_actions_adddup2(&actions, fd, 3) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ)
        return rc == 0 ? pid : -1
    }

    /// Waits up to `seconds` for `pid`; returns its exit code, or nil (killed
    /// by a signal, or still running: then it is killed).
    static func wait(_ pid: pid_t, seconds: Double) -> Int32? {
        var status: Int32 = 0
        for _ in 0..<Int(seconds * 100) {
            if waitpid(pid, &status, WNOHANG) == pid {
                return status & 0x7F == 0 ? (status >> 8) & 0xFF : nil
            }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
        return nil
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    @Test func listensAndShutsDownCleanlyOnSIGTERM() throws {
        let path = "/tmp/vsmmu-exe-test-\(getpid()).sock"
        unlink(path)
        let pid = Self.spawn([try Self.binary(), "--socket-path", path])
        try #require(pid > 0)
        var waited = 0
        while !Self.exists(path) && waited < 500 { usleep(10_000); waited += 1 }
        #expect(Self.exists(path), "socket not created within 5 s")
        // A front end connects and goes away; the backend keeps listening.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in path.utf8.enumerated() where i < buf.count - 1 { buf[i] = b }
        }
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(connected == 0)
        close(fd)
        usleep(50_000)
        #expect(kill(pid, 0) == 0, "backend exited after a front end disconnected")
        kill(pid, SIGTERM)
        #expect(Self.wait(pid, seconds: 5) == 0, "SIGTERM must give exit status 0")
        #expect(!Self.exists(path), "socket file must be removed on shutdown")
    }

    @Test func inheritedSocketExitsWhenFrontEndCloses() throws {
        var fds: [Int32] = [-1, -1]
        // CLOEXEC: children spawned by tests running in parallel must not keep a copy.
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0)
        let pid = Self.spawn([try Self.binary(), "--fd", "3"], inherit: fds[1])
        close(fds[1])
        try #require(pid > 0)
        usleep(100_000)
        #expect(kill(pid, 0) == 0, "backend must serve until the front end closes")
        close(fds[0])
        #expect(Self.wait(pid, seconds: 5) == 0)
    }

    @Test func printsCapabilitiesAsJSON() throws {
        let pipe = popen("'\(try Self.binary())' --print-capabilities --no-pri", "r")
        try #require(pipe != nil)
        var out = ""
        var buf = [CChar](repeating: 0, count: 4096)
        while fgets(&buf, Int32(buf.count), pipe) != nil {
            out += String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        #expect(pclose(pipe) == 0)
        #expect(out.contains("\"type\": \"smmuv3\""))
        #expect(out.contains("\"ats\""))
        #expect(!out.contains("\"pri\""), "--no-pri must drop pri: \(out)")
    }

    /// Runs `vsmmu --print-capabilities ARGS`: its output and exit status.
    static func capabilities(_ args: String) throws -> (String, Int32) {
        let pipe = popen("'\(try Self.binary())' --print-capabilities \(args) 2>/dev/null", "r")
        try #require(pipe != nil)
        var out = ""
        var buf = [CChar](repeating: 0, count: 4096)
        while fgets(&buf, Int32(buf.count), pipe) != nil {
            out += String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return (out, pclose(pipe))
    }

    /// Every feature option of docs/backend.md keeps its spelling (the
    /// options are now derived from the feature table).
    @Test func featureOptionSpellings() throws {
        let old = "--no-stage1 --stage2 --no-nested --ssid-bits 0 --sid-bits 8 --no-two-level-strtab"
            + " --no-two-level-cdtab --no-ats --no-pri --no-msi --no-sev --stall-model terminate --no-hyp --no-ril"
            + " --httu none --oas 40 --no-granule4k --granule16k --no-granule64k --no-asid16 --no-vmid16"
            + " --no-coherent --btm --cmdq-log2 8 --evtq-log2 8 --priq-log2 8"
        let (out, status) = try Self.capabilities(old)
        #expect(status == 0)
        #expect(out.contains("\"features\": [\"stage2\", \"granule-16k\", \"btm\"]"), "\(out)")
        // The generic spellings.
        let (out2, status2) = try Self.capabilities("--feature ats=off --httu=af --feature=btm=on")
        #expect(status2 == 0)
        #expect(!out2.contains("\"ats\"") && !out2.contains("\"pri\"") && out2.contains("\"btm\""))
        #expect(out2.contains("\"httu-af\"") && !out2.contains("\"httu-dirty\""))
        for bad in ["--bogus", "--no-oas", "--feature ats", "--httu dirty", "--ats=maybe", "--oas"] {
            #expect(try Self.capabilities(bad).1 != 0, "\(bad) must be refused")
        }
    }

    @Test func refusesBadOptions() throws {
        let bin = try Self.binary()
        for args in [["--oas", "47"], ["--ssid-bits", "21"], ["--fd", "3", "--socket-path", "/tmp/x"], [],
                     ["--fd", "3", "--check=tlbi,bogus"], ["--fd", "3", "--check-report", "/nonexistent-dir/r.jsonl"],
                     ["--fd", "3", "--sync-irq-coalesce-us", "100001"], ["--fd", "3", "--sync-irq-coalesce-us", "-1"]] {
            let pid = Self.spawn([bin] + args)
            try #require(pid > 0)
            let code = Self.wait(pid, seconds: 5)
            #expect(code != nil && code != 0, "vsmmu \(args) should fail with a usage error")
        }
    }
}
