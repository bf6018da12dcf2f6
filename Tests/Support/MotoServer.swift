public import Foundation
import Synchronization

/// A real `moto_server` (the AWS emulator) on a free loopback port, started for a test and
/// stopped with it. `.ci/run` installs it; a missing moto fails the tests that need it loudly.
public final class MotoServer: Sendable {
    public let port: Int
    public let process: Process
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    /// - Parameter authAfter: with a value, moto checks every request's signature against the IAM
    ///   keys it issued once that many requests have been served (`INITIAL_NO_AUTH_ACTION_COUNT`).
    public static func start(authAfter: Int? = nil) async throws -> MotoServer {
        var lastError: (any Error)?
        for _ in 0..<3 {
            let port = try freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            // moto_server dies with the test process even when that one is killed (see `launcher`);
            // a normal exit also stops every server (see `StartedServers`).
            // moto_server with answers for the few calls moto does not emulate (Tests/Support/moto/server.py).
            let launcherScript = TestPaths.repository.appendingPathComponent("Tests/Support/moto/server.py").path
            process.arguments = ["python3", "-c", Self.launcher, "python3", launcherScript, "-H", "127.0.0.1", "-p", String(port)]
            var env = ProcessInfo.processInfo.environment
            env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
            env["MOTO_ALLOW_NONEXISTENT_REGION"] = "false"
            if let authAfter { env["INITIAL_NO_AUTH_ACTION_COUNT"] = String(authAfter) }
            process.environment = env
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            StartedServers.add(process)
            let server = MotoServer(port: port, process: process)
            do {
                try await server.waitUntilReady()
                return server
            } catch {
                lastError = error
                server.stop()
            }
        }
        throw lastError ?? TestPeerError("moto_server did not start")
    }

    /// Runs moto_server as a child and stops it when told to (SIGTERM) or when the test process
    /// that started it is gone, however that process ended.
    static let launcher = """
        import os, signal, subprocess, sys, time
        # The test process may block SIGTERM; its children inherit the mask. A group of our own
        # lets the test process kill moto_server with us if we cannot answer.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        os.setpgrp()
        parent = os.getppid()
        child = subprocess.Popen(sys.argv[1:])
        def stop(*_):
            child.kill()
            child.wait()
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        while child.poll() is None:
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                stop()
            time.sleep(0.5)
        sys.exit(child.returncode)
        """

    func waitUntilReady() async throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            guard process.isRunning else {
                throw TestPeerError(
                    "moto_server exited (status \(process.terminationStatus)); is moto[server] installed? run .ci/run or pip install 'moto[server]'"
                )
            }
            if let url = URL(string: "\(endpoint)/moto-api/reset-auth"), (try? await probe(url)) == true { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestPeerError("moto_server did not answer on port \(port) within 60 s")
    }

    private func probe(_ url: URL) async throws -> Bool {
        // A bare TCP connect is enough to know the server is listening.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0
    }

