import AttestCore
import Testing

@testable import AttestPolicy

@Suite("Policy document forms and malformed documents")
struct DocumentFormTests {
    @Test func acceptsAnObjectAStringAndAURLEncodedString() throws {
        let text = Examples.administratorAccess
        #expect(try IAMPolicyAnalysis.isAdmin(policy(text)))
        #expect(try IAMPolicyAnalysis.isAdmin(.string(text)))
        #expect(try IAMPolicyAnalysis.isAdmin(.string(urlEncoded(text))))
    }

    @Test func decodesTheURLEncodingIAMReturns() throws {
        // As returned by GetPolicyVersion / GetRolePolicy.
        let fromIAM =
            "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C"
            + "%22Action%22%3A%5B%22s3%3AGetObject%22%5D%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Amy-bucket%2F%2A%22%7D%5D%7D"
        let doc = JSONValue.string(fromIAM)
        #expect(try IAMPolicyAnalysis.allows(doc, action: "s3:GetObject", resource: "arn:aws:s3:::my-bucket/key"))
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "s3:PutObject", resource: "arn:aws:s3:::my-bucket/key"))
        #expect(try !IAMPolicyAnalysis.isAdmin(doc))
    }

    @Test func decodesFormEncodedSpacesAsPlus() throws {
        let encoded =
            "%7B+%22Statement%22%3A+%7B+%22Effect%22%3A+%22Allow%22%2C+%22Action%22%3A+%22*%22%2C+%22Resource%22%3A+%22*%22+%7D+%7D"
        #expect(try IAMPolicyAnalysis.isAdmin(.string(encoded)))
    }

    @Test func keepsALiteralPlusWhenTheEncodingIsStrict() throws {
        // A '+' that is part of a value survives when the text parses without turning it into a space.
        let text = #"{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/a+b"}}"#
        #expect(try IAMPolicyAnalysis.allows(.string(urlEncoded(text)), action: "s3:GetObject", resource: "arn:aws:s3:::b/a+b"))
    }

    @Test func acceptsAJSONStringHoldingPolicyText() throws {
        // A document serialised twice: the text is itself a JSON string literal.
        let doubled = JSONValue.string(Examples.administratorAccess).serialized()
        #expect(try IAMPolicyAnalysis.isAdmin(.string(doubled)))
    }

    @Test func nullIsNoPolicy() throws {
        #expect(try !IAMPolicyAnalysis.isAdmin(nil))
        #expect(try !IAMPolicyAnalysis.allows(nil, action: "s3:GetObject", resource: "*"))
        #expect(try !IAMPolicyAnalysis.isPublic(nil))
        #expect(try !IAMPolicyAnalysis.allowsPublic(nil, action: "s3:GetObject"))
        #expect(try !IAMPolicyAnalysis.deniesInsecureTransport(nil))
    }

    @Test func statementMayBeAnObjectOrAListAndElementsAStringOrAList() throws {
        #expect(try IAMPolicyAnalysis.isAdmin(policy(#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#)))
        #expect(try IAMPolicyAnalysis.isAdmin(policy(#"{"Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]}"#)))
        #expect(try !IAMPolicyAnalysis.isAdmin(policy(#"{"Statement": []}"#)))
    }

    @Test(arguments: [
        ("", "empty string"),
        ("not a policy", "neither a JSON object"),
        ("{\"Statement\": ", "not valid JSON"),
        ("%7B%22Statement%22", "not valid JSON"),
        ("%E0%A4%A", "URL encoding"),
    ])
    func malformedTextThrows(_ text: String, _ message: String) {
        let error = #expect(throws: PolicyDocumentError.self) { try IAMPolicyAnalysis.isAdmin(.string(text)) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
    }

    @Test(arguments: [
        (#"[1, 2]"#, "got an array"),
        (#"42"#, "got a number"),
        (#"true"#, "got a boolean"),
        (#"{"Version": "2012-10-17"}"#, "no Statement"),
        (#"{"Statement": "Allow"}"#, "Statement must be an object or a list"),
        (#"{"Statement": [42]}"#, "statement 1 is not a JSON object"),
        (#"{"Statement": {"Action": "*", "Resource": "*"}}"#, "statement 1 has no Effect"),
        (#"{"Statement": {"Sid": "X", "Effect": "Permit", "Action": "*"}}"#, #"statement 1 ("X"): Effect must be "Allow" or "Deny""#),
        (#"{"Statement": {"Effect": "Allow", "Resource": "*"}}"#, "neither Action nor NotAction"),
        (#"{"Statement": {"Effect": "Allow", "Action": "*", "NotAction": "s3:*"}}"#, "both Action and NotAction"),
        (#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "x"}}"#, "both Resource and NotResource"),
        (#"{"Statement": {"Effect": "Allow", "Action": 7}}"#, "Action must be a string or a list of strings"),
        (#"{"Statement": {"Effect": "Allow", "Action": ["s3:GetObject", 1]}}"#, "Action must be a string or a list of strings"),
        (#"{"Statement": {"Effect": "Allow", "Action": "*", "Principal": 5}}"#, "Principal must be"),
        (#"{"Statement": {"Effect": "Allow", "Action": "*", "Principal": {"AWS": {"x": 1}}}}"#, "Principal entries must be"),
        (#"{"Statement": {"Effect": "Allow", "Action": "*", "Principal": "*", "NotPrincipal": "*"}}"#, "both Principal and NotPrincipal"),
        (#"{"Statement": {"Effect": "Allow", "Action": "*", "Condition": "yes"}}"#, "Condition must be an object"),
        (#"{"Statement": {"Effect": "Allow", "Action": "*", "Condition": {"StringEquals": "x"}}}"#, "must map to an object of keys"),
        (
            #"{"Statement": {"Effect": "Allow", "Action": "*", "Condition": {"StringEquals": {"k": {"a": 1}}}}}"#,
            "not a string, number or boolean"
        ),
    ])
    func malformedDocumentsThrowSayingWhatIsWrong(_ text: String, _ message: String) throws {
        let doc = try JSONValue.parse(text)
        for check in [
            { try IAMPolicyAnalysis.isAdmin(doc) },
            { try IAMPolicyAnalysis.allows(doc, action: "s3:GetObject", resource: "*") },
            { try IAMPolicyAnalysis.isPublic(doc) },
            { try IAMPolicyAnalysis.allowsPublic(doc, action: "s3:GetObject") },
            { try IAMPolicyAnalysis.deniesInsecureTransport(doc) },
        ] as [() throws -> Bool] {
            let error = #expect(throws: PolicyDocumentError.self) { try check() }
            #expect(error?.description.contains(message) == true, "\(error?.description ?? "no error")")
        }
    }

    @Test func elementNamesAreMatchedCaseInsensitively() throws {
        let doc = try policy(#"{"statement": [{"effect": "allow", "action": "*", "resource": "*"}]}"#)
        #expect(try IAMPolicyAnalysis.isAdmin(doc))
    }
}
