import AttestCollect
import AttestHTTP
import AttestScan
import Foundation
import Synchronization

/// The live line on standard error: units (service × scope) done, resources, calls, retries.
/// Redrawn in place on a terminal; on a pipe, one line when the scan ends. As a sink it starts
/// with the scan and ends before the report is written.
final class ProgressLine: CollectionProgress, ScanSink, @unchecked Sendable {
    private let counters: CallCounters
    private let enabled: Bool
    private let isTerminal: Bool
    private let planned = Atomic<Int>(0)
    private let done = Atomic<Int>(0)
    private let resources = Atomic<Int>(0)
    private let accountsTotal = Atomic<Int>(0)
    private let accountsDone = Atomic<Int>(0)
    private let started = Date()
    private var ticker: Task<Void, Never>?

    init(counters: CallCounters, enabled: Bool) {
        self.counters = counters
        self.enabled = enabled
        self.isTerminal = isatty(STDERR_FILENO) == 1
    }

    /// Each target's collection plans its own units (a scan of several targets adds them up).
    func unitsPlanned(_ count: Int) { planned.wrappingAdd(count, ordering: .relaxed) }

    func unitFinished(service: String, scope: CollectionScope, resources: Int) {
        done.wrappingAdd(1, ordering: .relaxed)
        self.resources.wrappingAdd(resources, ordering: .relaxed)
    }

    func accountsPlanned(_ total: Int) { accountsTotal.wrappingAdd(total, ordering: .relaxed) }
    func accountEntered() { accountsDone.wrappingAdd(1, ordering: .relaxed) }

    var line: String {
        let elapsed = String(format: "%.1fs", Date().timeIntervalSince(started))
        let total = accountsTotal.load(ordering: .relaxed)
        let accounts = total > 0 ? "\(accountsDone.load(ordering: .relaxed))/\(total) accounts · " : ""
        return
            "scanning: \(accounts)\(done.load(ordering: .relaxed))/\(planned.load(ordering: .relaxed)) service-scopes · \(resources.load(ordering: .relaxed)) resources · \(counters.calls) calls · \(counters.retries) retries · \(elapsed)"
    }

    func scanWillStart(id: String, startedAt: Date) async throws { start() }
    func scanDidFinish(_ outcome: ScanOutcome) async throws { finish() }
    func scanDidFail(_ error: any Error) async { abandon() }

    func start() {
        guard enabled, isTerminal else { return }
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                if let self { FileHandle.standardError.write(Data("\r\u{1B}[2K\(self.line)".utf8)) }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    private let finished = Atomic<Bool>(false)

    /// Stops without a final line: a scan that could not start has no progress to report
    /// (its one-line reason follows).
    func abandon() {
        ticker?.cancel()
        guard enabled, !finished.exchange(true, ordering: .relaxed) else { return }
        if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }

    func finish() {
        ticker?.cancel()
        guard enabled, !finished.exchange(true, ordering: .relaxed) else { return }
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[2K" : "") + line + "\n").utf8))
    }
}
