import AttestAWSProvider
import AttestScan
import AttestTestSupport
import Foundation
import Testing
import Yams

/// The container image (`Dockerfile`) and the Kubernetes deployment of the sharded organization
/// scan (`deploy/kubernetes/`). No container engine or cluster runs in the tests, so they are read
/// as files and checked against the repository, against attest's command line and against each
/// other: what a build or an `apply` would otherwise only find out in production.
@Suite("The container image and the Kubernetes deployment")
struct DeploymentTests {
    // MARK: The Dockerfile

    @Test func everySourceTheDockerfileCopiesFromTheBuildContextIsInTheRepository() throws {
        let dockerfile = try Dockerfile.load()
        let ignore = try DockerIgnore.load()
        var copied = 0
        for stage in dockerfile.stages {
            for instruction in stage.instructions where ["COPY", "ADD"].contains(instruction.keyword) && instruction.flags["from"] == nil {
                let words = instruction.words
                try #require(words.count >= 2, "line \(instruction.line): \(instruction.keyword) needs a source and a destination")
                var matched: [String] = []
                for source in words.dropLast() {
                    let found = Repository.files(matching: source)
                    // A pattern may match nothing (Package.resolved is not committed); a plain path must exist.
                    if !Glob.isPattern(source) { #expect(!found.isEmpty, "line \(instruction.line): \(source) is not in the repository") }
                    matched += found
                }
                #expect(!matched.isEmpty, "line \(instruction.line): \(instruction.keyword) copies nothing")
                for path in matched {
                    #expect(!ignore.excludes(path), "line \(instruction.line): .dockerignore leaves \(path) out of the build context")
                }
                copied += matched.count
            }
        }
        #expect(copied > 0)
        // What must stay out of the context: local builds, the git directory, evidence and keys.
        for path in [".build", ".git", "evidence", "evidence-signing.key"] { #expect(ignore.excludes(path), "\(path)") }
    }

    @Test func theImageRunsTheStaticReleaseBinaryItsBuildStageMadeAsANonRootUser() throws {
        let dockerfile = try Dockerfile.load()
        try #require(dockerfile.stages.count >= 2, "a multi-stage build: the toolchain stays out of the image")
        let runtime = try #require(dockerfile.stages.last)
        let entrypoint = try #require(
            runtime.last("ENTRYPOINT")?.execForm, "the final stage's ENTRYPOINT, in exec form so that attest is PID 1 and gets SIGTERM")
        let binary = try #require(entrypoint.first)
        #expect(binary == "/usr/local/bin/attest")

        // The entrypoint is the file copied there from a build stage, and that stage made it.
        let copy = try #require(
            runtime.instructions.first { $0.keyword == "COPY" && $0.flags["from"] != nil && $0.destinations.contains(binary) },
            "a COPY --from=<build stage> to \(binary)")
        let from = try #require(copy.flags["from"])
        let build = try #require(dockerfile.stage(named: from), "no stage \(from)")
        let source = try #require(copy.words.first)
        let runs = build.instructions.filter { $0.keyword == "RUN" }.map(\.arguments)
        let swiftBuild = try #require(runs.first { $0.contains("swift build") && $0.contains("--product attest") })
        #expect(swiftBuild.contains("-c release"))
        #expect(swiftBuild.contains("--static-swift-stdlib"))
        #expect(runs.contains { $0.contains(source) }, "the build stage puts the binary at \(source)")
        #expect(build.base.hasPrefix("swift:"), "\(build.base)")
        // GRDB compiles against the system SQLite's headers, which the Swift image lacks.
        #expect(runs.contains { $0.contains("libsqlite3-dev") })

        // The user: not root, and numeric so that Kubernetes' runAsNonRoot can check it.
        let user = try #require(runtime.last("USER")?.words.first, "the final stage sets USER")
        let uid = String(user.prefix { $0 != ":" })
        #expect(uid != "root" && uid != "0", "USER \(user)")
        #expect(Int(uid) != nil, "USER \(user) is not numeric")
    }

