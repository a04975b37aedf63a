import ArgumentParser
import Birder
import Foundation

/// `birder info FILE [--json]`: what a weights file holds, read without running anything.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a checkpoint, head or state-dict file (.pt or .safetensors).",
        discussion: """
            Prints the network hints (from the file name and from the tensor names), input size, \
            number of classes, rgb stats, Birder version, parameter count and tensor bytes. \
            A file that cannot be read (not a checkpoint, truncated, or holding anything but \
            tensors) is reported in one line; the exit status is then 1, as for an unreadable \
            image elsewhere.
            """)

    @Argument(help: "The weights file (.pt, .head.pt or .safetensors).")
    var file: String

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let summary: WeightsFileSummary
        do {
            summary = try WeightsFileSummary.inspect(file)
        } catch {
            Terminal.error(String(describing: error))
            throw ExitCode(1)
        }
        print(json ? summary.json.serialized() : summary.text)
    }
}
