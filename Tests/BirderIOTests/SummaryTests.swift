import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

@Suite struct SummaryTests {
    /// The element count of Birder 0.8.4's rdnet_t state dict (1000 classes), from its committed
    /// names and shapes, equals the count torch computed. The 87 MB weights cannot be committed:
    /// the tensors here are zero-stride views of one element, so nothing large is allocated.
    @Test func rdnetTParameterCountMatchesTorch() throws {
        let text = try String(contentsOfFile: ioFixture("rdnet_t_state_dict.txt"), encoding: .utf8)
        let one = StorageBuffer(dtype: .float32, bytes: [0, 0, 0, 0])
        var entries: [(String, StoredTensor)] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let name = String(line.prefix(while: { $0 != " " }))
            let dims = line.drop(while: { $0 != "[" }).dropFirst().dropLast().split(separator: ",")
                .map { Int($0.trimmingCharacters(in: .whitespaces))! }
            entries.append((name, try StoredTensor(storage: one, shape: dims, strides: dims.map { _ in 0 })))
        }
        let state = StateDict(entries)
        let expected = try expectedJSON("rdnet_t.expected.json")
        #expect(state.count == expected["num_tensors"]?.intValue)
        #expect(state.parameterCount == expected["num_parameters"]?.intValue)
        #expect(WeightsFileSummary.family(of: state.names) == "rdnet")
        print("rdnet_t: \(state.count) tensors, \(state.parameterCount) elements (torch: \(expected["num_parameters"]!.serialized()))")
        // Zero-stride views convert like torch's expand().
        #expect(try state.float32Tensor(named: "stem.0.bias").scalars == [Float](repeating: 0, count: 64))
    }

    @Test func checkpointSummary() throws {
        let summary = try WeightsFileSummary.inspect(ioFixture("tiny_rdnet_3.pt"))
        #expect(summary.kind == "checkpoint" && summary.format == "pt")
        #expect(summary.networkFromFileName == "tiny_rdnet")
        #expect(summary.familyFromTensorNames == "rdnet")
        #expect(summary.inputSize == [64, 48] && summary.numClasses == 4 && summary.embeddingSize == 24)
        #expect(summary.numTensors == 32 && summary.numParameters == 3604 && summary.tensorBytes == 3604 * 4)
        let json = summary.json
        for key in ["num_classes", "input_size", "rgb_stats", "num_parameters", "tensors"] {
            #expect(json[key] != nil && json[key] != .null, "\(key)")
        }
        #expect(json["input_size"] == .array([.int(64), .int(48)]))
        #expect(json["rgb_stats"]?["mean"]?.arrayValue?.first == .double(0.485))
        #expect(json["num_parameters"] == .int(3604) && json["tensors"] == .int(32))
        let text = summary.text
        #expect(text.contains("input size:      64×48") && text.contains("classes:         4"))
        #expect(text.contains("parameters:      3604"))

        let st = try WeightsFileSummary.inspect(ioFixture("tiny_rdnet_3.safetensors"))
        #expect(st.format == "safetensors" && st.numParameters == 3604 && st.inputSize == [64, 48])
        let head = try WeightsFileSummary.inspect(ioFixture("tiny_rdnet_t_ibot-test-order.head.pt"))
        #expect(head.kind == "head" && head.numClasses == 4 && head.embeddingSize == 24)
        #expect(head.networkFromFileName == "tiny_rdnet_t")
        let bare = try WeightsFileSummary.inspect(ioFixture("tensors.pt"))
        #expect(bare.kind == "state dict" && bare.numTensors == 19 && bare.familyFromTensorNames == nil)
        #expect(bare.dtypes["bfloat16"] == 1 && bare.dtypes["float32"] == 9)
    }

    @Test func networkNameFromFileName() {
        #expect(WeightsFileSummary.networkName(fromFileName: "/m/rdnet_t_ibot-bioscan5m.pt") == "rdnet_t")
        #expect(WeightsFileSummary.networkName(fromFileName: "vit_b16_pn_bioclip-v1.pt") == "vit_b16_pn")
        #expect(WeightsFileSummary.networkName(fromFileName: "rdnet_t_ibot-bioscan5m-species.head.pt") == "rdnet_t")
        #expect(WeightsFileSummary.networkName(fromFileName: "rdnet_t_100.safetensors") == "rdnet_t")
        #expect(WeightsFileSummary.networkName(fromFileName: "weights.pt") == "weights")
    }
}
