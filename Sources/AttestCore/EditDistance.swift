/// Edit distance between short names, for "did you mean" suggestions.
public enum EditDistance {
    /// The Levenshtein distance over UTF-8 bytes: insertions, deletions and substitutions.
    public static func between(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// The candidate nearest to `name`, when it is within `limit` edits.
    public static func nearest(to name: String, in candidates: some Sequence<String>, limit: Int = 3) -> String? {
        var best: (String, Int)?
        for c in candidates {
            let d = between(name, c)
            if d <= limit, best.map({ d < $0.1 || (d == $0.1 && c < $0.0) }) ?? true { best = (c, d) }
        }
        return best?.0
    }
}
