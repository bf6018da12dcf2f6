import AttestCore
import Foundation

/// `credential_process`: runs a command and reads credentials from its standard output
/// (`{"Version": 1, "AccessKeyId": …}`), as the AWS CLI does.
public struct ProcessCredentialProvider: AWSCredentialProvider {
    public var command: String
    public var profile: String

    public init(command: String, profile: String) {
        self.command = command
        self.profile = profile
    }

    public func credentials() async throws -> AWSCredentials {
        let command = self.command
        let profile = self.profile
        return try await Task.detached {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch {
                throw CredentialError("profile \(profile): credential_process could not start")
            }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw CredentialError("profile \(profile): credential_process exited with status \(process.terminationStatus)")
            }
            guard let json = try? JSONValue.parse(data) else {
                throw CredentialError("profile \(profile): credential_process printed no JSON")
            }
            guard json["Version"].intValue == 1 else {
                throw CredentialError("profile \(profile): credential_process output must have \"Version\": 1")
            }
            return try CredentialJSON.decode(json, source: "profile \(profile) (credential_process)")
        }.value
    }
}
