import ArgumentParser
import Birder
import Foundation

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the known pretrained models and whether each is present locally.",
        discussion: "Examples:\n  birder models --verify\n  birder models --networks")

    @Option(name: .long, help: ArgumentHelp(CommandLineStore.modelsDirHelp, valueName: "directory"))
    var modelsDir: String?

    @Flag(name: .long, help: "Check the SHA-256 of every present file (reads each file once).")
    var verify = false

    @Flag(name: .long, help: "One JSON object per model, as a JSON array.")
    var json = false

    @Flag(name: .long, help: "List the networks this engine builds (any checkpoint of these loads), by family.")
    var networks = false

    func run() throws {
        try reportingErrors {
            if networks {
                for family in NetworkRegistry.builtIn.families {
                    print("\(family.name): \(family.networks.joined(separator: " "))")
                }
                return
            }
            let store = ModelStore(directory: modelsDir, fetching: .never)
            let directory = store.directory.relativePath
            let catalog: [PretrainedModel]
            do { catalog = try store.checkedCatalog() } catch { throw CLIError.usage(String(describing: error)) }
            var rows: [[String: Any]] = []
            for model in catalog.sorted(by: { $0.name < $1.name }) {
                let status = try store.status(of: model, verify: verify)
                rows.append(["name": model.name, "network": model.network, "resolution": model.resolution,
                             "size_mb": model.fileSizeMB, "status": status.state.rawValue,
                             "path": (directory as NSString).appendingPathComponent(model.fileName),
                             "heads": model.heads, "heads_present": status.headsPresent])
            }
            if json {
                let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("name".padding(toLength: 34, withPad: " ", startingAt: 0) + "network".padding(toLength: 12, withPad: " ", startingAt: 0)
                  + "input    size      status")
            for row in rows {
                let resolution = (row["resolution"] as! [Int]).map(String.init).joined(separator: "×")
                print((row["name"] as! String).padding(toLength: 34, withPad: " ", startingAt: 0)
                      + (row["network"] as! String).padding(toLength: 12, withPad: " ", startingAt: 0)
                      + resolution.padding(toLength: 9, withPad: " ", startingAt: 0)
                      + String(format: "%6.1f MB ", row["size_mb"] as! Double)
                      + (row["status"] as! String))
            }
            print("models directory: \(directory)")
        }
    }
}