    /// Runs `Tests/Support/moto/seed.py` against this server and returns what it printed.
    public func seed(auth: Bool = false, areas: Bool = false) async throws -> [String: Any] {
        let output = try await runProcess(
            "/usr/bin/env",
            [
                "python3", TestPaths.repository.appendingPathComponent("Tests/Support/moto/seed.py").path,
                endpoint,
            ] + (auth ? ["--auth"] : []) + (areas ? ["--areas"] : []))
        guard let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            throw TestPeerError("seed.py printed no JSON")
        }
        return json
    }

    /// Seeds the organization of `Tests/Support/moto/organization.py` (the server must have been
    /// started with `authAfter: budget`) and returns what it printed.
    public func seedOrganization(budget: Int) async throws -> [String: Any] {
        let output = try await runProcess(
            "/usr/bin/env",
            ["python3", TestPaths.repository.appendingPathComponent("Tests/Support/moto/organization.py").path, endpoint, String(budget)])
        guard let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            throw TestPeerError("organization.py printed no JSON")
        }
        return json
    }

    /// Runs a Python snippet with `boto3` set up for this server (`client(service, region)`).
    @discardableResult
    public func python(_ code: String) async throws -> String {
        let prelude = """
            import boto3, json, sys
            def client(service, region="us-east-1", key="testing", secret="testing"):
                return boto3.client(service, region_name=region, endpoint_url="\(endpoint)", aws_access_key_id=key, aws_secret_access_key=secret)

            """
        return try await runProcess("/usr/bin/env", ["python3", "-c", prelude + code])
    }

    /// Stops the server; moto ignores SIGTERM while a client holds a keep-alive connection, so
    /// it is killed if it has not exited within two seconds.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        // The launcher leads a process group with moto_server in it: kill the group.
        if process.isRunning { kill(-process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// Every emulator a test process started, stopped when the process exits: the shared ones live
/// for the whole run (Swift Testing has no global teardown), and must not outlive it.
enum StartedServers {
    private static let processes = Mutex<[Process]>([])
    private static let registered = Mutex(false)

    static func add(_ process: Process) {
        processes.withLock { $0.append(process) }
        let first = registered.withLock { done in
            defer { done = true }
            return !done
        }
        if first { atexit { StartedServers.stopAll() } }
    }

    static func stopAll() {
        // Each launcher leads a process group holding its moto_server.
        for p in processes.withLock({ $0 }) where p.isRunning { kill(-p.processIdentifier, SIGKILL) }
    }
}

public struct TestPeerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a program to completion and returns its standard output; fails on a non-zero status.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> String {
    let result = try await runProcessCapturing(executable, arguments, environment: environment)
    guard result.status == 0 else {
        throw TestPeerError("\(arguments.prefix(2).joined(separator: " ")) exited \(result.status): \(result.stderr.suffix(2000))")
    }
    return result.stdout
}

public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a program to completion and returns its status and output. The waiting happens on a
/// thread of its own: blocking a thread of the concurrency pool (two on a two-core machine)
/// would starve every other test, and the loopback peers they talk to. At most two run at once,
/// so that they do not oversubscribe two cores either.
public func runProcessCapturing(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    currentDirectory: URL? = nil, slotted: Bool = true
) async throws -> ProcessResult {
    let run = {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result {
                        try runProcessBlocking(executable, arguments, environment: environment, currentDirectory: currentDirectory)
                    })
            }.start()
        }
    }
    // A probe that takes no CPU to speak of (curl against a peer) must not wait behind long runs.
    return slotted ? try await ProcessSlots.shared.withSlot(run) : try await run()
}

/// Runs `attest` as a user who installed it does: found by name on `PATH` (``TestPaths/pathDirectory``
/// first), from a fresh empty directory unless `directory` is given, so that no test depends on
/// the checkout being the working directory. `environment` is the whole environment but `PATH`.
public func runAttestOnPath(
    _ arguments: [String], environment: [String: String], in directory: URL? = nil
) async throws -> ProcessResult {
    var env = environment
    env["PATH"] =
        TestPaths.pathDirectory.path + ":" + (environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    let cwd = try directory ?? TestPaths.temporaryDirectory("attest-cwd")
    // A home of its own unless the test names a real one: a first run's signing key lands there,
    // not on the machine running the tests.
    if env["HOME"] == nil || env["HOME"] == "/nonexistent" { env["HOME"] = cwd.path }
    return try await runProcessCapturing("/usr/bin/env", ["attest"] + arguments, environment: env, currentDirectory: cwd)
}

/// Limits the child processes the tests run at once.
actor ProcessSlots {
    static let shared = ProcessSlots(limit: 2)
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { free = limit }

    func withSlot<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        if free > 0 { free -= 1 } else { await withCheckedContinuation { waiting.append($0) } }
        defer { if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() } }
        return try await body()
    }
}

func runProcessBlocking(
    _ executable: String, _ arguments: [String], environment: [String: String]?,
    currentDirectory: URL?
) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let errThread = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
    errThread.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errThread.isFinished { usleep(1000) }
    return ProcessResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// A TCP port nobody listens on right now.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { throw TestPeerError("bind failed") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

public enum TestPaths {
    /// The repository root (this file is Tests/Support/MotoServer.swift).
    public static let repository: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    public static let shared = repository.deletingLastPathComponent().appendingPathComponent("shared")

    /// The `attest` executable built beside the test bundle.
    public static var attestBinary: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("attest")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return repository.appendingPathComponent(".build/debug/attest")
    }

    /// A folder holding only an `attest` link to ``attestBinary``: put first on `PATH`, a test
    /// runs attest as a user who installed it does, by name, from any directory.
    public static let pathDirectory: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attest-path-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let link = dir.appendingPathComponent("attest")
        try? FileManager.default.removeItem(at: link)
        try? FileManager.default.createSymbolicLink(at: link, withDestinationURL: attestBinary)
        return dir
    }()

    public static func temporaryDirectory(_ name: String = "attest-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
