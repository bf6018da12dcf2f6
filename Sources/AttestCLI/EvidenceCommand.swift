import ArgumentParser
import AttestControls
import AttestCore
import AttestEvidence
import AttestReport
import AttestScan
import Foundation

struct EvidenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evidence", abstract: "Signed, hash-chained evidence: keys, verification, queries, audit packages.",
        subcommands: [
            EvidenceKeygenCommand.self, EvidenceVerifyCommand.self, EvidenceQueryCommand.self,
            EvidenceSummaryCommand.self, EvidenceExportCommand.self, EvidenceReportCommand.self,
        ])
}

/// Where to read evidence from.
struct EvidenceSourceOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The evidence: a directory or s3://bucket/prefix (default: evidence.path in the config, else ./evidence).", valueName: "dest"))
    var evidence: String?

    @Option(help: "Config file (default: attest.yaml in the current directory, if present).")
    var config: String?

    @Option(help: "AWS profile for s3:// evidence.")
    var profile: String?

    /// Opens the store in a session of its own, runs `body`, ends the session; a failure reading
    /// the store is a one-line error, and evidence that does not verify is a finding (exit 1).
    func using<T: Sendable>(_ body: (any EvidenceStore) async throws -> T) async throws -> T {
        let config = try AttestCLIConfig.load(self.config)
        let destination = evidence ?? config.evidence.path ?? "evidence"
        if !destination.contains("://") {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: destination, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ConfigurationError("no evidence at \(destination) (use --evidence DIR or s3://bucket/prefix)")
            }
        }
        return try await ScanSession.withSession(environment: ProcessInfo.processInfo.environment, userAgent: "attest/\(attestVersion)") {
            session in
            let store = try await EvidenceSetup.openStore(destination, config: config.evidence, session: session, profile: profile)
            do {
                return try await body(store)
            } catch let error as ConfigurationError {
                throw error
            } catch let error as EvidenceNotVerifiedError {
                throw error
            } catch {
                throw ConfigurationError("\(error)")
            }
        }
    }
}

/// For the commands that read evidence: what it must be signed with, and whether to read it
/// when it does not verify.
struct TrustOptions: ParsableArguments {
    @Option(help: "The public key (PEM) the evidence must be signed with (default: the one stored beside it).")
    var publicKey: String?

    @Flag(help: "Read evidence that does not verify (the output says so) instead of refusing it.")
    var allowUnverified = false

    func trustedKey() throws -> EvidencePublicKey? {
        guard let publicKey else { return nil }
        guard let text = try? String(contentsOfFile: publicKey, encoding: .utf8) else {
            throw ConfigurationError("--public-key \(publicKey): cannot read")
        }
        do { return try EvidencePublicKey(pem: text, source: publicKey) } catch { throw ConfigurationError("\(error)") }
    }

    /// Says on standard error, once, that what follows includes evidence that did not verify.
    static func warnUnverified(_ report: VerificationReport) {
        guard !report.isIntact else { return }
        Diagnostics.line(
            "UNVERIFIED: the evidence has \(report.findings.count) finding(s) (attest evidence verify names them); output from it is marked unverified"
        )
    }
}

/// `--from` / `--to`: dates (whole days, `--to` included) or RFC 3339 times.
struct PeriodOptions: ParsableArguments {
    @Option(help: "Scans started on or after this date or time (2026-01-01, or RFC 3339).")
    var from: String?

    @Option(help: "Scans started on or before this date (the whole day) or time.")
    var to: String?

    func range() throws -> (from: Date?, to: Date?) {
        var start: Date?
        var end: Date?
        if let from {
            guard let d = EvidenceTime.parse(from) else { throw ValidationError("--from: expected a date like 2026-01-01, not \(from)") }
            start = d
        }
        if let to {
            guard let d = EvidenceTime.parse(to) else { throw ValidationError("--to: expected a date like 2026-06-30, not \(to)") }
            end = to.count == 10 ? d.addingTimeInterval(86_400) : d.addingTimeInterval(0.001)
        }
        if let start, let end, end <= start { throw ValidationError("--to is before --from") }
        return (start, end)
    }
}

