import AttestCore
import AttestHTTP
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `credential_process`: runs a command and reads credentials from its standard output
/// (`{"Version": 1, "AccessKeyId": …}`), as the AWS CLI does, with bounds the CLI does not set:
/// the command must finish within ``timeout`` and print at most ``maxOutputBytes``, or it is
/// killed (with everything it started) and the credentials are an error. It also dies with
/// attest, even when attest is killed.
public struct ProcessCredentialProvider: AWSCredentialProvider {
    public var command: String
    public var profile: String
    public var timeout: Duration
    public var maxOutputBytes: Int

    public init(command: String, profile: String, timeout: Duration = .seconds(60), maxOutputBytes: Int = 1 << 20) {
        self.command = command
        self.profile = profile
        self.timeout = timeout
        self.maxOutputBytes = maxOutputBytes
    }

    public func credentials() async throws -> AWSCredentials {
        let run = BoundedProcess(command: command, timeout: timeout, maxOutputBytes: maxOutputBytes)
        let profile = self.profile
        let outcome = try await withCheckedThrowingContinuation { continuation in
            // The waiting happens on a thread of its own, not one of the concurrency pool's few.
            Thread { continuation.resume(with: Result { try run.run() }) }.start()
        }
        switch outcome {
        case .timedOut:
            throw CredentialError("profile \(profile): credential_process did not finish within \(Int(timeout.seconds)) s; it was stopped")
        case .tooMuchOutput:
            throw CredentialError("profile \(profile): credential_process printed more than \(maxOutputBytes) bytes; it was stopped")
        case .exited(let status, _) where status != 0:
            throw CredentialError("profile \(profile): credential_process exited with status \(status)")
        case .exited(_, let data):
            guard let json = try? JSONValue.parse(data) else {
                throw CredentialError("profile \(profile): credential_process printed no JSON")
            }
            guard json["Version"].intValue == 1 else {
                throw CredentialError("profile \(profile): credential_process output must have \"Version\": 1")
            }
            return try CredentialJSON.decode(json, source: "profile \(profile) (credential_process)")
        }
    }
}

/// Runs the command, reading its output with a cap and a deadline; on either, its whole
/// process group is killed. Through `setpriv --pdeathsig`, where the system has it, the shell
/// also receives SIGKILL if attest dies first.
struct BoundedProcess: Sendable {
    enum Outcome: Sendable {
        case exited(Int32, Data)
        case timedOut
        case tooMuchOutput
    }

    let command: String
    let timeout: Duration
    let maxOutputBytes: Int

    static func tool(_ name: String) -> String? {
        ["/usr/bin/\(name)", "/bin/\(name)"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    static let setpriv = tool("setpriv")

    /// The command split into words as the AWS CLI splits it (POSIX shell quoting, no shell),
    /// behind `setpriv --pdeathsig KILL --` where the system has setpriv: it execs the program in
    /// the same process, which then dies with attest. Foundation starts every child as the leader
    /// of a process group of its own, so a kill of the group reaches what it started.
    func invocation() throws -> [String] {
        let words = try ShellWords.split(command)
        guard !words.isEmpty else { throw CredentialError("credential_process is empty") }
        return (Self.setpriv.map { [$0, "--pdeathsig", "KILL", "--"] } ?? []) + words
    }

    func run() throws -> Outcome {
        let process = Process()
        var words = try invocation()
        if !words[0].contains("/") {
            // A bare program name is looked up on PATH, as the CLI does.
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            guard
                let found = path.split(separator: ":").map({ "\($0)/\(words[0])" }).first(where: {
                    FileManager.default.isExecutableFile(atPath: $0)
                })
            else {
                throw CredentialError("credential_process: \(words[0]) not found on PATH")
            }
            words[0] = found
        }
        process.executableURL = URL(fileURLWithPath: words[0])
        process.arguments = Array(words.dropFirst())
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw CredentialError("credential_process could not start")
        }
        let pid = process.processIdentifier
        let fd = out.fileHandleForReading.fileDescriptor
        let deadline = ContinuousClock.now + timeout
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var outcome: Outcome?
        while outcome == nil {
            let left = deadline - ContinuousClock.now
            if left <= .zero {
                outcome = .timedOut
                break
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let millis = Int32(min(left.seconds * 1000, 1000).rounded(.up))
            let ready = poll(&poller, 1, max(1, millis))
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }  // end of output: the command has finished or closed it
            data.append(contentsOf: buffer[0..<n])
            if data.count > maxOutputBytes { outcome = .tooMuchOutput }
        }
        if let outcome {
            stop(pid)
            process.waitUntilExit()
            return outcome
        }
        // The output ended; the command should be gone too, but may linger: it has what is left of the deadline.
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning {
            stop(pid)
            process.waitUntilExit()
            return .timedOut
        }
        return .exited(process.terminationStatus, data)
    }

    /// Kills the command's process group (and the command, should it lead none).
    func stop(_ pid: Int32) {
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
    }
}

/// Splits a command line into words as POSIX shells (and Python's `shlex`, which the AWS CLI
/// uses for `credential_process`) do: whitespace separates, single quotes keep everything,
/// double quotes keep all but `\"`, `\\`, `\$` and `` \` `` escapes, a backslash outside
/// quotes escapes the next character. No expansion happens.
public enum ShellWords {
    public static func split(_ text: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            switch quote {
            case "'":
                if c == "'" { quote = nil } else { current.append(c) }
            case "\"":
                if c == "\"" {
                    quote = nil
                } else if c == "\\", let next = chars.first, "\"\\$`".contains(next) {
                    current.append(chars.removeFirst())
                } else {
                    current.append(c)
                }
            default:
                if c == " " || c == "\t" || c == "\n" {
                    if inWord { words.append(current) }
                    current = ""
                    inWord = false
                } else if c == "'" || c == "\"" {
                    quote = c
                    inWord = true
                } else if c == "\\" {
                    guard let next = chars.popFirst() else { throw CredentialError("credential_process ends in a backslash") }
                    current.append(next)
                    inWord = true
                } else {
                    current.append(c)
                    inWord = true
                }
            }
        }
        if quote != nil { throw CredentialError("credential_process has an unclosed quote") }
        if inWord { words.append(current) }
        return words
    }
}
