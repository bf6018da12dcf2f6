/// Thrown when a policy document or a list of network rules does not have the shape the analysis
/// needs. The description says what is wrong and where, for example
/// `statement 2 ("AllowRead"): Effect must be "Allow" or "Deny", got "Permit"`.
public struct PolicyDocumentError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, in words meant for the author of the control or the policy.
    public var description: String

    /// Creates an error with the given description.
    public init(_ description: String) {
        self.description = description
    }
}
