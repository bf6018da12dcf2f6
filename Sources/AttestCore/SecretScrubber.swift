import Foundation
import Synchronization

/// Keeps secrets out of everything attest prints or writes.
///
/// Credential providers register each secret value they obtain (secret keys, session tokens,
/// bearer tokens); ``scrub(_:)`` replaces any registered value, and anything that looks like a
/// request signature or a signed credential, before text reaches a log, an error, a report or a
/// fixture.
public final class SecretScrubber: Sendable {
    public static let shared = SecretScrubber()

    private let secrets = Mutex<Set<String>>([])
    /// Values that are secret for a short while (request signatures): the most recent ones only,
    /// so a scan of many calls does not grow the set the scrubber checks.
    private let recent = Mutex<(values: [String], next: Int)>(([], 0))
    public static let recentCapacity = 512

    public init() {}

    /// Registers a short-lived secret, such as the signature of a request just sent: a server
    /// that echoes it back without a `Signature=` label must not get it into an error or a
    /// recording. The last ``recentCapacity`` such values are kept.
    public func registerRecent(_ secret: String) {
        guard secret.count >= 8 else { return }
        recent.withLock { state in
            if state.values.count < Self.recentCapacity {
                state.values.append(secret)
            } else {
                state.values[state.next] = secret
                state.next = (state.next + 1) % Self.recentCapacity
            }
        }
    }

    /// Registers a secret; values shorter than 8 characters are ignored to avoid scrubbing noise.
    public func register(_ secret: String?) {
        guard let secret, secret.count >= 8 else { return }
        secrets.withLock { _ = $0.insert(secret) }
    }

    public func scrub(_ text: String) -> String {
        var out = text
        let known = secrets.withLock { $0 }.union(recent.withLock { $0.values })
        for secret in known where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: "[REDACTED]")
            // A secret may appear percent-encoded in a URL or form body.
            if let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics), encoded != secret {
                out = out.replacingOccurrences(of: encoded, with: "[REDACTED]")
            }
        }
        for secret in known {
            if let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics), encoded != secret,
                out.contains(encoded)
            {
                out = out.replacingOccurrences(of: encoded, with: "[REDACTED]")
            }
        }
        return Self.scrubPatterns(out)
    }

    /// Pattern-based scrubbing that needs no registration: signatures, security tokens, and the
    /// `Authorization` header value.
    static func scrubPatterns(_ text: String) -> String {
        var out = text
        for (pattern, template) in Self.patterns {
            out = pattern.stringByReplacingMatches(
                in: out, range: NSRange(out.startIndex..., in: out), withTemplate: template)
        }
        return out
    }

    private static let patterns: [(NSRegularExpression, String)] = [
        (try! NSRegularExpression(pattern: "(Signature=)[0-9a-fA-F]{16,}"), "$1[REDACTED]"),
        (try! NSRegularExpression(pattern: "(X-Amz-Signature=)[^&\\s\"]+", options: .caseInsensitive), "$1[REDACTED]"),
        (try! NSRegularExpression(pattern: "(X-Amz-Security-Token[=:]\\s*)[^&\\s\"<]+", options: .caseInsensitive), "$1[REDACTED]"),
        (try! NSRegularExpression(pattern: "(Authorization:\\s*)[^\\r\\n\"]+", options: .caseInsensitive), "$1[REDACTED]"),
        (try! NSRegularExpression(pattern: "(Bearer\\s+)[A-Za-z0-9\\-_.~+/=]{16,}"), "$1[REDACTED]"),
        (try! NSRegularExpression(pattern: "(<(?:SecretAccessKey|SessionToken|Token)>)[^<]+(</)"), "$1[REDACTED]$2"),
        (
            try! NSRegularExpression(
                pattern: "(\"(?:SecretAccessKey|SessionToken|Token|secretAccessKey|sessionToken)\"\\s*:\\s*\")[^\"]+(\")"), "$1[REDACTED]$2"
        ),
    ]
}
