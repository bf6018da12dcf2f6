/// Text made safe to print on a terminal: control characters (ESC and every other C0 and C1
/// control, DEL) become visible escapes, so no value from a cloud API, a file or a flag can move
/// the cursor, change colours or rewrite what was printed. Tabs and, unless `singleLine`,
/// newlines are kept.
public enum TerminalText {
    public static func safe(_ text: String, singleLine: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0, singleLine: singleLine) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isControl(scalar, singleLine: singleLine) {
                let hex = String(scalar.value, radix: 16)
                out.append(contentsOf: "\\u{\(hex)}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    static func isControl(_ s: Unicode.Scalar, singleLine: Bool) -> Bool {
        switch s.value {
        case 0x09: return false
        case 0x0A: return singleLine
        case 0x00...0x1F, 0x7F...0x9F: return true
        default: return false
        }
    }
}