    @Test func theImageHoldsTheDataTheBinaryLooksForAndTheLibrariesItStillLinks() throws {
        let dockerfile = try Dockerfile.load()
        let runtime = try #require(dockerfile.stages.last)
        let binary = try #require(runtime.last("ENTRYPOINT")?.execForm?.first)
        // The binary looks in share/attest above its own folder (ProviderLocator, scripts/install.sh).
        let prefix = Repository.slashless(URL(fileURLWithPath: binary).deletingLastPathComponent().deletingLastPathComponent().path)
        let share = prefix + "/share/attest"
        let copies = runtime.instructions.filter { $0.keyword == "COPY" && $0.flags["from"] == nil }
        for folder in ["providers", "controls", "fixtures"] {
            let copy = try #require(
                copies.first { $0.words.dropLast().map(Repository.normalized).contains(folder) }, "\(folder)/ is copied into the image")
            // One folder per COPY: several folders to one destination would merge their contents.
            #expect(copy.words.count == 2, "line \(copy.line): copy \(folder) on its own")
            // A folder's contents are copied, so the destination is the folder's own path.
            let destination = Repository.slashless(copy.words.last ?? "")
            #expect(destination == share + "/" + folder, "line \(copy.line): \(folder) must land in \(share)/\(folder)")
        }
        // What a --static-swift-stdlib build still loads (ldd): libstdc++, zlib, SQLite, libxml2
        // (FoundationXML), and the trust store for HTTPS.
        let installs = runtime.instructions.filter { $0.keyword == "RUN" }.map(\.arguments).joined(separator: " ")
        for library in ["ca-certificates", "libstdc++6", "zlib1g", "libsqlite3-0", "libxml2"] {
            #expect(installs.contains(library), "the runtime stage installs \(library)")
        }
    }

    // MARK: The manifests

    @Test func everyManifestParsesAndSitsInTheDeploymentsNamespace() throws {
        let deployment = try Deployment.load()
        let namespaces = deployment.manifests.filter { $0.kind == "Namespace" }
        try #require(namespaces.count == 1, "namespace.yaml defines one Namespace")
        let namespace = try #require(namespaces.first?.name)
        for manifest in deployment.manifests where manifest.kind != "Kustomization" {
            #expect(manifest.object["apiVersion"] is String, "\(manifest.file): apiVersion")
            #expect(manifest.name != nil, "\(manifest.file): metadata.name")
            if manifest.kind != "Namespace" {
                #expect(YAMLValue.at(manifest.object, "metadata", "namespace") as? String == namespace, "\(manifest.file): namespace")
            }
        }
        // The kustomization applies every other file, and retargets the container's image.
        let kustomization = try #require(deployment.manifests.first { $0.kind == "Kustomization" })
        let resources = Set(YAMLValue.strings(kustomization.object["resources"]))
        let files = Set(deployment.manifests.map(\.file)).subtracting([kustomization.file])
        #expect(resources == files)
        let images = YAMLValue.list(kustomization.object["images"])?.compactMap { YAMLValue.map($0)?["name"] as? String } ?? []
        let image = try #require(deployment.container["image"] as? String)
        #expect(images.contains(image), "the kustomization's images name \(image)")
    }

    @Test func theCronJobRunsOneShardPerIndexOfAnIndexedJob() throws {
        let deployment = try Deployment.load()
        let cronJob = deployment.cronJob
        let job = deployment.job
        #expect(YAMLValue.at(cronJob.object, "spec", "concurrencyPolicy") as? String == "Forbid")
        #expect(job["completionMode"] as? String == "Indexed")
        let completions = try #require(job["completions"] as? Int, "completions")
        let parallelism = job["parallelism"] as? Int ?? 1
        #expect(parallelism >= 1 && parallelism <= completions)

        let args = deployment.arguments
        #expect(Array(args.prefix(2)) == ["scan", "aws"], "\(args)")
        #expect(args.contains("--org"))
        // --shard $(JOB_COMPLETION_INDEX)/N with N the Job's completions: every account in exactly one shard.
        let shard = try #require(Arguments.value(of: "--shard", in: args), "--shard")
        let marker = "$(JOB_COMPLETION_INDEX)/"
        try #require(shard.hasPrefix(marker), "--shard \(shard) is not \(marker)N")
        #expect(Int(shard.dropFirst(marker.count)) == completions, "--shard \(shard) with completions \(completions)")
        // The index variable, when declared, comes from the Job controller's annotation.
        if let declared = deployment.environment["JOB_COMPLETION_INDEX"] {
            #expect(
                YAMLValue.at(declared, "valueFrom", "fieldRef", "fieldPath") as? String
                    == "metadata.annotations['batch.kubernetes.io/job-completion-index']")
        }
        // Every shard writes to the one S3 evidence store.
        let evidence = try #require(Arguments.value(of: "--evidence", in: args), "--evidence")
        #expect(S3EvidenceStore.parse(evidence) != nil, "--evidence \(evidence) is not s3://bucket/prefix")

        // No command, or attest itself: the image's entrypoint runs.
        let dockerfile = try Dockerfile.load()
        let binary = try #require(dockerfile.stages.last?.last("ENTRYPOINT")?.execForm?.first)
        if let command = deployment.container["command"] {
            #expect(YAMLValue.strings(command).first == binary, "command \(command) does not run \(binary)")
        }
    }

    @Test func theJobStopsOnAConfigurationErrorAndDoesNotRetryAScanThatRan() throws {
        let deployment = try Deployment.load()
        let job = deployment.job
        let container = try #require(deployment.container["name"] as? String)
        let policy = try #require(YAMLValue.map(job["podFailurePolicy"]), "podFailurePolicy")
        let rules = (YAMLValue.list(policy["rules"]) ?? []).compactMap { YAMLValue.map($0) }
        try #require(!rules.isEmpty)
        #expect(YAMLValue.at(deployment.pod, "restartPolicy") as? String == "Never", "podFailurePolicy needs restartPolicy Never")

        // What the API server would refuse.
        for (number, rule) in rules.enumerated() {
            let verb = rule["action"] as? String ?? ""
            #expect(["FailJob", "FailIndex", "Ignore", "Count"].contains(verb), "rule \(number): action \(verb)")
            #expect((rule["onExitCodes"] == nil) != (rule["onPodConditions"] == nil), "rule \(number): onExitCodes or onPodConditions")
            if verb == "FailIndex" { #expect(job["backoffLimitPerIndex"] is Int, "FailIndex needs backoffLimitPerIndex") }
            if let exit = YAMLValue.map(rule["onExitCodes"]) {
                let values = (YAMLValue.list(exit["values"]) ?? []).compactMap { $0 as? Int }
                #expect(!values.isEmpty && values == Array(Set(values)).sorted(), "rule \(number): values unique and ascending")
                #expect(["In", "NotIn"].contains(exit["operator"] as? String ?? ""), "rule \(number): operator")
                if exit["operator"] as? String == "In" { #expect(!values.contains(0), "rule \(number): In cannot hold 0") }
            }
        }

        let action = { (code: Int) in PodFailurePolicy.action(forExitCode: code, container: container, rules: rules) }
        // 2, a usage or configuration error, fails alike in every shard: stop them all.
        #expect(action(2) == "FailJob")
        // 1 (findings) and 3 (incomplete) come from a scan that ran and wrote its evidence: the
        // shard is marked failed and not run again (Ignore would rerun it, Count retry it), and the
        // other shards go on.
        #expect(action(1) == "FailIndex")
        #expect(action(3) == "FailIndex")
        // A crash or the OOM killer (137) is retried, within the per-index budget.
        #expect(action(137) == nil || action(137) == "Count")
    }

    @Test func thePodRunsAsTheDeployedServiceAccountWithNothingWritableButItsVolumes() throws {
        let deployment = try Deployment.load()
        let pod = deployment.pod
        let container = deployment.container

        let accounts = deployment.manifests.filter { $0.kind == "ServiceAccount" && $0.file == "serviceaccount.yaml" }
        let account = try #require(accounts.first, "serviceaccount.yaml defines the ServiceAccount")
        #expect(pod["serviceAccountName"] as? String == account.name)
        // IRSA: the webhook injects the web identity variables for a role named by this annotation.
        let role = try #require(YAMLValue.at(account.object, "metadata", "annotations", "eks.amazonaws.com/role-arn") as? String)
        let parts = role.split(separator: ":", omittingEmptySubsequences: false)
        #expect(
            parts.count == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[4].count == 12 && parts[5].hasPrefix("role/"),
            "\(role) is not an IAM role ARN")

        let podSecurity = YAMLValue.map(pod["securityContext"]) ?? [:]
        let security = try #require(YAMLValue.map(container["securityContext"]), "the container's securityContext")
        // A container's setting wins over the pod's.
        let setting = { (key: String) -> Any? in
            if let value = security[key] { return value }
            return podSecurity[key]
        }
        #expect(setting("runAsNonRoot") as? Bool == true)
        #expect(security["readOnlyRootFilesystem"] as? Bool == true)
        #expect(security["allowPrivilegeEscalation"] as? Bool == false)
        #expect(YAMLValue.strings(YAMLValue.at(security, "capabilities", "drop")).contains("ALL"))
        #expect(YAMLValue.at(setting("seccompProfile"), "type") as? String == "RuntimeDefault")
        // The same user the image sets.
        if let uid = setting("runAsUser") as? Int {
            #expect(uid != 0)
            let user = try Dockerfile.load().stages.last?.last("USER")?.words.first ?? ""
            #expect(String(user.prefix { $0 != ":" }) == String(uid), "runAsUser \(uid), image USER \(user)")
        }
        #expect(YAMLValue.at(container, "resources", "limits", "memory") != nil, "a memory limit")
        #expect(YAMLValue.at(container, "resources", "requests", "cpu") != nil, "a CPU request")
    }

    @Test func everyMountHasItsVolumeAndEveryPathTheScanUsesItsMount() throws {
        let deployment = try Deployment.load()
        let volumes = (YAMLValue.list(deployment.pod["volumes"]) ?? []).compactMap { YAMLValue.map($0) }
        var byName: [String: [String: Any]] = [:]
        for volume in volumes { if let name = volume["name"] as? String { byName[name] = volume } }
        #expect(byName.count == volumes.count, "volume names are unique")
        let mounts = deployment.mounts
        try #require(!mounts.isEmpty)
        for m in mounts { #expect(byName[m.volume] != nil, "volumeMount \(m.volume) at \(m.path) has no volume") }
        #expect(Set(mounts.map(\.path)).count == mounts.count, "mount paths are unique")

        func mount(holding path: String) -> Deployment.Mount? {
            mounts.filter { path == $0.path || path.hasPrefix($0.path + "/") }.max { $0.path.count < $1.path.count }
        }
        func writable(_ path: String) -> Bool {
            guard let m = mount(holding: path), !m.readOnly else { return false }
            return byName[m.volume]?["emptyDir"] != nil
        }
        // The root filesystem is read-only: temporary files and the home need writable volumes.
        #expect(writable("/tmp"), "/tmp is an emptyDir")
        let home = try #require(deployment.environment["HOME"]?["value"] as? String, "HOME is set")
        #expect(writable(home), "HOME \(home) is on an emptyDir")
        // attest does not create the report's folder: it must be a mount of its own.
        let output = try #require(Arguments.value(of: "--output", in: deployment.arguments), "--output")
        let folder = Repository.slashless(URL(fileURLWithPath: output).deletingLastPathComponent().path)
        #expect(mount(holding: output)?.path == folder && writable(output), "the folder of --output \(output) is an emptyDir mount")

        // The signing key: a file of a Secret mounted read-only.
        let keyFile = try #require(
            deployment.environment["ATTEST_EVIDENCE_SIGNING_KEY_FILE"]?["value"] as? String, "ATTEST_EVIDENCE_SIGNING_KEY_FILE")
        let keyMount = try #require(mount(holding: keyFile), "no volume holds \(keyFile)")
        #expect(keyMount.readOnly, "the signing key's mount is read-only")
        let secret = try #require(YAMLValue.map(byName[keyMount.volume]?["secret"]), "\(keyFile) is on a Secret volume")
        #expect(secret["secretName"] is String)
        if let items = YAMLValue.list(secret["items"]) {
            let paths = items.compactMap { YAMLValue.map($0)?["path"] as? String }
            #expect(paths.contains(String(keyFile.dropFirst(keyMount.path.count + 1))), "\(keyFile) is one of the Secret's items")
        }
    }

    @Test func theConfigFileTheScanReadsIsAValidAttestConfig() throws {
        let deployment = try Deployment.load()
        let path = try #require(Arguments.value(of: "--config", in: deployment.arguments), "--config")
        let directory = Repository.slashless(URL(fileURLWithPath: path).deletingLastPathComponent().path)
        let mount = try #require(deployment.mounts.first { $0.path == directory }, "a mount at \(directory)")
        #expect(mount.readOnly)
        let volumes = (YAMLValue.list(deployment.pod["volumes"]) ?? []).compactMap { YAMLValue.map($0) }
        let volume = try #require(volumes.first { $0["name"] as? String == mount.volume })
        let name = try #require(YAMLValue.at(volume, "configMap", "name") as? String, "\(path) comes from a ConfigMap")
        let configMap = try #require(deployment.manifests.first { $0.kind == "ConfigMap" && $0.name == name }, "ConfigMap \(name)")
        let file = URL(fileURLWithPath: path).lastPathComponent
        let text = try #require(YAMLValue.at(configMap.object, "data", file) as? String, "ConfigMap \(name) has no \(file)")
        // Read with attest's own strict model: an unknown key would stop every scan with exit 2.
        let config = try AttestConfig(text: text, file: path, registry: try ProviderRegistry([AWSProvider()]))
        // The bucket's region, which the scan's home region need not be.
        #expect(config.evidence.region != nil)
        #expect((config.evidence.retentionDays ?? 0) > 0)
    }
}

