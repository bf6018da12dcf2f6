import AttestCore
import Testing

@testable import AttestPolicy

@Suite("aws.ingressOpenToInternet")
struct SecurityGroupTests {
    func rule(_ proto: String, _ from: JSONValue, _ to: JSONValue, cidrs: [JSONValue] = [], ipv6: [JSONValue] = []) -> JSONValue {
        [
            "protocol": .string(proto), "from_port": from, "to_port": to, "cidrs": .array(cidrs), "ipv6_cidrs": .array(ipv6),
            "source_groups": [], "prefix_lists": [],
        ]
    }

    @Test func sshOpenToTheWorld() throws {
        let rules: JSONValue = [rule("tcp", 22, 22, cidrs: ["0.0.0.0/0"])]
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet(rules, port: 22))
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet(rules, port: 3389))
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet(rules, port: -1))
    }

    @Test func ipv6AndProtocolNumbers() throws {
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet([rule("6", 3389, 3389, ipv6: ["::/0"])], port: 3389))
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet([rule("TCP", 3389, 3389, cidrs: ["10.0.0.0/8", "0.0.0.0/0"])], port: 3389))
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet([rule("udp", 0, 65535, cidrs: ["0.0.0.0/0"])], port: 53))
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet([rule("17", 0, 65535, cidrs: ["0.0.0.0/0"])], port: 53))
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet([rule("icmp", -1, -1, cidrs: ["0.0.0.0/0"])], port: 22))
    }

    @Test func rangesAreInclusive() throws {
        let rules: JSONValue = [rule("tcp", 1024, 2048, cidrs: ["0.0.0.0/0"])]
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet(rules, port: 1024))
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet(rules, port: 2048))
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet(rules, port: 1023))
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet(rules, port: 2049))
    }

    @Test func allTrafficAndNullPorts() throws {
        let all: JSONValue = [rule("-1", nil, nil, cidrs: ["0.0.0.0/0"])]
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet(all, port: 22))
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet(all, port: -1))
        let nullPorts: JSONValue = [rule("tcp", nil, nil, ipv6: ["::/0"])]
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet(nullPorts, port: 5432))
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet(nullPorts, port: -1))
    }

    @Test func allPortsOpenMeansEveryTCPPort() throws {
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet([rule("tcp", 0, 65535, cidrs: ["0.0.0.0/0"])], port: -1))
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet([rule("tcp", 1, 65535, cidrs: ["0.0.0.0/0"])], port: -1))
        // Rules that together cover every port.
        let split: JSONValue = [rule("tcp", 0, 1000, cidrs: ["0.0.0.0/0"]), rule("tcp", 1001, 65535, ipv6: ["::/0"])]
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet(split, port: -1))
        let gap: JSONValue = [rule("tcp", 0, 1000, cidrs: ["0.0.0.0/0"]), rule("tcp", 1002, 65535, cidrs: ["0.0.0.0/0"])]
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet(gap, port: -1))
        // Wide open, but not to the internet.
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet([rule("-1", nil, nil, cidrs: ["10.0.0.0/8"])], port: -1))
    }

    @Test func narrowerSourcesAndGroupReferencesAreNotTheInternet() throws {
        let rules: JSONValue = [
            rule("tcp", 22, 22, cidrs: ["203.0.113.0/24", "0.0.0.0/1"]),
            [
                "protocol": "-1", "from_port": nil, "to_port": nil, "cidrs": [], "ipv6_cidrs": [], "source_groups": ["sg-123"],
                "prefix_lists": ["pl-1"],
            ],
        ]
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet(rules, port: 22))
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet([], port: 22))
        #expect(try !NetworkRuleAnalysis.ingressOpenToInternet(nil, port: 22))
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet([rule("tcp", 22, 22, ipv6: ["::0/0"])], port: 22))
    }

    @Test func portsAsStringsOrDoublesAreRead() throws {
        let rules: JSONValue = [["protocol": "tcp", "from_port": "80", "to_port": 443.0, "cidrs": ["0.0.0.0/0"]]]
        #expect(try NetworkRuleAnalysis.ingressOpenToInternet(rules, port: 443))
    }

    @Test(
        arguments: [
            (JSONValue.string("tcp"), 22, "must be a list"),
            ([1], 22, "item 1 is not an object"),
            ([["from_port": 22, "to_port": 22, "cidrs": ["0.0.0.0/0"]]], 22, "has no protocol"),
            ([["protocol": "tcp", "from_port": "ssh", "to_port": 22, "cidrs": ["0.0.0.0/0"]]], 22, "from_port must be a number"),
            ([], 65536, "port must be"),
            ([], -2, "port must be"),
        ] as [(JSONValue, Int, String)])
    func malformedRulesThrow(_ rules: JSONValue, _ port: Int, _ message: String) {
        let error = #expect(throws: PolicyDocumentError.self) { try NetworkRuleAnalysis.ingressOpenToInternet(rules, port: port) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
    }
}