struct EvidenceKeygenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Create the Ed25519 key that signs evidence manifests, or show its public key.")

    @Option(help: "Where to write the private key (default: ~/.config/attest/evidence-signing.key).")
    var out: String?

    @Flag(help: "Print the public key of the existing key instead of creating one.")
    var show = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let path = out ?? EvidenceSigningKey.defaultPath(environment: environment)
        do {
            let key: EvidenceSigningKey
            if show {
                guard let loaded = try EvidenceSigningKey.load(environment: out == nil ? environment : [:], configuredFile: out) else {
                    throw ConfigurationError("no signing key at \(path); create one with attest evidence keygen")
                }
                key = loaded.key
            } else {
                key = EvidenceSigningKey()
                try key.write(to: path)
                FileHandle.standardError.write(Data("attest: wrote the private key to \(path) (readable by you only)\n".utf8))
            }
            print(
                "# public key \(key.publicKey.id): keep a copy away from the evidence; `attest evidence verify --public-key` checks against it"
            )
            print(key.publicKey.pem, terminator: "")
        } catch let error as EvidenceKeyError {
            throw ConfigurationError(error.description)
        }
    }
}

struct EvidenceVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check signatures, the manifest chain, every file's digest and every record's hash chain; exit 1 on any finding.")

    @OptionGroup var source: EvidenceSourceOptions
    @OptionGroup var period: PeriodOptions

    @Option(help: "Verify an audit package (from attest evidence export) instead of a store.")
    var package: String?

    @Option(help: "The public key (PEM) the evidence must be signed with (default: the one stored beside it).")
    var publicKey: String?

    @Option(help: "Output format: table or json.")
    var format: OutputFormat = .table

    func validate() throws { try format.require([.table, .json]) }

    func run() async throws {
        let (from, to) = try period.range()
        var trusted: EvidencePublicKey?
        if let publicKey {
            guard let text = try? String(contentsOfFile: publicKey, encoding: .utf8) else {
                throw ConfigurationError("--public-key \(publicKey): cannot read")
            }
            do { trusted = try EvidencePublicKey(pem: text, source: publicKey) } catch { throw ConfigurationError("\(error)") }
        }
        var report: VerificationReport
        let scope: String
        var keyInsidePackage = false
        if let package {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attest-package-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let unpacked: AuditPackage.Unpacked
            do { unpacked = try AuditPackage.open(URL(fileURLWithPath: package), into: dir) } catch {
                throw ConfigurationError("\(error)")
            }
            // What is checked comes from the signed manifests and the files present, never from
            // package.json alone: every framework whose records the package holds, and the one it names.
            var verifier = EvidenceVerifier(store: unpacked.store, trustedKey: trusted, from: from, to: to)
            verifier.frameworks = unpacked.frameworksPresent.union([unpacked.declaredFramework])
            verifier.chainStartsAtFirstManifest = true
            scope = "package \(package) (\(unpacked.frameworksPresent.sorted().joined(separator: ", ")))"
            do { report = try await verifier.verify() } catch { throw ConfigurationError("cannot verify \(scope): \(error)") }
            report.findings = unpacked.findings + report.findings
            if report.records == 0, !report.findings.contains(where: { $0.kind == .noEvidence }) {
                report.findings.append(
                    .init(kind: .noEvidence, key: nil, message: "no record was verified: a package without evidence proves nothing"))
            }
            keyInsidePackage = trusted == nil
        } else {
            (scope, report) = try await source.using { store in
                let verifier = EvidenceVerifier(store: store, trustedKey: trusted, from: from, to: to)
                do { return (store.location, try await verifier.verify()) } catch let error as NotAnEvidenceStoreError {
                    throw ConfigurationError(error.description)
                } catch {
                    throw ConfigurationError("cannot verify \(store.location): \(error)")
                }
            }
        }

        switch format {
        case .json:
            let o: JSONValue = [
                "scope": .string(scope), "intact": .bool(report.isIntact), "key_id": report.keyID.map { .string($0) } ?? .null,
                "scans": .int(Int64(report.scans.count)), "files": .int(Int64(report.files)), "records": .int(Int64(report.records)),
                "head": report.head.map { ["sequence": .int(Int64($0.sequence)), "sha256": .string($0.digest)] } ?? .null,
                "incomplete": .array(
                    report.incomplete.map {
                        ["scan_id": .string($0.scanID), "started_at": .string($0.startedAt), "files": .int(Int64($0.files))]
                    }),
                "findings": .array(
                    report.findings.map {
                        ["kind": .string($0.kind.rawValue), "key": $0.key.map { .string($0) } ?? .null, "message": .string($0.message)]
                    }),
            ]
            print(o.serialized(pretty: true))
        case .table, .csv:  // csv is refused by validate()
            // The verdict first: a reader who stops at the first line must not read success.
            if report.isIntact {
                print(
                    "OK: \(scope): \(report.scans.count) scan(s), \(report.files) file(s), \(report.records) record(s) verified, key \(report.keyID ?? "none")"
                )
            } else {
                print(
                    "FAILED: \(scope): \(report.findings.count) finding(s); \(report.scans.count) scan(s), \(report.files) file(s), \(report.records) record(s) checked, key \(report.keyID ?? "none")"
                )
                for f in report.findings { print("  \(TerminalText.safe(f.description))") }
            }
            if keyInsidePackage {
                print(
                    "Note: checked against the public key inside the package. That proves the package is intact, not who made it: pass --public-key with the key you obtained from the organisation to prove that."
                )
            }
            if let head = report.head {
                print(
                    "Chain head: manifest \(head.sequence), \(head.digest) (record it elsewhere: removal of the newest scans is only visible against it)"
                )
            }
            for i in report.incomplete {
                print(
                    "INCOMPLETE scan \(i.scanID) (started \(i.startedAt.isEmpty ? "?" : i.startedAt)): interrupted before its manifest was written; \(i.files) file(s) not signed"
                )
            }
        }
        if !report.isIntact { throw ExitCode(ExitStatus.findings) }
    }
}