// MARK: - Reading a Dockerfile

/// One instruction: its keyword, its `--flags`, the rest of its text with continuation lines joined.
private struct Instruction {
    var keyword: String
    var flags: [String: String]
    var arguments: String
    var line: Int

    /// The exec form (`["a", "b"]`), or nil for the shell form.
    var execForm: [String]? {
        guard arguments.hasPrefix("[") else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(arguments.utf8))) as? [String]
    }

    /// The exec form's elements, or the shell form split on white space.
    var words: [String] { execForm ?? arguments.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }

    /// Where a COPY puts each source: the destination, or inside it when it ends in `/`.
    var destinations: [String] {
        guard let destination = words.last else { return [] }
        guard destination.hasSuffix("/") else { return [destination] }
        return words.dropLast().map { destination + URL(fileURLWithPath: $0).lastPathComponent }
    }
}

private struct Stage {
    var base: String
    var name: String?
    var instructions: [Instruction] = []

    func last(_ keyword: String) -> Instruction? { instructions.last { $0.keyword == keyword } }
}

private struct Dockerfile {
    var stages: [Stage]

    static func load() throws -> Dockerfile {
        try Dockerfile(text: String(contentsOf: TestPaths.repository.appendingPathComponent("Dockerfile"), encoding: .utf8))
    }

