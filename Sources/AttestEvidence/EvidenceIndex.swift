public import Foundation

/// A manifest as read from the store, with the digest of its bytes (what the next one links to).
public struct StoredManifest: Sendable {
    public var key: String
    public var sequence: Int
    public var digest: String
    /// Nil when the file could not be parsed; `problem` says why.
    public var manifest: ScanManifest?
    public var problem: String?
}

/// Reading the structure of a store: manifests, record files, in-progress markers.
public enum EvidenceIndex {
    /// Manifest keys by sequence number.
    public static func manifestKeys(in store: any EvidenceStore) async throws -> [(sequence: Int, key: String)] {
        try await store.list(prefix: EvidenceLayout.scansPrefix)
            .compactMap { key in EvidenceLayout.parseManifestKey(key).map { ($0, key) } }
            .sorted { $0.sequence < $1.sequence }
    }

    /// The last link of the manifest chain: its sequence number and digest.
    public static func latestManifest(in store: any EvidenceStore) async throws -> (sequence: Int, digest: String)? {
        guard let last = try await manifestKeys(in: store).last else { return nil }
        guard let data = try await store.read(last.key) else { return nil }
        return (last.sequence, Digest.sha256(data))
    }

    public static func load(_ keys: [(sequence: Int, key: String)], from store: any EvidenceStore) async throws -> [StoredManifest] {
        try await concurrentMap(keys, width: 16) { entry -> StoredManifest? in
            guard let data = try await store.read(entry.key) else { return nil }
            let digest = Digest.sha256(data)
            do {
                return StoredManifest(
                    key: entry.key, sequence: entry.sequence, digest: digest,
                    manifest: try ScanManifest(data: data, key: entry.key), problem: nil)
            } catch {
                return StoredManifest(key: entry.key, sequence: entry.sequence, digest: digest, manifest: nil, problem: "\(error)")
            }
        }.compactMap { $0 }
    }

    /// Every readable manifest whose scan started in `[from, to)`, in chain order.
    public static func manifests(in store: any EvidenceStore, from: Date?, to: Date?) async throws -> [ScanManifest] {
        try await load(manifestKeys(in: store), from: store).compactMap(\.manifest).filter { m in
            (from.map { m.startDate >= $0 } ?? true) && (to.map { m.startDate < $0 } ?? true)
        }
    }
}

/// Runs `body` over `items` with at most `width` at once, results in input order.
func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], width: Int, _ body: @escaping @Sendable (T) async throws -> R) async throws
    -> [R]
{
    try await withThrowingTaskGroup(of: (Int, R).self) { group in
        var next = 0
        func add() {
            guard next < items.count else { return }
            let i = next
            let item = items[i]
            next += 1
            group.addTask { (i, try await body(item)) }
        }
        for _ in 0..<max(1, width) { add() }
        var out = [R?](repeating: nil, count: items.count)
        while let (i, r) = try await group.next() {
            out[i] = r
            add()
        }
        return out.map { $0! }
    }
}

/// Digests that identify what a scan ran with.
public enum EvidenceDigest {
    /// SHA-256 over the named files' contents, in the order given, each preceded by its name.
    public static func files(_ files: [(name: String, path: String)]) -> String {
        var all = Data()
        for f in files {
            all.append(Data(f.name.utf8))
            all.append(0)
            all.append(Data(Digest.sha256((try? Data(contentsOf: URL(fileURLWithPath: f.path))) ?? Data()).utf8))
            all.append(0x0A)
        }
        return Digest.sha256(all)
    }

    public static func bytes(_ data: Data) -> String { Digest.sha256(data) }
}
