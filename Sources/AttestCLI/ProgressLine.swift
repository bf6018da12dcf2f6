import AttestCollect
import AttestHTTP
import Foundation
import Synchronization

/// The live line on standard error: units (service × region) done, resources, calls, retries.
/// Redrawn in place on a terminal; on a pipe, one line when the scan ends.
final class ProgressLine: CollectionProgress, @unchecked Sendable {
    private let counters: CallCounters
    private let enabled: Bool
    private let isTerminal: Bool
    private let planned = Atomic<Int>(0)
    private let done = Atomic<Int>(0)
    private let resources = Atomic<Int>(0)
    private let started = Date()
    private var ticker: Task<Void, Never>?

    init(counters: CallCounters, enabled: Bool) {
        self.counters = counters
        self.enabled = enabled
        self.isTerminal = isatty(STDERR_FILENO) == 1
    }

    func unitsPlanned(_ count: Int) { planned.store(count, ordering: .relaxed) }

    func unitFinished(service: String, region: String, resources: Int) {
        done.wrappingAdd(1, ordering: .relaxed)
        self.resources.wrappingAdd(resources, ordering: .relaxed)
    }

    var line: String {
        let elapsed = String(format: "%.1fs", Date().timeIntervalSince(started))
        return "scanning: \(done.load(ordering: .relaxed))/\(planned.load(ordering: .relaxed)) service-regions · \(resources.load(ordering: .relaxed)) resources · \(counters.calls) calls · \(counters.retries) retries · \(elapsed)"
    }

    func start() {
        guard enabled, isTerminal else { return }
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                if let self { FileHandle.standardError.write(Data("\r\u{1B}[2K\(self.line)".utf8)) }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    func finish() {
        ticker?.cancel()
        guard enabled else { return }
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[2K" : "") + line + "\n").utf8))
    }
}
