/// A secret string whose description never shows its value, so that it cannot leak through
/// string interpolation, `print`, `dump` or a log statement.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself; read it only where it is used (signing, an Authorization header).
    public let value: String

    public init(_ value: String) {
        self.value = value
        SecretScrubber.shared.register(value)
    }

    public var description: String { "[REDACTED]" }
    public var debugDescription: String { "[REDACTED]" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