    init(text: String) {
        stages = []
        for instruction in Self.instructions(text) {
            if instruction.keyword == "FROM" {
                let words = instruction.words
                let name = words.count >= 3 && words[1].uppercased() == "AS" ? words[2] : nil
                stages.append(Stage(base: words.first ?? "", name: name))
            } else if !stages.isEmpty {
                stages[stages.count - 1].instructions.append(instruction)
            }
        }
    }

    /// A stage by its `AS` name or its number, as `COPY --from=` names it.
    func stage(named name: String) -> Stage? {
        if let index = Int(name), stages.indices.contains(index) { return stages[index] }
        return stages.first { $0.name?.lowercased() == name.lowercased() }
    }

    /// Comment and blank lines are dropped, also between the lines of one instruction; a line
    /// ending in `\` continues on the next.
    static func instructions(_ text: String) -> [Instruction] {
        var result: [Instruction] = []
        var pending = ""
        var start = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if pending.isEmpty { start = index + 1 }
            if line.hasSuffix("\\") {
                pending += String(line.dropLast()) + " "
            } else {
                result.append(instruction(pending + line, line: start))
                pending = ""
            }
        }
        if !pending.isEmpty { result.append(instruction(pending, line: start)) }
        return result
    }

    static func instruction(_ text: String, line: Int) -> Instruction {
        let keyword = String(text.prefix { !$0.isWhitespace })
        var rest = text.dropFirst(keyword.count).trimmingCharacters(in: .whitespaces)
        var flags: [String: String] = [:]
        while rest.hasPrefix("--") {
            let flag = String(rest.prefix { !$0.isWhitespace })
            let body = flag.dropFirst(2)
            if let equals = body.firstIndex(of: "=") {
                flags[String(body[..<equals])] = String(body[body.index(after: equals)...])
            } else {
                flags[String(body)] = ""
            }
            rest = rest.dropFirst(flag.count).trimmingCharacters(in: .whitespaces)
        }
        return Instruction(keyword: keyword.uppercased(), flags: flags, arguments: rest, line: line)
    }
}

