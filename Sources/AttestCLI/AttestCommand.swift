public import ArgumentParser
import AttestCollect
import AttestCore
import AttestEvidence
import AttestHTTP
import AttestScan
import Foundation

/// The version printed in reports and evidence.
public let attestVersion = "0.1.0"

public struct AttestCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "attest",
        abstract: "Cloud configuration scanner: inventory graph, controls and evidence.",
        version: attestVersion,
        subcommands: [
            ScanCommand.self, PlanCommand.self, ControlsCommand.self, FrameworksCommand.self, EvidenceCommand.self, PermissionsCommand.self,
            DemoCommand.self,
            HistoryCommand.self, DiffCommand.self, WatchCommand.self,
        ])

    public init() {}
}

/// Exit statuses: 0 complete (and no blocking failure), 1 a control failed at or above
/// `--fail-on`, 2 usage or configuration error, 3 something could not be read or evaluated.
public enum ExitStatus {
    public static let complete: Int32 = 0
    public static let findings: Int32 = 1
    public static let usage: Int32 = 2
    public static let incomplete: Int32 = 3
}

/// An error the user can fix; printed as one line, exit status 2.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum AttestMain {
    /// Parses, runs, and maps every outcome to an exit status with a one-line reason.
    public static func run(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) async -> Int32 {
        do {
            var command = try AttestCommand.parseAsRoot(arguments)
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
            return ExitStatus.complete
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("attest: \(SecretScrubberLine.scrub(error.description))\n".utf8))
            return ExitStatus.usage
        } catch let error as SpecError {
            FileHandle.standardError.write(Data("attest: invalid provider spec: \(SecretScrubberLine.scrub(error.description))\n".utf8))
            return ExitStatus.usage
        } catch let error as ScanSetupError {
            FileHandle.standardError.write(Data("attest: \(SecretScrubberLine.scrub(error.description))\n".utf8))
            return ExitStatus.usage
        } catch let error as EvidenceNotVerifiedError {
            FileHandle.standardError.write(Data("attest: \(SecretScrubberLine.scrub(error.description))\n".utf8))
            return ExitStatus.findings
        } catch let error as TransportConfigurationError {
            FileHandle.standardError.write(Data("attest: \(SecretScrubberLine.scrub(error.description))\n".utf8))
            return ExitStatus.usage
        } catch {
            let code = AttestCommand.exitCode(for: error)
            if code == .success {
                // --help, --version
                print(AttestCommand.fullMessage(for: error))
                return 0
            }
            if code == .validationFailure {
                let message = AttestCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid usage"
                FileHandle.standardError.write(Data("attest: \(SecretScrubberLine.scrub(message)) (see attest --help)\n".utf8))
                return ExitStatus.usage
            }
            FileHandle.standardError.write(Data("attest: \(SecretScrubberLine.scrub(String(describing: error)))\n".utf8))
            return ExitStatus.usage
        }
    }
}

enum SecretScrubberLine {
    static func scrub(_ s: String) -> String {
        TerminalText.safe(AttestCore.SecretScrubber.shared.scrub(s).replacingOccurrences(of: "\n", with: " "), singleLine: true)
    }
}
