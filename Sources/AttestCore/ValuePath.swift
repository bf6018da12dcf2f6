/// A path into a ``JSONValue``: dot-separated keys, where a key followed by `[]` fans out over a list
/// and a key followed by `[n]` takes the list's element n (a Terraform block: `versioning[0].enabled`).
///
/// `Reservations[].Instances[].InstanceId` yields every instance id of every reservation. A key
/// `*` fans out over an object's values, in key order: `items.*.instances[]` yields the instances
/// of every zone of a Compute aggregated list.
/// A path with no `[]` yields at most one value. Since XML has no arrays, `[]` also accepts a
/// lone value (one element) and `null` (none).
public struct ValuePath: Sendable, Hashable, CustomStringConvertible {
    public struct Segment: Sendable, Hashable {
        public var key: String
        public var fanOut: Bool
        /// `key[n]`: element n of the list at key.
        public var index: Int? = nil
    }

    public let segments: [Segment]
    public let description: String

    public init(_ text: String) {
        description = text
        if text.isEmpty || text == "." {
            segments = []
            return
        }
        segments = text.split(separator: ".", omittingEmptySubsequences: true).map { part in
            if part.hasSuffix("[]") {
                return Segment(key: String(part.dropLast(2)), fanOut: true)
            }
            if part.hasSuffix("]"), let open = part.lastIndex(of: "["),
                let n = Int(part[part.index(after: open)..<part.index(before: part.endIndex)]), n >= 0
            {
                return Segment(key: String(part[..<open]), fanOut: false, index: n)
            }
            return Segment(key: String(part), fanOut: false)
        }
    }

    /// True when evaluation can yield more than one value.
    public var isMulti: Bool { segments.contains { $0.fanOut || $0.key == "*" } }

    /// Every value the path reaches; missing keys reach nothing.
    public func values(in root: JSONValue) -> [JSONValue] {
        var current: [JSONValue] = [root]
        for segment in segments {
            var next: [JSONValue] = []
            next.reserveCapacity(current.count)
            for value in current {
                if segment.key == "*", segment.index == nil {
                    let children = (value.objectValue ?? [:]).sorted { $0.key < $1.key }.map(\.value)
                    for child in children {
                        if segment.fanOut { next.append(contentsOf: child.asList) } else if !child.isNull { next.append(child) }
                    }
                    continue
                }
                var child = segment.key.isEmpty ? value : value[segment.key]
                if let index = segment.index {
                    let list = child.asList
                    child = index < list.count ? list[index] : .null
                }
                if segment.fanOut {
                    next.append(contentsOf: child.asList)
                } else if !child.isNull {
                    next.append(child)
                }
            }
            current = next
        }
        return current
    }

    /// The single value the path reaches, or `.null`.
    public func value(in root: JSONValue) -> JSONValue {
        if isMulti { return .array(values(in: root)) }
        return values(in: root).first ?? .null
    }
}
