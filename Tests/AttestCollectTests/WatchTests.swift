import AttestCore
import AttestReplay
import AttestTestSupport
import Foundation
import Synchronization
import Testing

/// `attest watch` as a process: started on PATH, scraped over HTTP, stopped with SIGTERM.
final class WatchProcess: Sendable {
    let process: Process
    let stderrFile: URL
    let port: Int

    init(_ arguments: [String], environment: [String: String], directory: URL) throws {
        port = try freePort()
        stderrFile = directory.appendingPathComponent("watch.stderr")
        FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["attest", "watch", "aws", "--listen", "127.0.0.1:\(port)"] + arguments
        var env = environment
        env["PATH"] = TestPaths.pathDirectory.path + ":/usr/bin:/bin"
        env["HOME"] = directory.path
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env["AWS_CONFIG_FILE"] = "/dev/null"
        env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        p.environment = env
        p.currentDirectoryURL = directory
        p.standardOutput = FileHandle.nullDevice
        p.standardError = try FileHandle(forWritingTo: stderrFile)
        try p.run()
        process = p
    }

    /// A test that fails midway still stops what it started.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    func get(_ path: String) async -> (Int, String)? {
        let out = try? await runProcessCapturing(
            "/usr/bin/env", ["curl", "-s", "-m", "5", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"], slotted: false)
        guard let out, out.status == 0 else { return nil }
        let lines = out.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// Polls until `condition` holds on /metrics, or fails after `seconds`.
    func waitForMetrics(_ seconds: Double, _ condition: (String) -> Bool) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let (status, body) = await get("/metrics"), status == 200, condition(body) { return body }
            guard process.isRunning else { throw TestPeerError("watch exited \(process.terminationStatus): \(stderr)") }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw TestPeerError("metrics never matched: \(stderr.suffix(2000))")
    }

    /// SIGTERM, then the exit status (nil when it did not exit within `seconds`).
    func terminate(within seconds: Double) async -> Int32? {
        process.terminate()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }
}

/// The value of a sample in Prometheus text, read by prometheus-client's own parser.
func parseMetrics(_ text: String) async throws -> JSONValue {
    let file = try TestPaths.temporaryDirectory("metrics").appendingPathComponent("m.txt")
    try Data(text.utf8).write(to: file)
    let out = try await runProcess(
        "/usr/bin/env",
        [
            "python3", "-c",
            """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    out.setdefault(s.name, []).append({"labels": s.labels, "value": s.value, "type": family.type})
            print(json.dumps(out))
            """, file.path,
        ])
    return try JSONValue.parse(out)
}

@Suite("attest watch", .serialized)
struct WatchTests {
    @Test func twoCyclesServeMetricsAndSendDriftToTheWebhook() async throws {
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        try await moto.python(
            """
            ec2 = client("ec2")
            vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
            ec2.create_security_group(GroupName="web", Description="web servers", VpcId=vpc)
            """)
        let received = Mutex<[String]>([])
        let hook = try await LoopbackServer.start { request in
            received.withLock { $0.append(String(decoding: request.body, as: UTF8.self)) }
            return LoopbackResponse(status: 204)
        }
        defer { Task { await hook.stop() } }
        let dir = try TestPaths.temporaryDirectory("watch")
        let watch = try WatchProcess(
            [
                "--every", "2s", "--jitter", "0", "--regions", "us-east-1", "--services", "ec2", "--fail-on", "never",
                "--history", dir.appendingPathComponent("h.sqlite").path, "--no-evidence", "--quiet", "--format", "json", "--output",
                dir.appendingPathComponent("last.json").path, "--webhook", hook.baseURL + "/drift",
            ],
            environment: ["AWS_ENDPOINT_URL": moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIAWATCH00000000001", "AWS_SECRET_ACCESS_KEY": "w"],
            directory: dir)
        // Served from start-up on; ready once a scan has finished.
        _ = try await watch.waitForMetrics(20) { _ in true }
        #expect(await watch.get("/healthz")?.0 == 200)
        _ = try await watch.waitForMetrics(60) { $0.contains("attest_scans_total{outcome=\"complete\"} 1") }
        #expect(await watch.get("/readyz")?.0 == 200)
        try await moto.python(
            """
            ec2 = client("ec2")
            sg = ec2.describe_security_groups(GroupNames=["web"])["SecurityGroups"][0]["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
            """)
        let text = try await watch.waitForMetrics(60) { _ in !received.withLock { $0.isEmpty } }
        let metrics = try await parseMetrics(text)
        #expect((metrics["attest_scans_total"].asList.first { $0["labels"]["outcome"] == "complete" }?["value"].doubleValue ?? 0) >= 2)
        let ssh = metrics["attest_results"].asList.first {
            $0["labels"]["control"] == "aws-ec2-sg-no-ssh-from-internet" && $0["labels"]["status"] == "fail"
        }
        #expect(ssh?["value"].doubleValue ?? 0 >= 1, "\(metrics["attest_results"].asList.prefix(3))")
        #expect(metrics["attest_last_complete_scan_age_seconds"].asList.first?["value"].doubleValue ?? -1 >= 0)
        #expect(metrics["attest_scan_duration_seconds"].asList.count == 1)
        #expect(metrics["attest_api_calls"].asList.first?["value"].doubleValue ?? 0 > 0)
        #expect(metrics["attest_api_calls_by_service"].asList.first { $0["labels"]["service"] == "ec2" }?["value"].doubleValue ?? 0 > 0)
        #expect(metrics["attest_api_throttles"].asList.contains { $0["labels"]["service"] == "ec2" })
        #expect(
            Set(metrics["attest_exceptions"].asList.compactMap { $0["labels"]["state"].stringValue }) == [
                "active", "expiring_soon", "expired", "stale",
            ])
        #expect(metrics["attest_framework_requirements"].asList.contains { $0["labels"]["framework"] == "soc2" })
        // The drift names the regression.
        let drift = try JSONValue.parse(received.withLock { $0[0] })
        #expect(drift["kind"] == "attest.drift")
        #expect(
            drift["regressed"].asList.contains { $0["control"] == "aws-ec2-sg-no-ssh-from-internet" && $0["before"] == "pass" }, "\(drift)")
        let status = await watch.terminate(within: 20)
        #expect(status == 0, "\(watch.stderr)")
        #expect(watch.stderr.contains("watch stopped"))
    }