@Suite("aws.naclIngressOpenToInternet")
struct NetworkACLTests {
    func entry(
        _ number: Int64, _ action: String, _ proto: String = "6", from: JSONValue = nil, to: JSONValue = nil,
        cidr: JSONValue = "0.0.0.0/0", ipv6: JSONValue = nil, egress: Bool = false
    ) -> JSONValue {
        [
            "rule_number": .int(number), "action": .string(action), "protocol": .string(proto), "egress": .bool(egress),
            "cidr": cidr, "ipv6_cidr": ipv6, "from_port": from, "to_port": to,
        ]
    }

    var defaultDeny: JSONValue { entry(32767, "deny", "-1") }

    @Test func theDefaultACLAllowsEverything() throws {
        let entries: JSONValue = [
            entry(100, "allow", "-1"), defaultDeny, entry(100, "allow", "-1", egress: true), entry(32767, "deny", "-1", egress: true),
        ]
        #expect(try NetworkRuleAnalysis.naclIngressOpenToInternet(entries, port: 22))
        #expect(try NetworkRuleAnalysis.naclIngressOpenToInternet(entries, port: -1))
    }

    @Test func onlyTheDefaultDenyRefusesEverything() throws {
        #expect(try !NetworkRuleAnalysis.naclIngressOpenToInternet([defaultDeny], port: 22))
        #expect(try !NetworkRuleAnalysis.naclIngressOpenToInternet([], port: 22))
        #expect(try !NetworkRuleAnalysis.naclIngressOpenToInternet(nil, port: -1))
    }

    @Test func theLowestMatchingRuleNumberDecidesWhateverTheListOrder() throws {
        let entries: JSONValue = [entry(200, "allow", "-1"), defaultDeny, entry(100, "deny", from: 22, to: 22)]
        #expect(try !NetworkRuleAnalysis.naclIngressOpenToInternet(entries, port: 22))
        #expect(try NetworkRuleAnalysis.naclIngressOpenToInternet(entries, port: 23))
        #expect(try !NetworkRuleAnalysis.naclIngressOpenToInternet(entries, port: -1))
        let allowFirst: JSONValue = [entry(200, "deny", from: 22, to: 22), entry(100, "allow", from: 0, to: 1024), defaultDeny]
        #expect(try NetworkRuleAnalysis.naclIngressOpenToInternet(allowFirst, port: 22))
        #expect(try !NetworkRuleAnalysis.naclIngressOpenToInternet(allowFirst, port: 3389))
    }

    @Test func egressEntriesAndOtherProtocolsAreIgnored() throws {
        let entries: JSONValue = [
            entry(100, "allow", "-1", egress: true),
            entry(110, "allow", "17", from: 0, to: 65535),
            entry(120, "allow", "1"),
            defaultDeny,
        ]
        #expect(try !NetworkRuleAnalysis.naclIngressOpenToInternet(entries, port: 22))
    }

