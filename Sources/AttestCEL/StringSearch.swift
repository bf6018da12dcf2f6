/// Substring search in linear time (Knuth–Morris–Pratt), for `contains`, `indexOf`, `lastIndexOf`, `replace` and
/// `split`: a naive scan is O(n·m) on inputs such as `'aaaa…a'.contains('aa…ab')`.
struct SubstringSearcher<Element: Equatable> {
    let needle: [Element]
    /// failure[i]: the length of the longest proper prefix of needle[0...i] that is also its suffix.
    private let failure: [Int]

    init(_ needle: [Element]) {
        self.needle = needle
        var failure = Array(repeating: 0, count: needle.count)
        var k = 0
        var i = 1
        while i < needle.count {
            while k > 0 && needle[i] != needle[k] { k = failure[k - 1] }
            if needle[i] == needle[k] { k += 1 }
            failure[i] = k
            i += 1
        }
        self.failure = failure
    }

    /// The first index at or after `start` where the needle occurs in `haystack`; nil if none. An empty needle occurs at `start`.
    func firstIndex(in haystack: [Element], from start: Int = 0) -> Int? {
        let m = needle.count
        guard m > 0 else { return start <= haystack.count ? start : nil }
        guard haystack.count - start >= m else { return nil }
        var k = 0
        var i = start
        while i < haystack.count {
            while k > 0 && haystack[i] != needle[k] { k = failure[k - 1] }
            if haystack[i] == needle[k] { k += 1 }
            if k == m { return i - m + 1 }
            i += 1
        }
        return nil
    }

    /// The start of every non-overlapping occurrence, left to right, at most `limit` of them (nil: all). Needle not empty.
    func allIndexes(in haystack: [Element], limit: Int? = nil) -> [Int] {
        var out: [Int] = []
        var from = 0
        while limit.map({ out.count < $0 }) ?? true, let i = firstIndex(in: haystack, from: from) {
            out.append(i)
            from = i + needle.count
        }
        return out
    }
}