struct EvidenceQueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "List evidence records of signed scans by framework, requirement, period and status.")

    @OptionGroup var source: EvidenceSourceOptions
    @OptionGroup var period: PeriodOptions

    @Option(help: "Framework: soc2, iso27001, nis2, dora.")
    var framework: String?

    @Option(help: "Requirement id, e.g. CC6.1 or A.8.24.")
    var requirement: String?

    @Option(help: "Comma-separated statuses: pass, fail, error, not_applicable, excepted.")
    var status: String?

    @Option(help: "Directory holding the provider specs and built-in controls (for the framework catalogues).")
    var providers: String?

    @Option(help: "Output format: table, json or csv.")
    var format: OutputFormat = .table

    @OptionGroup var trust: TrustOptions

    func run() async throws {
        let (from, to) = try period.range()
        var statuses: Set<String>?
        if let items = CommaList.parse(status) {
            statuses = Set(items.map { $0.lowercased() })
            for s in statuses!.sorted() where ResultStatus(rawValue: s) == nil {
                throw ValidationError("--status: use pass, fail, error, not_applicable or excepted, not \(s)")
            }
        }
        let query = EvidenceQuery(framework: framework, requirement: requirement, from: from, to: to, statuses: statuses)
        let key = try trust.trustedKey()
        let allow = trust.allowUnverified
        let (framework, requirement, providers) = (self.framework, self.requirement, self.providers)
        let (rows, report) = try await source.using { store in
            try await EvidenceSelection.check(framework: framework, requirement: requirement, in: store, providers: providers)
            return try await query.run(on: store, trustedKey: key, allowUnverified: allow)
        }
        TrustOptions.warnUnverified(report)
        switch format {
        case .json: print(JSONValue.array(rows.map(\.json)).serialized(pretty: true))
        case .csv: print(CSV.text(header: EvidenceRow.columns, rows: rows.map(\.values)), terminator: "")
        case .table:
            let columns = ["time", "framework", "requirement", "control", "status", "resource"] + (report.isIntact ? [] : ["verified"])
            print(
                TextTable.render(
                    header: columns,
                    rows: rows.map {
                        [$0.time, $0.framework, $0.requirement, $0.control, $0.status, $0.resource]
                            + (report.isIntact ? [] : [$0.verified ? "yes" : "NO"])
                    }),
                terminator: "")
            print("\(rows.count) record(s)" + (report.isIntact ? "" : ", \(rows.filter { !$0.verified }.count) UNVERIFIED"))
        }
    }
}