    @Test func narrowerRangesDoNotDecideForTheInternet() throws {
        let deniedForSome: JSONValue = [
            entry(100, "deny", "-1", cidr: "198.51.100.0/24"), entry(200, "allow", from: 22, to: 22), defaultDeny,
        ]
        #expect(try NetworkRuleAnalysis.naclIngressOpenToInternet(deniedForSome, port: 22))
        let allowedForSome: JSONValue = [entry(100, "allow", from: 22, to: 22, cidr: "10.0.0.0/8"), defaultDeny]
        #expect(try !NetworkRuleAnalysis.naclIngressOpenToInternet(allowedForSome, port: 22))
    }

    @Test func ipv4AndIPv6AreEvaluatedSeparately() throws {
        let entries: JSONValue = [
            entry(100, "deny", from: 22, to: 22),
            entry(110, "allow", from: 22, to: 22, cidr: nil, ipv6: "::/0"),
            defaultDeny,
            entry(32768, "deny", "-1", cidr: nil, ipv6: "::/0"),
        ]
        #expect(try NetworkRuleAnalysis.naclIngressOpenToInternet(entries, port: 22))
        let both: JSONValue = [
            entry(100, "deny", from: 22, to: 22), entry(101, "deny", from: 22, to: 22, cidr: nil, ipv6: "::/0"), entry(200, "allow", "-1"),
            entry(201, "allow", "-1", cidr: nil, ipv6: "::/0"),
        ]
        #expect(try !NetworkRuleAnalysis.naclIngressOpenToInternet(both, port: 22))
        #expect(try NetworkRuleAnalysis.naclIngressOpenToInternet(both, port: 80))
    }

    @Test func allPortsOpenChecksEveryPortRange() throws {
        let pieces: JSONValue = [
            entry(100, "allow", "tcp", from: 0, to: 30000), entry(110, "allow", "tcp", from: 30001, to: 65535), defaultDeny,
        ]
        #expect(try NetworkRuleAnalysis.naclIngressOpenToInternet(pieces, port: -1))
        let hole: JSONValue = [entry(90, "deny", from: 3389, to: 3389), entry(100, "allow", "-1"), defaultDeny]
        #expect(try !NetworkRuleAnalysis.naclIngressOpenToInternet(hole, port: -1))
        #expect(try NetworkRuleAnalysis.naclIngressOpenToInternet(hole, port: 3390))
        let lateDeny: JSONValue = [entry(100, "allow", "-1"), entry(200, "deny", from: 3389, to: 3389), defaultDeny]
        #expect(try NetworkRuleAnalysis.naclIngressOpenToInternet(lateDeny, port: -1))
    }

    @Test func valuesAsAWSSpellsThem() throws {
        // Protocol numbers as strings, ACTIONS in any case, rule numbers as strings.
        let entries: JSONValue = [
            [
                "rule_number": "100", "action": "ALLOW", "protocol": "6", "egress": "false", "cidr": "0.0.0.0/0", "from_port": 443,
                "to_port": 443,
            ],
            ["rule_number": 32767, "action": "deny", "protocol": "-1", "egress": false, "cidr": "0.0.0.0/0"],
        ]
        #expect(try NetworkRuleAnalysis.naclIngressOpenToInternet(entries, port: 443))
        #expect(try !NetworkRuleAnalysis.naclIngressOpenToInternet(entries, port: 80))
    }

    @Test(
        arguments: [
            (JSONValue.object([:]), "must be a list"),
            (["x"], "item 1 is not an object"),
            ([["action": "allow", "protocol": "-1", "egress": false, "cidr": "0.0.0.0/0"]], "no numeric rule_number"),
            ([["rule_number": 1, "action": "allow", "protocol": "-1", "cidr": "0.0.0.0/0"]], "no boolean egress"),
            ([["rule_number": 1, "action": "permit", "protocol": "-1", "egress": false, "cidr": "0.0.0.0/0"]], "action must be"),
            ([["rule_number": 1, "action": "allow", "egress": false, "cidr": "0.0.0.0/0"]], "has no protocol"),
        ] as [(JSONValue, String)])
    func malformedEntriesThrow(_ entries: JSONValue, _ message: String) {
        let error = #expect(throws: PolicyDocumentError.self) { try NetworkRuleAnalysis.naclIngressOpenToInternet(entries, port: 22) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
    }
}
