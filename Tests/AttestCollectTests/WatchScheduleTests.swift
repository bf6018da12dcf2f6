import AsyncHTTPClient
import AttestCore
import AttestHistory
import AttestTestSupport
import Foundation
import Testing

@testable import AttestCLI

@Suite("attest watch: schedules and payloads")
struct WatchScheduleTests {
    func date(_ s: String) -> Date { ISO8601DateFormatter().date(from: s)! }

    @Test func cronFindsTheNextMatchingMinuteInUTC() throws {
        let hourly = try #require(CronSchedule(argument: "0 * * * *"))
        #expect(hourly.next(after: date("2026-12-01T14:21:36Z")) == date("2026-12-01T15:00:00Z"))
        let quarter = try #require(CronSchedule(argument: "*/15 9-17 * * 1-5"))
        #expect(quarter.next(after: date("2026-12-01T14:21:36Z")) == date("2026-12-01T14:30:00Z"))
        // Friday 17:50 → Monday 09:00 (2026-12-04 is a Friday).
        #expect(quarter.next(after: date("2026-12-04T17:50:00Z")) == date("2026-12-07T09:00:00Z"))
        let sunday = try #require(CronSchedule(argument: "30 6 * * 7"))
        #expect(sunday.next(after: date("2026-12-01T00:00:00Z")) == date("2026-12-06T06:30:00Z"))
        for bad in ["61 * * * *", "* * *", "*/0 * * * *", "a b c d e", "5-1 * * * *"] {
            #expect(CronSchedule(argument: bad) == nil, "\(bad)")
        }
    }

    @Test func theSlackPayloadIsOneTextWithTheRegressions() throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { try? client.syncShutdown() }
        let hook = Webhook(url: "https://hooks.example.com/x", format: .slack, client: client)
        let path = try TestPaths.temporaryDirectory("slack").appendingPathComponent("h.sqlite").path
        let store = try HistoryStore(path: path)
        func snap(_ id: String, _ start: String, _ status: String) -> HistorySnapshot {
            HistorySnapshot(
                id: id, startedAt: start, finishedAt: start, provider: "aws", accounts: ["1"], complete: true, errors: 0, resources: [],
                results: [
                    .init(
                        control: "aws-ec2-sg-no-ssh-from-internet", subject: "sg-1", account: "1", region: "us-east-1", status: status,
                        severity: "high")
                ])
        }
        try store.record(snap("a", "2026-01-01T00:00:00.000Z", "pass"))
        try store.record(snap("b", "2026-01-02T00:00:00.000Z", "fail"))
        let (a, b) = try #require(try store.lastTwo())
        let payload = hook.payload(diff: try store.diff(a, b), expired: [])
        #expect(payload.objectValue?.keys.sorted() == ["text"])
        let text = payload["text"].stringValue ?? ""
        #expect(text.hasPrefix("*attest*: 0 new failure(s), 1 regression(s), 0 expired exception(s) in aws 1 (scan b)"), "\(text)")
        #expect(text.contains("• high `aws-ec2-sg-no-ssh-from-internet` sg-1"))
    }
}