struct EvidenceSummaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Per requirement over a period: scans, share passing, first and last failure, longest failing stretch, mean time to fix.")

    @OptionGroup var source: EvidenceSourceOptions
    @OptionGroup var period: PeriodOptions

    @Option(help: "Framework: soc2, iso27001, nis2, dora (default: all).")
    var framework: String?

    @Option(help: "Directory holding the provider specs and built-in controls (for the framework catalogues).")
    var providers: String?

    @Option(help: "Output format: table, json or csv.")
    var format: OutputFormat = .table

    @Flag(
        help:
            "Per control instead: scans with excepted results, the excepted results in the latest scan and the exceptions behind them (a control with many overrides is a control to fix)."
    )
    var exceptions = false

    @OptionGroup var trust: TrustOptions

    func run() async throws {
        let (from, to) = try period.range()
        let key = try trust.trustedKey()
        let allow = trust.allowUnverified
        let (framework, providers) = (self.framework, self.providers)
        let (manifests, report) = try await source.using { store in
            try await EvidenceSelection.check(framework: framework, requirement: nil, in: store, providers: providers)
            return try await RequirementSummary.manifests(in: store, from: from, to: to, trustedKey: key, allowUnverified: allow)
        }
        TrustOptions.warnUnverified(report)
        if exceptions {
            printExceptions(manifests, report: report)
            return
        }
        let summaries = RequirementSummary.compute(manifests, framework: framework)
        let header = [
            "framework", "requirement", "account", "scans", "passing", "first_failure", "last_failure",
            "longest_failing_stretch", "mean_time_to_fix", "failing_now",
        ]
        func row(_ s: RequirementSummary) -> [String] {
            [
                s.framework, s.requirement, s.account, String(s.scans), String(format: "%.0f%%", s.passingShare * 100),
                s.firstFailure.map(EvidenceTime.string) ?? "", s.lastFailure.map(EvidenceTime.string) ?? "",
                s.longestFailingStretch.map { "\($0.scans) scan(s), \(EvidenceTime.string($0.from)) to \(EvidenceTime.string($0.to))" }
                    ?? "",
                s.meanTimeToFix.map { Duration.describe($0) + " (\(s.fixes) fix\(s.fixes == 1 ? "" : "es"))" } ?? "",
                s.failingAtEnd ? "yes" : "no",
            ]
        }
        switch format {
        case .csv: print(CSV.text(header: header, rows: summaries.map(row)), terminator: "")
        case .json:
            print(
                JSONValue.array(
                    summaries.map { s in
                        [
                            "framework": .string(s.framework), "requirement": .string(s.requirement), "account": .string(s.account),
                            "scans": .int(Int64(s.scans)), "passing": .int(Int64(s.passing)), "failing": .int(Int64(s.failing)),
                            "incomplete": .int(Int64(s.incomplete)), "passing_share": .double(s.passingShare),
                            "excepted": .int(Int64(s.excepted)),
                            "first_failure": s.firstFailure.map { .string(EvidenceTime.string($0)) } ?? .null,
                            "last_failure": s.lastFailure.map { .string(EvidenceTime.string($0)) } ?? .null,
                            "longest_failing_stretch": s.longestFailingStretch.map {
                                [
                                    "scans": .int(Int64($0.scans)), "from": .string(EvidenceTime.string($0.from)),
                                    "to": .string(EvidenceTime.string($0.to)),
                                ]
                            } ?? .null,
                            "mean_time_to_fix_seconds": s.meanTimeToFix.map { .double($0) } ?? .null, "fixes": .int(Int64(s.fixes)),
                            "failing_at_end": .bool(s.failingAtEnd),
                        ]
                    }
                ).serialized(pretty: true))
        case .table:
            print(
                "\(manifests.count) signed scan(s) in the period"
                    + (report.isIntact ? "" : "; UNVERIFIED: \(report.findings.count) finding(s)"))
            print(
                TextTable.render(
                    header: [
                        "framework", "requirement", "scans", "passing", "first failure", "last failure", "longest failing",
                        "mean time to fix",
                    ],
                    rows: summaries.map { s in
                        let r = row(s)
                        return [
                            r[0], r[1], r[3], r[4], r[5], r[6],
                            s.longestFailingStretch.map { "\($0.scans) scan(s)" } ?? "", r[8],
                        ]
                    }), terminator: "")
        }
    }
}

