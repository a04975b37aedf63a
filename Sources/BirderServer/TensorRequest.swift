import Birder
import Foundation
import Hummingbird

/// An Open Inference Protocol v2 `infer` request: one FP32 input tensor, N×3×H×W, already resized
/// and normalised by the client, its values flat in row-major order.
struct TensorRequest {
    private struct Body: Decodable {
        struct Input: Decodable {
            let name: String
            let shape: [Int]
            let datatype: String
            let data: [Float]
        }
        let id: String?
        let inputs: [Input]
    }

    let id: String?
    let tensor: Tensor

    static func decode(_ buffer: ByteBuffer, model: BirderModel, maxBatch: Int) throws(ServerError) -> TensorRequest {
        let body: Body
        do { body = try JSONDecoder().decode(Body.self, from: Data(buffer.readableBytesView)) } catch {
            throw .badRequest("the infer request is not Open Inference Protocol v2 JSON with one FP32 input of flat data: \(error)")
        }
        guard body.inputs.count == 1, let input = body.inputs.first else {
            throw .badRequest("the infer request needs exactly one input tensor, not \(body.inputs.count)")
        }
        guard input.datatype == "FP32" else { throw .badRequest("input '\(input.name)' is \(input.datatype); FP32 is required") }
        let size = model.inputSize
        guard input.shape.count == 4, input.shape[1] == 3, input.shape[2] == size.height, input.shape[3] == size.width,
              (1...maxBatch).contains(input.shape[0]) else {
            throw .badRequest("input '\(input.name)' has shape \(input.shape); expected [N, 3, \(size.height), \(size.width)] with N from 1 to \(maxBatch)")
        }
        let count = input.shape.reduce(1, *)
        guard input.data.count == count else {
            throw .badRequest("input '\(input.name)' has \(input.data.count) values; shape \(input.shape) needs \(count)")
        }
        guard input.data.allSatisfy(\.isFinite) else { throw .badRequest("input '\(input.name)' holds NaN or infinity") }
        return TensorRequest(id: body.id, tensor: Tensor(shape: input.shape, values: input.data))
    }

    func response(_ outputs: TensorOutputs, model: BirderModel) -> String {
        func output(_ name: String, _ tensor: Tensor) -> String {
            let values = tensor.withUnsafeBufferPointer { JSONText.array($0) }
            return "{\"name\": \(JSONText.string(name)), \"datatype\": \"FP32\", \"shape\": \(tensor.shape), \"data\": \(values)}"
        }
        let all = [output("embedding", outputs.embeddings)] + outputs.probabilities.map { output($0.head, $0.values) }
        let idField = id.map { ", \"id\": \(JSONText.string($0))" } ?? ""
        return "{\"model_name\": \(JSONText.string(model.name))\(idField), \"outputs\": [\(all.joined(separator: ", "))]}"
    }
}