/// `.dockerignore`: patterns relative to the context's root, `**` for any folders, `!` to take
/// an exclusion back, the last matching line deciding. A pattern that matches a folder leaves out
/// everything in it.
private struct DockerIgnore {
    var patterns: [(pattern: [String], negated: Bool)]

    static func load() throws -> DockerIgnore {
        let url = TestPaths.repository.appendingPathComponent(".dockerignore")
        guard FileManager.default.fileExists(atPath: url.path) else { return DockerIgnore(patterns: []) }
        var patterns: [(pattern: [String], negated: Bool)] = []
        for raw in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let negated = line.hasPrefix("!")
            if negated { line.removeFirst() }
            let components = Repository.normalized(line).split(separator: "/").map(String.init)
            if !components.isEmpty { patterns.append((components, negated)) }
        }
        return DockerIgnore(patterns: patterns)
    }

    func excludes(_ path: String) -> Bool {
        let components = Repository.normalized(path).split(separator: "/").map(String.init)
        var excluded = false
        for (pattern, negated) in patterns {
            // The path itself or a folder above it.
            let hit = (1...max(components.count, 1)).contains { Glob.matchesPath(pattern[...], components.prefix($0)) }
            if hit { excluded = !negated }
        }
        return excluded
    }
}

private enum Glob {
    static func isPattern(_ text: String) -> Bool { text.contains("*") || text.contains("?") || text.contains("[") }

