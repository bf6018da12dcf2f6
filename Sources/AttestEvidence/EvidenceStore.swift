public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where evidence lives: a local directory or an S3 prefix. Keys are relative paths with `/`
/// separators (`framework=soc2/requirement=cc6.1/year=2026/month=11/day=21/<scan>.jsonl`).
///
/// Every write is all or nothing: a reader sees either the whole object or none of it.
public protocol EvidenceStore: Sendable {
    /// Where the store is, for messages (`/var/evidence`, `s3://bucket/prefix`).
    var location: String { get }

    /// Writes `data` at `key`. With `ifAbsent`, returns false (and writes nothing) when the key
    /// already exists, so two writers never replace each other's object.
    @discardableResult
    func write(_ data: Data, to key: String, ifAbsent: Bool, retain: Bool) async throws -> Bool

    /// The object's bytes, or nil when there is none.
    func read(_ key: String) async throws -> Data?

    /// Every key under `prefix` (which ends in `/` or is empty), sorted.
    func list(prefix: String) async throws -> [String]

    /// Removes an object that is not evidence (the in-progress marker of a scan).
    func remove(_ key: String) async throws

    /// A writer for a large object built piece by piece; nothing is visible until `commit`.
    func objectWriter(for key: String) throws -> any EvidenceObjectWriter
}

/// An object being written. `append` may be called many times; `commit` makes the object
/// appear whole (or returns false when `ifAbsent` and the key exists); `abort` drops it.
public protocol EvidenceObjectWriter: AnyObject {
    func append(_ data: Data) throws
    func commit(ifAbsent: Bool, retain: Bool) async throws -> Bool
    func abort()
}

/// Collects the object in memory and writes it in one call: for stores without appends.
public final class BufferedObjectWriter: EvidenceObjectWriter {
    let store: any EvidenceStore
    let key: String
    var buffer = Data()

    public init(store: any EvidenceStore, key: String) {
        self.store = store
        self.key = key
    }

    public func append(_ data: Data) throws { buffer.append(data) }

    public func commit(ifAbsent: Bool, retain: Bool) async throws -> Bool {
        defer { buffer = Data() }
        return try await store.write(buffer, to: key, ifAbsent: ifAbsent, retain: retain)
    }

    public func abort() { buffer = Data() }
}

/// A failure reading or writing the store, with the location and key it concerns.
public struct EvidenceStoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Evidence in a local directory. Objects are written to a temporary file in the same
/// directory, flushed to disk, then renamed (or hard-linked, for write-if-absent) into place,
/// and the directory is flushed too, so a crash leaves either the old state or the new one.
public struct LocalEvidenceStore: EvidenceStore {
    public let root: URL

    public init(root: URL) {
        self.root = root.standardizedFileURL
    }

    public var location: String { root.path }

    public func write(_ data: Data, to key: String, ifAbsent: Bool, retain: Bool) async throws -> Bool {
        let writer = try LocalObjectWriter(root: root, key: key)
        do {
            try writer.append(data)
            return try await writer.commit(ifAbsent: ifAbsent, retain: retain)
        } catch {
            writer.abort()
            throw error
        }
    }

