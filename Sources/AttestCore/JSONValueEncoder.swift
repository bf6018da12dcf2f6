/// Encodes any `Encodable` into a ``JSONValue``, so typed models (the scan report) are written by
/// the one serialiser every attest output uses: keys sorted at every depth, integers as integers,
/// the same bytes for the same data. Optionals that are nil are left out, as `encodeIfPresent` says.
public struct JSONValueEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if let json = value as? JSONValue { return json }
        let slot = EncodingSlot()
        try value.encode(to: SlotEncoder(slot: slot, codingPath: []))
        return slot.resolved()
    }
}

/// Where one encoded value goes; filled by exactly one container.
private final class EncodingSlot {
    enum Content {
        case empty
        case value(JSONValue)
        case object(EncodingObject)
        case array(EncodingArray)
    }

    var content: Content = .empty

    func resolved() -> JSONValue {
        switch content {
        case .empty: .null
        case .value(let v): v
        case .object(let o): .object(o.entries.mapValues { $0.resolved() })
        case .array(let a): .array(a.items.map { $0.resolved() })
        }
    }

    func object() -> EncodingObject {
        if case .object(let o) = content { return o }
        let o = EncodingObject()
        content = .object(o)
        return o
    }

    func array() -> EncodingArray {
        if case .array(let a) = content { return a }
        let a = EncodingArray()
        content = .array(a)
        return a
    }
}

private final class EncodingObject {
    var entries: [String: EncodingSlot] = [:]
}

private final class EncodingArray {
    var items: [EncodingSlot] = []
}

private struct SlotEncoder: Encoder {
    let slot: EncodingSlot
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedSlotContainer<Key>(object: slot.object(), codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedSlotContainer(array: slot.array(), codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleSlotContainer(slot: slot, codingPath: codingPath)
    }
}

/// Encodes `value` into `slot`: JSON values and scalars directly, anything else through its own `encode(to:)`.
private func encodeValue<T: Encodable>(_ value: T, into slot: EncodingSlot, codingPath: [any CodingKey]) throws {
    switch value {
    case let v as JSONValue: slot.content = .value(v)
    case let v as String: slot.content = .value(.string(v))
    case let v as Bool: slot.content = .value(.bool(v))
    case let v as Int: slot.content = .value(.int(Int64(v)))
    case let v as Int64: slot.content = .value(.int(v))
    case let v as Double: slot.content = .value(.double(v))
    default: try value.encode(to: SlotEncoder(slot: slot, codingPath: codingPath))
    }
}

private struct KeyedSlotContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: EncodingObject
    var codingPath: [any CodingKey]

    private func slot(_ key: Key) -> EncodingSlot {
        let s = EncodingSlot()
        object.entries[key.stringValue] = s
        return s
    }

    mutating func encodeNil(forKey key: Key) throws { slot(key).content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encodeValue(value, into: slot(key), codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<
        NestedKey
    > {
        KeyedEncodingContainer(KeyedSlotContainer<NestedKey>(object: slot(key).object(), codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        UnkeyedSlotContainer(array: slot(key).array(), codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { SlotEncoder(slot: slot(Key(stringValue: "super")!), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { SlotEncoder(slot: slot(key), codingPath: codingPath + [key]) }
}

private struct UnkeyedSlotContainer: UnkeyedEncodingContainer {
    let array: EncodingArray
    var codingPath: [any CodingKey]
    var count: Int { array.items.count }

    private func next() -> EncodingSlot {
        let s = EncodingSlot()
        array.items.append(s)
        return s
    }

    mutating func encodeNil() throws { next().content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { try encodeValue(value, into: next(), codingPath: codingPath) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(KeyedSlotContainer<NestedKey>(object: next().object(), codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedSlotContainer(array: next().array(), codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder { SlotEncoder(slot: next(), codingPath: codingPath) }
}

private struct SingleSlotContainer: SingleValueEncodingContainer {
    let slot: EncodingSlot
    var codingPath: [any CodingKey]

    mutating func encodeNil() throws { slot.content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { try encodeValue(value, into: slot, codingPath: codingPath) }
}