    /// Path components against pattern components; `**` stands for any number of components.
    static func matchesPath(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if head == "**" {
            return (0...path.count).contains { matchesPath(pattern.dropFirst(), path.dropFirst($0)) }
        }
        guard let first = path.first, matchesName(Array(head)[...], Array(first)[...]) else { return false }
        return matchesPath(pattern.dropFirst(), path.dropFirst())
    }

    /// One name against one pattern with `*` and `?`.
    static func matchesName(_ pattern: ArraySlice<Character>, _ name: ArraySlice<Character>) -> Bool {
        guard let head = pattern.first else { return name.isEmpty }
        if head == "*" { return (0...name.count).contains { matchesName(pattern.dropFirst(), name.dropFirst($0)) } }
        guard let first = name.first, head == "?" || head == first else { return false }
        return matchesName(pattern.dropFirst(), name.dropFirst())
    }
}

private enum Repository {
    /// `./Sources/` as `Sources`.
    static func normalized(_ path: String) -> String {
        var path = path
        while path.hasPrefix("./") { path.removeFirst(2) }
        while path.hasPrefix("/") { path.removeFirst() }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// `/tmp/attest/` as `/tmp/attest`.
    static func slashless(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// The files and folders a COPY source names, relative to the repository; a pattern in the
    /// last component is expanded.
    static func files(matching source: String) -> [String] {
        let path = normalized(source)
        let root = TestPaths.repository
        guard Glob.isPattern(path) else {
            return FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path) ? [path] : []
        }
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? ""
        let pattern = Array(slash.map { path[path.index(after: $0)...] } ?? path[...])
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path)) ?? []
        return entries.filter { Glob.matchesName(pattern[...], Array($0)[...]) }.sorted().map { folder.isEmpty ? $0 : folder + "/" + $0 }
    }
}

// MARK: - Reading the manifests

/// Yams gives mappings as `[AnyHashable: Any]`, sequences as `[Any]`.
private enum YAMLValue {
    static func map(_ value: Any?) -> [String: Any]? {
        if let map = value as? [String: Any] { return map }
        guard let map = value as? [AnyHashable: Any] else { return nil }
        var result: [String: Any] = [:]
        for (key, element) in map {
            guard let key = key.base as? String else { return nil }
            result[key] = element
        }
        return result
    }

    static func list(_ value: Any?) -> [Any]? { value as? [Any] }

    static func strings(_ value: Any?) -> [String] { (list(value) ?? []).compactMap { $0 as? String } }

