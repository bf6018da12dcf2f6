import AttestCore
import Foundation
import Testing

@Suite("JSON values")
struct JSONValueTests {
    @Test func parsesEveryKindExactly() throws {
        let v = try JSONValue.parse(
            #"{"a": [1, -2, 3.5, 1e3, true, false, null, "x\u00e9\ud83d\ude00\n"], "big": 9007199254740993, "min": -9223372036854775808}"#)
        #expect(v["a"] == [1, -2, 3.5, 1000.0, true, false, nil, "xé😀\n"])
        #expect(v["big"] == .int(9_007_199_254_740_993))
        #expect(v["min"] == .int(Int64.min))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "\"unterminated", "tru", "01", "1.", "-", "\"\u{01}\"", "\"\\ud800\"", "\"\\x\"",
        "{\"a\" 1}", "[1 2]", "{} {}", "\"\\u12\"",
    ])
    func refusesMalformedText(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func refusesNestingBombsButAcceptsDeepDocuments() throws {
        #expect(throws: JSONParseError.self) {
            try JSONValue.parse(String(repeating: "[", count: 600) + String(repeating: "]", count: 600))
        }
        let ok = try JSONValue.parse(String(repeating: "[", count: 200) + String(repeating: "]", count: 200))
        #expect(ok.arrayValue?.count == 1)
    }

    @Test func serialisesWithSortedKeysAndRoundTrips() throws {
        let v: JSONValue = ["b": [1, "two", nil], "a": ["z": true, "y": 1.5], "c": "quote\"back\\slash\u{0001}"]
        let text = v.serialized()
        #expect(text == #"{"a":{"y":1.5,"z":true},"b":[1,"two",null],"c":"quote\"back\\slash\u0001"}"#)
        #expect(try JSONValue.parse(text) == v)
        #expect(try JSONValue.parse(v.serialized(pretty: true)) == v)
    }
}

@Suite("Paths and templates")
struct PathTemplateTests {
    let doc: JSONValue = [
        "reservationSet": [
            "item": [
                ["instancesSet": ["item": ["instanceId": "i-1"]]],
                ["instancesSet": ["item": [["instanceId": "i-2"], ["instanceId": "i-3"]]]],
            ]
        ],
        "empty": "",
    ]

    @Test func fansOutOverListsLoneValuesAndNothing() {
        #expect(ValuePath("reservationSet.item[].instancesSet.item[].instanceId").values(in: doc) == ["i-1", "i-2", "i-3"])
        #expect(ValuePath("missing[].x").values(in: doc).isEmpty)
        #expect(ValuePath("reservationSet.item[].instancesSet.item[]").value(in: doc).arrayValue?.count == 3)
        #expect(ValuePath("empty").value(in: doc) == "")
        #expect(ValuePath(".").value(in: doc) == doc)
    }

    @Test func aStarFansOutOverAnObjectsValuesInKeyOrder() {
        // A Compute aggregated list: items keyed by zone, a zone without instances has only a warning.
        let aggregated: JSONValue = [
            "items": [
                "zones/us-east1-b": ["instances": [["name": "b1"]]],
                "zones/europe-west1-b": ["instances": [["name": "e1"], ["name": "e2"]]],
                "zones/asia-east1-a": ["warning": ["code": "NO_RESULTS_ON_PAGE"]],
            ]
        ]
        #expect(ValuePath("items.*.instances[].name").values(in: aggregated) == ["e1", "e2", "b1"])
        #expect(ValuePath("items.*.warning.code").values(in: aggregated) == ["NO_RESULTS_ON_PAGE"])
        #expect(ValuePath("items.*").isMulti)
        #expect(ValuePath("missing.*.x").values(in: aggregated).isEmpty)
        #expect(ValuePath("items.*.instances[]").value(in: ["items": "not an object"]) == [])
    }

    @Test func rendersAndRefusesHalfFilledTemplates() throws {
        let ctx: JSONValue = ["account": "123", "item": ["Name": "b", "n": 7]]
        #expect(try Template("arn:aws:s3:::{item.Name}/{item.n}").render(ctx) == "arn:aws:s3:::b/7")
        #expect(try Template("{{literal}} {account}").render(ctx) == "{literal} 123")
        #expect(try Template("x/{item.Missing}").render(ctx) == nil)
        #expect(throws: Template.SyntaxError.self) { try Template("oops {item.Name") }
        #expect(throws: Template.SyntaxError.self) { try Template("empty {}") }
    }
}

@Suite("Secrets")
struct SecretTests {
    @Test func registeredSecretsAndSigningMaterialAreScrubbed() {
        let scrubber = SecretScrubber()
        scrubber.register("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        scrubber.register("short")
        let text = """
            key wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY and wJalrXUtnFEMI%2FK7MDENG%2BbPxRfiCYEXAMPLEKEY short
            Authorization: AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7
            ?X-Amz-Signature=abc123&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE
            <SecretAccessKey>s3cr3t</SecretAccessKey> {"SessionToken": "tok"}
            """
        let out = scrubber.scrub(text)
        #expect(!out.contains("wJalrXUtnFEMI"))
        #expect(!out.contains("5d672d79c15b"))
        #expect(!out.contains("abc123"))
        #expect(!out.contains("FwoGZXIvYXdzEXAMPLE"))
        #expect(!out.contains("s3cr3t"))
        #expect(!out.contains("\"tok\""))
        #expect(out.contains("short"))  // too short to register: ordinary words are not mangled
    }

    @Test func aSecretNeverPrints() {
        let s = Secret("super-secret-value-1234")
        #expect("\(s)" == "[REDACTED]")
        var dumped = ""
        dump(s, to: &dumped)
        #expect(!dumped.contains("super-secret"))
        #expect(String(reflecting: s) == "[REDACTED]")
    }
}

@Suite("Text for the terminal")
struct TerminalTextTests {
    @Test func controlCharactersBecomeVisibleEscapes() {
        #expect(TerminalText.safe("id-\u{1B}[31mred\u{1B}[0m") == "id-\\u{1b}[31mred\\u{1b}[0m")
        #expect(TerminalText.safe("a\rb\u{7F}c\u{9B}d") == "a\\u{d}b\\u{7f}c\\u{9b}d")
        #expect(TerminalText.safe("tab\tand\nline") == "tab\tand\nline")
        #expect(TerminalText.safe("one\nline", singleLine: true) == "one\\u{a}line")
        #expect(TerminalText.safe("plain ünïcode ✓") == "plain ünïcode ✓")
    }
}
