import AttestCollect
import AttestInventory
import Foundation
import Testing

@testable import AttestControls

@Suite("Control files, config and catalogues: mistakes name the file, line and column")
struct ControlLoaderTests {
    func loadError(_ yaml: String, file: String = "/x/my-control.yaml") -> SpecError? {
        do {
            _ = try ControlLoader.load(text: yaml, file: file)
            return nil
        } catch let e as SpecError { return e } catch { return nil }
    }

    let head = """
        id: my-control
        title: t
        description: d
        rationale: r
        severity: low
        resource_types: [aws.s3.bucket]
        remediation: {text: fix}

        """

    @Test func aRuleParseErrorNamesFileLineAndColumn() throws {
        // plain scalar: the error is at the second '=' of "= =" on line 8
        let plain = try #require(loadError(head + "assert: resource.attributes.x = = 1\n"))
        #expect(plain.file == "/x/my-control.yaml")
        #expect(plain.line == 8)
        #expect(plain.column != nil)
        #expect(plain.description.hasPrefix("/x/my-control.yaml:8:"))

        // a block scalar: the unknown function is on the rule's second line, i.e. line 10 of the file
        let block = try #require(loadError(head + "assert: >-\n  resource.attributes.x == 1 &&\n    nosuchfunction(resource)\n"))
        #expect(block.line == 10)
        #expect(block.column == 5)
        #expect(block.message.contains("nosuchfunction"))

        // double-quoted: an undeclared variable
        let quoted = try #require(loadError(head + "assert: \"1 == 1 && versioning == 'Enabled'\"\n"))
        #expect(quoted.line == 8)
        #expect(quoted.column == 20)
    }

    @Test func structuralMistakesAreRefusedWithTheirLine() throws {
        #expect(loadError(head + "assert: 'true'\nasert: 'true'\n")?.line == 9)
        #expect(loadError(head + "assert: 'true'\n", file: "/x/other-name.yaml")?.message.contains("file name") == true)
        #expect(loadError(head.replacingOccurrences(of: "severity: low", with: "severity: urgent") + "assert: 'true'\n")?.line == 5)
        #expect(loadError(head + "assert: 'true'\ntests:\n  - name: n\n    resource: {attributes: {}}\n    expect: passes\n")?.line == 12)
        #expect(loadError(head)?.message.contains("assert") == true)
        #expect(loadError("id: [unclosed\n")?.message.contains("YAML") == true)
    }

    @Test func duplicateIdsInTwoDirectoriesNameBothFiles() throws {
        let a = try temporaryControlsDirectory(["my-control.yaml": head + "assert: 'true'\n"])
        let b = try temporaryControlsDirectory(["my-control.yaml": head + "assert: 'false'\n"])
        #expect {
            _ = try ControlLoader.load(directories: [a, b])
        } throws: { error in
            let d = String(describing: error)
            return d.contains(a.path) && d.contains(b.path)
        }
    }

    @Test func configDisablesAndReparameterisesControlsAndRefusesTypos() throws {
        let c = try ControlLoader.load(
            text: head + "parameters: {max_age_days: 90}\nassert: 'params.max_age_days < 100'\n", file: "/x/my-control.yaml")
        let config = try ControlConfig(
            text: """
                controls:
                  parameters:
                    my-control:
                      max_age_days: 120
                """, file: "/x/attest.yaml")
        let kept = try config.apply(to: [c])
        let engine = ControlEngine(controls: kept, parameterOverrides: config.parameters)
        #expect(engine.parameters(of: c)["max_age_days"] == 120)

        let disabled = try ControlConfig(text: "controls:\n  disabled: [my-control]\n", file: "/x/attest.yaml")
        #expect(try disabled.apply(to: [c]).isEmpty)

        let typo = try ControlConfig(text: "controls:\n  disabled:\n    - my-contrl\n", file: "/x/attest.yaml")
        #expect { try typo.apply(to: [c]) } throws: { ($0 as? SpecError)?.line == 3 }
        let badParam = try ControlConfig(text: "controls:\n  parameters:\n    my-control:\n      max_days: 3\n", file: "/x/attest.yaml")
        #expect { try badParam.apply(to: [c]) } throws: { ($0 as? SpecError)?.line == 4 && String(describing: $0).contains("max_age_days") }
        let badKind = try ControlConfig(
            text: "controls:\n  parameters:\n    my-control:\n      max_age_days: lots\n", file: "/x/attest.yaml")
        #expect { try badKind.apply(to: [c]) } throws: { ($0 as? SpecError)?.message.contains("number") == true }
        #expect(throws: SpecError.self) { try ControlConfig(text: "controls:\n  disable: [x]\n", file: "/x/attest.yaml") }
    }

    @Test func aCatalogueListsRequirementsOnlyAndControlsNameTheirs() throws {
        // Mappings live in one place, the control: a catalogue that lists controls is refused at the line.
        let dir = try temporaryControlsDirectory([
            "f.yaml": """
            id: f
            name: F
            title: T
            requirements:
              - id: R1
                title: one
                controls: [my-control]
            """
        ])
        let c = try ControlLoader.load(text: head + "assert: 'true'\nframeworks: {f: [R1]}\n", file: "/x/my-control.yaml")
        #expect { try FrameworkSet(directory: dir, controls: [c]) } throws: {
            ($0 as? SpecError)?.line == 7 && ($0 as? SpecError)?.message.contains("frameworks:") == true
        }
        let ok = try temporaryControlsDirectory([
            "f.yaml": "id: f\nname: F\ntitle: T\nrequirements:\n  - {id: R1, title: one}\n  - {id: R2, title: two}\n"
        ])
        let set = try FrameworkSet(directory: ok, controls: [c])
        #expect(set.requirements(of: "my-control").map(\.requirement) == ["R1"])
        #expect(set.framework("f")?.requirement("R1")?.controls == ["my-control"])
        #expect(set.framework("f")?.requirement("R2")?.isManual == true)
    }

    @Test func aControlNamingAnUnknownFrameworkOrRequirementIsRefusedAtItsLine() throws {
        let dir = try temporaryControlsDirectory(["f.yaml": "id: f\nname: F\ntitle: T\nrequirements:\n  - {id: R1, title: one}\n"])
        let mine = try ControlLoader.load(text: head + "assert: 'true'\nframeworks: {f: [r1]}\n", file: "/x/my-control.yaml")
        let set = try FrameworkSet(directory: dir, controls: [mine])
        #expect(set.framework("f")?.requirement("R1")?.controls == ["my-control"])
        let text = head + "assert: 'true'\nframeworks:\n  f: [R9]\n"
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("[R9]") }! + 1
        let wrong = try ControlLoader.load(text: text, file: "/x/my-control.yaml")
        #expect { try FrameworkSet(directory: dir, controls: [wrong]) } throws: {
            ($0 as? SpecError)?.line == line && ($0 as? SpecError)?.message.contains("R9") == true
        }
        let unknown = try ControlLoader.load(text: head + "assert: 'true'\nframeworks: {soc3: [CC1.1]}\n", file: "/x/my-control.yaml")
        #expect { try FrameworkSet(directory: dir, controls: [unknown]) } throws: {
            String(describing: $0).contains("unknown framework soc3")
        }
    }
}

func temporaryControlsDirectory(_ files: [String: String]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attest-controls-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
    return dir
}