    public func read(_ key: String) async throws -> Data? {
        let parts = try EvidenceLayout.components(of: key)
        guard let directory = try SafeDirectory.open(root, parts.dropLast(), create: false) else { return nil }
        defer { close(directory) }
        let fd = openat(directory, parts.last!, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { return nil }
            if code == ELOOP { throw EvidenceStoreError("\(root.path)/\(key) is a symbolic link; attest reads no file through a link") }
            throw EvidenceStoreError("cannot read \(root.path)/\(key): \(String(cString: strerror(code)))")
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw EvidenceStoreError("\(root.path)/\(key) is not a regular file")
        }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw EvidenceStoreError("cannot read \(root.path)/\(key): \(error.localizedDescription)")
        }
    }

    public func list(prefix: String) async throws -> [String] {
        let base = prefix.isEmpty ? root : root.appendingPathComponent(prefix)
        guard let enumerator = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey]) else {
            return []
        }
        let rootPath = root.path.hasSuffix("/") ? root.path : root.path + "/"
        var keys: [String] = []
        for case let url as URL in enumerator {
            // Regular files, and links, which are listed so that reading them is refused (and
            // verification names them) rather than them looking absent.
            let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey])
            guard values?.isSymbolicLink == true || values?.isRegularFile == true else { continue }
            if url.lastPathComponent.hasPrefix(".tmp-") { continue }
            let path = url.standardizedFileURL.path
            guard path.hasPrefix(rootPath) else { continue }
            keys.append(String(path.dropFirst(rootPath.count)))
        }
        return keys.sorted()
    }

    public func remove(_ key: String) async throws {
        _ = try EvidenceLayout.components(of: key)
        let url = root.appendingPathComponent(key)
        if unlink(url.path) != 0 && errno != ENOENT {
            throw EvidenceStoreError("cannot remove \(url.path): \(String(cString: strerror(errno)))")
        }
        // Folders the key leaves empty go too (not the store's own folder): rmdir refuses any
        // folder that still holds something.
        var parent = url.deletingLastPathComponent().standardizedFileURL
        let top = root.standardizedFileURL.path
        while parent.path.hasPrefix(top + "/"), rmdir(parent.path) == 0 { parent.deleteLastPathComponent() }
    }

    public func objectWriter(for key: String) throws -> any EvidenceObjectWriter {
        try LocalObjectWriter(root: root, key: key)
    }

    static func syncDirectory(_ directory: URL) {
        let fd = open(directory.path, O_RDONLY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}

/// Appends to a temporary file beside the target; `commit` flushes it and moves it into place.
final class LocalObjectWriter: EvidenceObjectWriter {
    let target: URL
    let temporary: URL
    var handle: FileHandle?

    init(root: URL, key: String) throws {
        let parts = try EvidenceLayout.components(of: key)
        target = root.appendingPathComponent(key)
        let directory = target.deletingLastPathComponent()
        // Created (or walked) without following links, so a link planted in the store cannot
        // send evidence outside it.
        guard let fd = try SafeDirectory.open(root, parts.dropLast(), create: true) else {
            throw EvidenceStoreError("cannot create \(directory.path)")
        }
        close(fd)
        temporary = directory.appendingPathComponent(".tmp-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
            let handle = try? FileHandle(forWritingTo: temporary)
        else {
            throw EvidenceStoreError("cannot create a file in \(directory.path)")
        }
        self.handle = handle
    }

    func append(_ data: Data) throws {
        do { try handle?.write(contentsOf: data) } catch {
            throw EvidenceStoreError("cannot write \(target.path): \(error.localizedDescription)")
        }
    }

    func commit(ifAbsent: Bool, retain: Bool) async throws -> Bool {
        guard let handle else { throw EvidenceStoreError("\(target.path): already committed") }
        self.handle = nil
        defer { unlink(temporary.path) }
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw EvidenceStoreError("cannot write \(target.path): \(error.localizedDescription)")
        }
        if ifAbsent {
            if link(temporary.path, target.path) != 0 {
                let code = errno
                if code == EEXIST { return false }
                throw EvidenceStoreError("cannot write \(target.path): \(String(cString: strerror(code)))")
            }
        } else if rename(temporary.path, target.path) != 0 {
            throw EvidenceStoreError("cannot write \(target.path): \(String(cString: strerror(errno)))")
        }
        LocalEvidenceStore.syncDirectory(target.deletingLastPathComponent())
        return true
    }

    func abort() {
        try? handle?.close()
        handle = nil
        unlink(temporary.path)
    }

    deinit { if handle != nil { abort() } }
}

/// Opens directories inside a store's root one component at a time without following symbolic
/// links (`O_NOFOLLOW`), so no key can reach outside the root, whatever links are planted in it.
enum SafeDirectory {
    /// The descriptor of `root/components…` (close it), or nil when a component does not exist
    /// and `create` is false.
    static func open(_ root: URL, _ components: ArraySlice<String>, create: Bool) throws -> Int32? {
        if create { try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true) }
        var fd = Glibc.open(root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT && !create { return nil }
            throw EvidenceStoreError("cannot open \(root.path): \(String(cString: strerror(errno)))")
        }
        var path = root.path
        for component in components {
            path += "/" + component
            if create, mkdirat(fd, component, 0o755) != 0, errno != EEXIST {
                let code = errno
                close(fd)
                throw EvidenceStoreError("cannot create \(path): \(String(cString: strerror(code)))")
            }
            let next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let code = errno
            close(fd)
            guard next >= 0 else {
                if code == ENOENT && !create { return nil }
                if code == ELOOP || code == ENOTDIR {
                    throw EvidenceStoreError("\(path) is a symbolic link or not a directory; attest does not follow links in a store")
                }
                throw EvidenceStoreError("cannot open \(path): \(String(cString: strerror(code)))")
            }
            fd = next
        }
        return fd
    }
}
