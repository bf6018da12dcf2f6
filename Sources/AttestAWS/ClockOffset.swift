public import Foundation
import Synchronization

/// The correction between this machine's clock and AWS's, learnt from a `Date` header after a
/// request was rejected for its timestamp. Shared by every request of a client.
public final class ClockOffset: Sendable {
    private let offset = Mutex<TimeInterval>(0)
    private let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    /// The corrected current time, used as the signing time.
    public var current: Date { now().addingTimeInterval(offset.withLock { $0 }) }

    public var seconds: TimeInterval { offset.withLock { $0 } }

    /// Adopts the server's clock when it differs from ours by more than a minute.
    /// Returns true when the offset changed (so a re-signed retry may succeed).
    public func adjust(serverDate: Date) -> Bool {
        let local = now()
        return offset.withLock { current in
            let wanted = serverDate.timeIntervalSince(local)
            guard abs(wanted - current) > 60 else { return false }
            current = wanted
            return true
        }
    }
}
