import ArgumentParser
import AttestCore
import Foundation
import Logging
import Synchronization

/// `--log-level`: one of swift-log's levels; anything else is a usage error before the command runs.
enum LogLevel: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level { Logger.Level(rawValue: rawValue)! }
}

/// Logging to standard error through a handler that scrubs every message and metadata value,
/// so no level, however verbose, can print a secret.
enum LogSetup {
    private static let done = Mutex(false)

    static func bootstrap(level: LogLevel) {
        let parsed = level.level
        let first = done.withLock { d in
            defer { d = true }
            return !d
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var handler = ScrubbingLogHandler(base: StreamLogHandler.standardError(label: label))
            handler.logLevel = parsed
            return handler
        }
    }
}

struct ScrubbingLogHandler: LogHandler {
    var base: any LogHandler

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        event.message = Logger.Message(stringLiteral: SecretScrubber.shared.scrub(event.message.description))
        if let m = event.metadata {
            event.metadata = m.mapValues { .string(SecretScrubber.shared.scrub($0.description)) }
        }
        base.log(event: event)
    }
}