struct EvidenceExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write an audit package: one framework's records, manifests, public key and methodology, as .tar.gz.")

    @OptionGroup var source: EvidenceSourceOptions
    @OptionGroup var period: PeriodOptions

    @Option(help: "Framework: soc2, iso27001, nis2, dora.")
    var framework: String

    @Option(help: "The package file to write (.tar.gz).")
    var out: String

    @Option(help: "Directory holding the provider specs and built-in controls.")
    var providers: String?

    @OptionGroup var trust: TrustOptions

    func run() async throws {
        let (from, to) = try period.range()
        let key = try trust.trustedKey()
        let allow = trust.allowUnverified
        // The built-in catalogue names requirements and describes controls in the methodology.
        let (controls, catalogue) = try BuiltinCatalogue.load(providers: providers)
        let (framework, providers) = (self.framework, self.providers)
        let contents = try await source.using {
            try await EvidenceSelection.check(framework: framework, requirement: nil, in: $0, providers: providers)
            return try await AuditPackage.export(
                from: $0, framework: framework.lowercased(), from: from, to: to,
                frameworks: catalogue, controls: controls, trustedKey: key, allowUnverified: allow)
        }
        do { try ReportFile.write(contents.data, to: out) } catch {
            throw ConfigurationError("cannot write \(out): \(error.localizedDescription)")
        }
        print(
            "Wrote \(out): \(contents.framework), \(contents.scans) scan(s), \(contents.files) file(s), \(contents.records) record(s), \(contents.bytes) bytes"
        )
        print("Verify with: attest evidence verify --package \(out) --public-key <the key you hold>")
    }
}

enum CSV {
    static func text(header: [String], rows: [[String]]) -> String { CSVText.text(header: header, rows: rows) }
}