    @Test func sigtermMidScanAbandonsTheScanAndRecordsNothing() async throws {
        // The seeded account in every region takes seconds to read: long enough to stop it mid-way.
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        _ = try await moto.seed()
        let dir = try TestPaths.temporaryDirectory("watch-sigterm")
        let key = dir.appendingPathComponent("k.pem")
        _ = try await Attest.run(["evidence", "keygen", "--out", key.path])
        let evidence = dir.appendingPathComponent("evidence")
        let history = dir.appendingPathComponent("h.sqlite")
        let watch = try WatchProcess(
            [
                "--every", "1h", "--fail-on", "never", "--history", history.path, "--evidence", evidence.path, "--signing-key", key.path,
                "--quiet",
            ],
            environment: ["AWS_ENDPOINT_URL": moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIAWATCH00000000002", "AWS_SECRET_ACCESS_KEY": "w"],
            directory: dir)
        _ = try await watch.waitForMetrics(20) { _ in true }
        try await Task.sleep(for: .milliseconds(800))
        #expect(await watch.get("/readyz")?.0 == 503, "the first scan is still running")
        let status = await watch.terminate(within: 20)
        #expect(status == 0, "\(watch.stderr)")
        #expect(watch.stderr.contains("the scan in progress was abandoned"), "\(watch.stderr)")
        // Nothing of the stopped scan: no manifest, no in-progress marker, no history.
        let scans = (try? FileManager.default.contentsOfDirectory(atPath: evidence.appendingPathComponent("_scans").path)) ?? []
        #expect(scans.isEmpty, "\(scans)")
        #expect(!FileManager.default.fileExists(atPath: history.path))
    }

    @Test func mistakesExitTwoAtOnce() async throws {
        let dir = try TestPaths.temporaryDirectory("watch-mistakes")
        for (args, expected) in [
            (["--every", "1h", "--cron", "0 * * * *"], "give --every DURATION or --cron EXPR"),
            ([String](), "give --every DURATION or --cron EXPR"),
            (["--cron", "61 * * * *"], "cron"),
            (["--every", "1h", "--webhook", "http://example.com/hook"], "http:// only for a loopback host"),
            (["--every", "1h", "--no-history", "--webhook", "https://example.com/hook"], "--webhook needs the scan history"),
            (["--every", "1h", "--services", "nosuch"], "unknown service nosuch"),
        ] {
            let r = try await Attest.run(
                ["watch", "aws", "--listen", "127.0.0.1:0"] + args, environment: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"],
                in: dir)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
        }
    }
}

extension JSONValue {
    /// A number as a Double (Prometheus values are floats).
    var doubleValue: Double? {
        switch self {
        case .double(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }
}
