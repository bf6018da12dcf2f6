/// A position in expression source: 1-based line and column (in Unicode scalars).
struct SourcePosition: Sendable, Hashable {
    var line: Int
    var column: Int
    static let unknown = SourcePosition(line: 1, column: 1)
}

enum TokenKind: Equatable, Sendable {
    case int(String)  // decimal or 0x hex digits, without sign or suffix
    case uint(String)
    case double(String)
    case string(String)
    case bytes([UInt8])
    case ident(String)
    case quotedIdent(String)  // `content-type`
    case punct(String)  // operators and punctuation
    case eof
}

struct Token: Sendable {
    var kind: TokenKind
    var position: SourcePosition
}

/// Splits CEL source into tokens, each with its position.
struct Lexer {
    let scalars: [Unicode.Scalar]
    var index = 0
    var line = 1
    var lineStart = 0

    init(_ source: String) {
        scalars = Array(source.unicodeScalars)
    }

    static let reservedWords: Set<String> = [
        "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
        "package", "namespace", "return", "var", "void", "while",
    ]

    func position(_ i: Int) -> SourcePosition { SourcePosition(line: line, column: i - lineStart + 1) }

    func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let i = index + offset
        return i < scalars.count ? scalars[i] : nil
    }

    mutating func advance() {
        if scalars[index] == "\n" {
            line += 1
            lineStart = index + 1
        }
        index += 1
    }

    func error(_ message: String, at pos: SourcePosition) -> CELSourceError {
        CELSourceError(message: message, line: pos.line, column: pos.column)
    }

    static func isIdentStart(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }
    static func isIdentPart(_ c: Unicode.Scalar) -> Bool { isIdentStart(c) || isDigit(c) }
    static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
    static func isHex(_ c: Unicode.Scalar) -> Bool { isDigit(c) || (c >= "a" && c <= "f") || (c >= "A" && c <= "F") }

    mutating func skipTrivia() {
        while let c = peek() {
            if c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}" {
                advance()
            } else if c == "/" && peek(1) == "/" {
                while let d = peek(), d != "\n" { advance() }
            } else {
                break
            }
        }
    }

    mutating func tokenize() throws(CELSourceError) -> [Token] {
        var tokens: [Token] = []
        while true {
            skipTrivia()
            let start = index
            let pos = position(start)
            guard let c = peek() else {
                tokens.append(Token(kind: .eof, position: pos))
                return tokens
            }
            // String and bytes literals with prefixes.
            if c == "\"" || c == "'" {
                tokens.append(Token(kind: try lexString(raw: false, bytes: false, pos: pos), position: pos))
                continue
            }
            if Lexer.isIdentStart(c) {
                // Prefixes: r, b, br, rb (any case), directly followed by a quote.
                var prefixLen = 0
                var raw = false
                var isBytes = false
                func lower(_ k: Int) -> String { peek(k).map { String(Character($0)).lowercased() } ?? "" }
                func isQuote(_ k: Int) -> Bool { peek(k) == "\"" || peek(k) == "'" }
                let two = lower(0) + lower(1)
                if (two == "br" || two == "rb") && isQuote(2) {
                    prefixLen = 2
                    raw = true
                    isBytes = true
                } else if (lower(0) == "r" || lower(0) == "b") && isQuote(1) {
                    prefixLen = 1
                    raw = lower(0) == "r"
                    isBytes = lower(0) == "b"
                }
                if prefixLen > 0 {
                    for _ in 0..<prefixLen { advance() }
                    tokens.append(Token(kind: try lexString(raw: raw, bytes: isBytes, pos: pos), position: pos))
                    continue
                }
                while let d = peek(), Lexer.isIdentPart(d) { advance() }
                let text = String(String.UnicodeScalarView(scalars[start..<index]))
                tokens.append(Token(kind: .ident(text), position: pos))
                continue
            }
            if c == "`" {
                advance()
                let s = index
                while let d = peek(), d != "`", d != "\n" { advance() }
                guard peek() == "`" else { throw error("unterminated quoted identifier", at: pos) }
                let text = String(String.UnicodeScalarView(scalars[s..<index]))
                advance()
                guard !text.isEmpty else { throw error("empty quoted identifier", at: pos) }
                for ch in text.unicodeScalars
                where !(Lexer.isIdentPart(ch) || ch == "." || ch == "-" || ch == "/" || ch == "~" || ch == " " || ch == "%") {
                    throw error("invalid character in quoted identifier", at: pos)
                }
                tokens.append(Token(kind: .quotedIdent(text), position: pos))
                continue
            }
            if Lexer.isDigit(c) || (c == "." && peek(1).map(Lexer.isDigit) == true) {
                tokens.append(Token(kind: try lexNumber(pos: pos), position: pos))
                continue
            }
            // Punctuation.
            let two: String = {
                guard let d = peek(1) else { return "" }
                return String(Character(c)) + String(Character(d))
            }()
            if ["==", "!=", "<=", ">=", "&&", "||", ".?"].contains(two) {
                advance()
                advance()
                tokens.append(Token(kind: .punct(two), position: pos))
                continue
            }
            let one = String(Character(c))
            if ["+", "-", "*", "/", "%", "!", "<", ">", "?", ":", ".", ",", "(", ")", "[", "]", "{", "}"].contains(one) {
                advance()
                tokens.append(Token(kind: .punct(one), position: pos))
                continue
            }
            if c == "=" { throw error("unexpected '=' (use '==' to compare)", at: pos) }
            if c == "&" || c == "|" { throw error("unexpected '\(one)' (use '\(one)\(one)')", at: pos) }
            throw error("unexpected character '\(one)'", at: pos)
        }
    }

    mutating func lexNumber(pos: SourcePosition) throws(CELSourceError) -> TokenKind {
        let start = index
        if peek() == "0", let x = peek(1), x == "x" || x == "X" {
            advance()
            advance()
            let s = index
            while let d = peek(), Lexer.isHex(d) { advance() }
            guard index > s else { throw error("malformed hexadecimal literal", at: pos) }
            let digits = String(String.UnicodeScalarView(scalars[s..<index]))
            if let u = peek(), u == "u" || u == "U" {
                advance()
                try checkNumberEnd(pos)
                return .uint("0x" + digits)
            }
            try checkNumberEnd(pos)
            return .int("0x" + digits)
        }
        var isDouble = false
        while let d = peek(), Lexer.isDigit(d) { advance() }
        if peek() == ".", let d = peek(1), Lexer.isDigit(d) {
            isDouble = true
            advance()
            while let d = peek(), Lexer.isDigit(d) { advance() }
        }
        if let e = peek(), e == "e" || e == "E" {
            var k = 1
            if let s = peek(1), s == "+" || s == "-" { k = 2 }
            if let d = peek(k), Lexer.isDigit(d) {
                isDouble = true
                for _ in 0..<k { advance() }
                while let d = peek(), Lexer.isDigit(d) { advance() }
            } else {
                throw error("malformed exponent", at: pos)
            }
        }
        let text = String(String.UnicodeScalarView(scalars[start..<index]))
        if !isDouble, let u = peek(), u == "u" || u == "U" {
            advance()
            try checkNumberEnd(pos)
            return .uint(text)
        }
        try checkNumberEnd(pos)
        return isDouble ? .double(text) : .int(text)
    }

    func checkNumberEnd(_ pos: SourcePosition) throws(CELSourceError) {
        if let c = peek(), Lexer.isIdentPart(c) { throw error("malformed number literal", at: pos) }
    }

    mutating func lexString(raw: Bool, bytes: Bool, pos: SourcePosition) throws(CELSourceError) -> TokenKind {
        let quote = peek()!
        var triple = false
        if peek(1) == quote && peek(2) == quote {
            triple = true
            advance()
            advance()
            advance()
        } else {
            advance()
        }
        var out: [UInt8] = []
        var text = String.UnicodeScalarView()
        func appendScalar(_ s: Unicode.Scalar) {
            if bytes { out.append(contentsOf: Array(String(Character(s)).utf8)) } else { text.append(s) }
        }
        while true {
            guard let c = peek() else { throw error("unterminated string literal", at: pos) }
            if triple {
                if c == quote && peek(1) == quote && peek(2) == quote {
                    advance()
                    advance()
                    advance()
                    break
                }
            } else {
                if c == quote {
                    advance()
                    break
                }
                if c == "\n" || c == "\r" { throw error("newline in string literal", at: pos) }
            }
            if c == "\\" && !raw {
                let escPos = position(index)
                advance()
                guard let e = peek() else { throw error("unterminated string literal", at: pos) }
                advance()
                switch e {
                case "a": appendScalar("\u{07}")
                case "b": appendScalar("\u{08}")
                case "f": appendScalar("\u{0C}")
                case "n": appendScalar("\n")
                case "r": appendScalar("\r")
                case "t": appendScalar("\t")
                case "v": appendScalar("\u{0B}")
                case "\\", "'", "\"", "`", "?": appendScalar(e)
                case "x", "X", "u", "U":
                    let n = (e == "x" || e == "X") ? 2 : (e == "u" ? 4 : 8)
                    if bytes && (e == "u" || e == "U") { throw error("unicode escape in bytes literal", at: escPos) }
                    var v: UInt32 = 0
                    for _ in 0..<n {
                        guard let h = peek(), Lexer.isHex(h) else { throw error("invalid escape sequence", at: escPos) }
                        v = v * 16 + UInt32(Int(String(Character(h)), radix: 16)!)
                        advance()
                    }
                    if bytes && n == 2 {
                        out.append(UInt8(v))
                    } else {
                        guard let s = Unicode.Scalar(v) else { throw error("invalid unicode code point in escape", at: escPos) }
                        appendScalar(s)
                    }
                case "0", "1", "2", "3":
                    var v = UInt32(e.value - 48)
                    for _ in 0..<2 {
                        guard let o = peek(), o >= "0" && o <= "7" else { throw error("invalid octal escape", at: escPos) }
                        v = v * 8 + (o.value - 48)
                        advance()
                    }
                    if bytes { out.append(UInt8(v)) } else { appendScalar(Unicode.Scalar(v)!) }
                default:
                    throw error("invalid escape sequence '\\\(Character(e))'", at: escPos)
                }
                continue
            }
            appendScalar(c)
            advance()
        }
        return bytes ? .bytes(out) : .string(String(text))
    }
}