extension EvidenceSummaryCommand {
    /// Excepted results per control over the period, from the signed manifests.
    func printExceptions(_ manifests: [ScanManifest], report: VerificationReport) {
        struct Row {
            var scans = 0
            var total = 0
            var latest = 0
            var exceptions: [String] = []
        }
        let ordered = manifests.sorted { $0.startDate < $1.startDate }
        var rows: [String: Row] = [:]
        for m in ordered {
            var perControl: [String: (Int, [String])] = [:]
            for entry in m.exceptions {
                let e = entry.exception
                let label = "\(e.control) by \(e.owner) until \(e.expires)" + (e.ticket.map { " (\($0))" } ?? "")
                for (control, n) in entry.excepted {
                    perControl[control, default: (0, [])].0 += n
                    perControl[control, default: (0, [])].1.append(label)
                }
            }
            for (control, (n, _)) in perControl {
                rows[control, default: Row()].scans += 1
                rows[control, default: Row()].total += n
            }
            if m.scanID == ordered.last?.scanID {
                for (control, (n, labels)) in perControl {
                    rows[control, default: Row()].latest = n
                    rows[control, default: Row()].exceptions = labels
                }
            }
        }
        let ids = rows.keys.sorted { (rows[$0]!.latest, rows[$0]!.total, $1) > (rows[$1]!.latest, rows[$1]!.total, $0) }
        let header = ["control", "scans_with_exceptions", "excepted_results", "excepted_in_latest_scan", "exceptions_in_latest_scan"]
        let table = ids.map { id -> [String] in
            let r = rows[id]!
            return [id, String(r.scans), String(r.total), String(r.latest), r.exceptions.joined(separator: "; ")]
        }
        switch format {
        case .csv: print(CSV.text(header: header, rows: table), terminator: "")
        case .json:
            print(
                JSONValue.array(
                    ids.map { id in
                        let r = rows[id]!
                        return [
                            "control": .string(id), "scans_with_exceptions": .int(Int64(r.scans)), "excepted_results": .int(Int64(r.total)),
                            "excepted_in_latest_scan": .int(Int64(r.latest)),
                            "exceptions_in_latest_scan": .array(r.exceptions.map { .string($0) }),
                        ]
                    }
                ).serialized(pretty: true))
        case .table:
            print(
                "\(manifests.count) signed scan(s) in the period; \(ids.count) control(s) with excepted results"
                    + (report.isIntact ? "" : "; UNVERIFIED: \(report.findings.count) finding(s)"))
            if !ids.isEmpty {
                print(
                    TextTable.render(
                        header: ["control", "scans", "excepted", "in latest scan", "exceptions in latest scan"], rows: table),
                    terminator: "")
            }
        }
    }
}

enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        TableReportFormat.render([header, header.map { String(repeating: "-", count: $0.count) }] + rows)
    }
}

extension Duration {
    /// `3 d 4 h`, `2 h 5 min`, `40 s`.
    static func describe(_ seconds: TimeInterval) -> String {
        let s = Int(seconds.rounded())
        if s >= 86_400 { return "\(s / 86_400) d \(s % 86_400 / 3600) h" }
        if s >= 3600 { return "\(s / 3600) h \(s % 3600 / 60) min" }
        if s >= 60 { return "\(s / 60) min \(s % 60) s" }
        return "\(s) s"
    }
}

/// Refuses a framework or requirement that neither the framework catalogues nor the store know,
/// so a typo (`soc3`, `CC9.9`) is a usage error naming the known ones, not "0 record(s)".
enum EvidenceSelection {
    static func check(framework: String?, requirement: String?, in store: any EvidenceStore, providers: String?) async throws {
        guard framework != nil || requirement != nil else { return }
        var known: [String: Set<String>] = [:]  // framework → requirement slugs
        var names: [String: [String: String]] = [:]  // framework → slug → id as written
        func add(_ framework: String, _ requirement: String?) {
            known[framework, default: []].formUnion(requirement.map { [EvidenceLayout.slug($0)] } ?? [])
            if let requirement { names[framework, default: [:]][EvidenceLayout.slug(requirement)] = requirement }
        }
        if let builtin = try? ControlSuite.builtinDirectory(providers: providers),
            let catalogue = try? FrameworkSet(directory: builtin.appendingPathComponent("frameworks"), controls: [])
        {
            for f in catalogue.frameworks { for r in f.requirements { add(f.id, r.id) } }
        }
        for manifest in (try? await EvidenceIndex.manifests(in: store, from: nil, to: nil)) ?? [] {
            for f in manifest.frameworks { add(f, nil) }
            for file in manifest.files { add(file.framework, file.requirement) }
        }
        let chosen = framework?.lowercased()
        if let chosen, known[chosen] == nil {
            throw ConfigurationError("unknown framework \(framework!) (known: \(known.keys.sorted().joined(separator: ", ")))")
        }
        guard let requirement else { return }
        let frameworks = chosen.map { [$0] } ?? known.keys.sorted()
        let slug = EvidenceLayout.slug(requirement)
        if frameworks.contains(where: { known[$0]?.contains(slug) == true }) { return }
        let candidates = frameworks.flatMap { f in (names[f] ?? [:]).values.map { (f, $0) } }
        let nearest = candidates.sorted {
            (EditDistance.between(slug, EvidenceLayout.slug($0.1)), $0.1) < (EditDistance.between(slug, EvidenceLayout.slug($1.1)), $1.1)
        }.prefix(5).map { chosen == nil ? "\($0.0) \($0.1)" : $0.1 }
        let scope = chosen.map { " of \($0)" } ?? ""
        throw ConfigurationError(
            "unknown requirement \(requirement)\(scope) (nearest: \(nearest.joined(separator: ", ")); attest frameworks coverage \(chosen ?? "ID") lists them all)"
        )
    }
}

