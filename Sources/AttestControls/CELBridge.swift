public import AttestCEL
public import AttestInventory
public import Foundation

extension CELValue {
    /// A JSON value as CEL sees it: objects become maps with string keys, numbers keep their kind.
    public init(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .list(a.map(CELValue.init(json:)))
        case .object(let o): self = .map(CELMap(o.mapValues(CELValue.init(json:))))
        }
    }

    /// A resource as rules see it: `id`, `type`, `account`, `region`, `name`, `tags`, `attributes`.
    /// With `only`, just those attributes are converted (the ones the rules evaluated over it read).
    public init(resource: Resource, only: Set<String>? = nil) {
        let attributes: [String: CELValue]
        if let only {
            var some: [String: CELValue] = [:]
            for name in only { if let v = resource.attributes[name] { some[name] = CELValue(json: v) } }
            attributes = some
        } else {
            attributes = resource.attributes.mapValues(CELValue.init(json:))
        }
        var attributeMap = CELMap(attributes)
        for path in resource.unknownAttributes ?? [] {
            let components = path.split(separator: ".").map(String.init)
            guard let first = components.first, only?.contains(first) ?? true else { continue }
            Self.markUnknown(&attributeMap, components[...], path: "attributes." + path)
        }
        self = .map(
            CELMap([
                "id": .string(resource.id),
                "type": .string(resource.type),
                "account": .string(resource.account),
                "region": .string(resource.region),
                "name": .string(resource.name),
                "tags": .map(CELMap(resource.tags.mapValues { CELValue.string($0) })),
                "attributes": .map(attributeMap),
            ]))
    }

    /// Marks the key at `components` unknown, descending through maps; where the path leaves
    /// the maps (a list, or a value that is itself not known), the key reached is marked.
    static func markUnknown(_ map: inout CELMap, _ components: ArraySlice<String>, path: String) {
        guard let key = components.first else { return }
        if components.count > 1, case .map(var inner)? = map[string: key] {
            markUnknown(&inner, components.dropFirst(), path: path)
            var entries = map.entries
            if let i = entries.firstIndex(where: { $0.key == .string(key) }) { entries[i].value = .map(inner) }
            let unknown = map.unknownKeys
            map = CELMap(entries)
            map.unknownKeys = unknown
            return
        }
        map.unknownKeys = (map.unknownKeys ?? [:]).merging([key: path]) { old, _ in old }
    }

    /// The value as JSON, for reports and `attest controls eval`: timestamps as RFC 3339 text,
    /// durations as seconds with an `s`, bytes as base64, map keys as text.
    public var json: JSONValue {
        switch self {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return u <= UInt64(Int64.max) ? .int(Int64(u)) : .string(String(u))
        case .double(let d): return d.isFinite ? .double(d) : .string(String(d))
        case .string(let s): return .string(s)
        case .bytes(let b): return .string(Data(b).base64EncodedString())
        case .list(let l): return .array(l.map(\.json))
        case .map(let m):
            var o: [String: JSONValue] = [:]
            for (k, v) in m.entries { o[k.keyText] = v.json }
            return .object(o)
        case .timestamp(let t): return .string(t.rfc3339String)
        case .duration(let d): return .string(d.secondsString)
        case .optional(let v): return v?.json ?? .null
        default: return .string(String(describing: self))
        }
    }

    var keyText: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .uint(let u): return String(u)
        case .bool(let b): return b ? "true" : "false"
        default: return String(describing: self)
        }
    }

    /// The `id` of a resource map, for graph functions called on it.
    public var resourceID: String? {
        guard case .map(let m) = self, case .string(let id)? = m[.string("id")] else { return nil }
        return id
    }
}

extension CELTimestamp {
    /// The instant of a `Date`, to the nanosecond.
    public init(date: Date) {
        let t = date.timeIntervalSince1970
        let whole = t.rounded(.down)
        self.init(seconds: Int64(whole), nanos: Int32(((t - whole) * 1e9).rounded()))
    }
}
