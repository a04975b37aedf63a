import Birder

let model = try BirderModel.load("vit_b16_pn_bioclip-v1")
let session = try InferenceSession(model: model, batchSize: 8)
let photos = try ImageCollection.paths(["photos/"])
for item in session.embed(photos.map(ImageInput.path)) {
    switch item.result {
    case .success(let embedding): print(item.name, embedding.prefix(4))
    case .failure(let error): print("skipped:", error)
    }
}