    static func at(_ root: Any?, _ path: String...) -> Any? {
        var current = root
        for key in path { current = map(current)?[key] }
        return current
    }
}

private struct Manifest {
    var file: String
    var object: [String: Any]

    var kind: String? { object["kind"] as? String }
    var name: String? { YAMLValue.at(object, "metadata", "name") as? String }
}

/// Every document of `deploy/kubernetes/*.yaml`, and the scan's CronJob taken apart.
private struct Deployment {
    struct Mount {
        var volume: String
        var path: String
        var readOnly: Bool
    }

    var manifests: [Manifest]
    var cronJob: Manifest
    /// The CronJob's job template's spec.
    var job: [String: Any]
    var pod: [String: Any]
    var container: [String: Any]

    static func load() throws -> Deployment {
        let directory = TestPaths.repository.appendingPathComponent("deploy/kubernetes")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        try #require(!files.isEmpty, "no manifests in \(directory.path)")
        var manifests: [Manifest] = []
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            var documents = try Yams.load_all(yaml: text)
            var count = 0
            while let document = documents.next() {
                // An empty document (a stray `---`) holds nothing.
                guard let object = YAMLValue.map(document) else { continue }
                manifests.append(Manifest(file: file, object: object))
                count += 1
            }
            if let error = documents.error { throw error }
            #expect(count > 0, "\(file) holds no manifest")
            #expect(manifests.suffix(count).allSatisfy { $0.kind != nil }, "\(file): every document names its kind")
        }
        let cronJobs = manifests.filter { $0.kind == "CronJob" }
        try #require(cronJobs.count == 1, "one CronJob")
        let cronJob = try #require(cronJobs.first)
        let job = try #require(YAMLValue.map(YAMLValue.at(cronJob.object, "spec", "jobTemplate", "spec")), "spec.jobTemplate.spec")
        let pod = try #require(YAMLValue.map(YAMLValue.at(job, "template", "spec")), "the job template's pod spec")
        let containers = (YAMLValue.list(pod["containers"]) ?? []).compactMap { YAMLValue.map($0) }
        try #require(containers.count == 1, "one container, attest")
        let container = try #require(containers.first)
        return Deployment(manifests: manifests, cronJob: cronJob, job: job, pod: pod, container: container)
    }

    var arguments: [String] { YAMLValue.strings(container["args"]) }

    /// The container's `env`, by name.
    var environment: [String: [String: Any]] {
        var result: [String: [String: Any]] = [:]
        for entry in (YAMLValue.list(container["env"]) ?? []).compactMap({ YAMLValue.map($0) }) {
            if let name = entry["name"] as? String { result[name] = entry }
        }
        return result
    }

    var mounts: [Mount] {
        (YAMLValue.list(container["volumeMounts"]) ?? []).compactMap { YAMLValue.map($0) }.compactMap { m -> Mount? in
            guard let volume = m["name"] as? String, let path = m["mountPath"] as? String else { return nil }
            return Mount(volume: volume, path: Repository.slashless(path), readOnly: m["readOnly"] as? Bool ?? false)
        }
    }
}

private enum Arguments {
    /// The value after `flag`, or of `flag=value`.
    static func value(of flag: String, in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == flag { return index + 1 < arguments.count ? arguments[index + 1] : nil }
            if argument.hasPrefix(flag + "=") { return String(argument.dropFirst(flag.count + 1)) }
        }
        return nil
    }
}

/// The Job controller's reading of a podFailurePolicy for a container's exit code: the first rule
/// that matches decides; nil is the default handling (counted against the backoff limit).
private enum PodFailurePolicy {
    static func action(forExitCode code: Int, container: String, rules: [[String: Any]]) -> String? {
        for rule in rules {
            guard let exit = YAMLValue.map(rule["onExitCodes"]) else { continue }
            if let name = exit["containerName"] as? String, name != container { continue }
            let values = (YAMLValue.list(exit["values"]) ?? []).compactMap { $0 as? Int }
            let matches: Bool
            switch exit["operator"] as? String ?? "" {
            case "In": matches = values.contains(code)
            case "NotIn": matches = !values.contains(code)
            default: matches = false
            }
            if matches { return rule["action"] as? String }
        }
        return nil
    }
}
