import Testing

@testable import AttestPolicy

@Suite("Wildcards and address ranges")
struct PatternTests {
    @Test(arguments: [
        ("*", "anything", true), ("s3:Get*", "s3:getobject", false), ("s3:get*", "s3:getobject", true),
        ("a?c", "abc", true), ("a?c", "ac", false), ("*b*", "abc", true), ("a*", "a*", true),
        ("a?", "a*", false), ("a*", "a?", true), ("a*b", "a*c", false), ("a*", "b", false), ("", "", true),
    ])
    func containment(_ pattern: String, _ query: String, _ expected: Bool) {
        #expect(WildcardPattern.contains(WildcardPattern(pattern), WildcardPattern(query)) == expected, "\(pattern) ⊇ \(query)")
    }

    @Test(arguments: [
        ("s3:*", "*:getobject", true), ("iam:*", "s3:*", false), ("a*", "*b", true), ("a?c", "a*", true),
        ("abc", "abd", false), ("a*c", "a*d", false), ("*", "", true), ("?", "", false),
    ])
    func overlap(_ a: String, _ b: String, _ expected: Bool) {
        #expect(WildcardPattern.overlaps(WildcardPattern(a), WildcardPattern(b)) == expected, "\(a) ∩ \(b)")
        #expect(WildcardPattern.overlaps(WildcardPattern(b), WildcardPattern(a)) == expected, "\(b) ∩ \(a)")
    }

    @Test func policyVariables() {
        let text = "arn:aws:s3:::home/${aws:username}/*"
        let q = WildcardPattern("arn:aws:s3:::home/bob/x")
        #expect(WildcardPattern.contains(WildcardPattern(text, variables: .wildcard), q))
        #expect(!WildcardPattern.contains(WildcardPattern(text, variables: .never), q))
        #expect(!WildcardPattern.contains(WildcardPattern(text), q))
        #expect(WildcardPattern("a${$}b", variables: .never).tokens == WildcardPattern("a$b").tokens)
    }

    @Test(arguments: [
        ("10.1.2.3", 32, true), ("10.0.0.0/8", 8, true), ("0.0.0.0/0", 0, true), ("::/0", 0, false), ("::0/0", 0, false),
        ("2001:db8::/32", 32, false), ("fd12:3456::/48", 48, false), ("::ffff:192.0.2.1", 128, false), ("1::", 128, false),
    ])
    func parsesRanges(_ text: String, _ length: Int, _ v4: Bool) throws {
        let range = try #require(IPRange(text))
        #expect(range.prefixLength == length)
        #expect(range.isIPv4 == v4)
    }

    @Test(arguments: [
        "", "10.0.0", "10.0.0.256", "10.0.0.0/33", "10.0.0.0/", "1::2::3", "12345::", "::/129", "*", "10.0.0.0/8/8", "1:2:3:4:5:6:7:8:9",
    ])
    func refusesNonRanges(_ text: String) {
        #expect(IPRange(text) == nil, "\(text)")
    }

    @Test func privateRanges() throws {
        for text in ["10.0.0.0/8", "172.16.5.0/24", "192.168.0.0/16", "127.0.0.1", "169.254.169.254", "fd00::/8", "fe80::1", "::1"] {
            #expect(try #require(IPRange(text)).isNonInternet, "\(text)")
        }
        for text in ["172.32.0.0/16", "8.8.8.8", "10.0.0.0/7", "2001:db8::/32", "0.0.0.0/0"] {
            #expect(try !#require(IPRange(text)).isNonInternet, "\(text)")
        }
    }
}