/// `attest evidence report`: the audit-period report for one framework as one HTML file.
struct EvidenceReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the audit-period report of one framework as a self-contained HTML file, from verified evidence.")

    @OptionGroup var source: EvidenceSourceOptions
    @OptionGroup var period: PeriodOptions

    @Option(help: "Framework: soc2, iso27001, nis2, dora.")
    var framework: String

    @Option(help: "The HTML file to write.")
    var out: String

    @Option(help: "Directory holding the provider specs and built-in controls (for the framework catalogues).")
    var providers: String?

    @OptionGroup var trust: TrustOptions

    func run() async throws {
        let (from, to) = try period.range()
        let key = try trust.trustedKey()
        let allow = trust.allowUnverified
        let id = framework.lowercased()
        let (_, catalogue) = try BuiltinCatalogue.load(providers: providers)
        let providers = self.providers
        let (manifests, verification, latest, location) = try await source.using { store in
            try await EvidenceSelection.check(framework: id, requirement: nil, in: store, providers: providers)
            // Every record of the framework in the period is verified (signatures, chain, each file's
            // digest and hash chain); the latest scan's rows say what it found per requirement.
            let (rows, verification) = try await EvidenceQuery(framework: id, from: from, to: to)
                .run(on: store, trustedKey: key, allowUnverified: allow)
            let manifests =
                allow ? verification.scans : verification.scans.filter { verification.trustedScans.contains($0.scanID) }
            let newest = manifests.max { $0.startDate < $1.startDate }
            return (manifests, verification, rows.filter { $0.scanID == newest?.scanID }, store.location)
        }
        TrustOptions.warnUnverified(verification)
        let report = AuditPeriodReport(
            framework: catalogue?.framework(id), frameworkID: id, from: from, to: to.map { $0.addingTimeInterval(-1) },
            store: location, manifests: manifests, verification: verification,
            summaries: RequirementSummary.compute(manifests, framework: id), latest: latest)
        do { try ReportFile.write(Data(report.html().utf8), to: out) } catch {
            throw ConfigurationError("cannot write \(out): \(error.localizedDescription)")
        }
        print("Wrote \(out): \(id), \(manifests.count) signed scan(s), \(verification.records) record(s) verified")
    }
}

/// The built-in controls and framework catalogues, for commands that describe evidence (the
/// package's methodology, the audit report): what cannot be found or read is left out, since the
/// evidence itself does not need them.
enum BuiltinCatalogue {
    static func load(providers: String?) throws -> (controls: [Control], frameworks: FrameworkSet?) {
        let builtin = try? ControlSuite.builtinDirectory(providers: providers)
        let environment = try Providers.registry.ruleEnvironment()
        let controls = (try? builtin.map { try ControlLoader.load(directories: [$0], environment: environment) }) ?? nil
        let frameworks = try? builtin.map { try FrameworkSet(directory: $0.appendingPathComponent("frameworks"), controls: controls ?? []) }
        return (controls ?? [], frameworks ?? nil)
    }
}
