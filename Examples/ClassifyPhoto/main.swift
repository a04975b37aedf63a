import Birder

let model = try BirderModel.load("rdnet_t_ibot-bioscan5m", heads: ["species"])
let session = try InferenceSession(model: model)
let result = try session.classify(.path("photo.jpg"), topK: 5)
for score in result["species"]!.top { print(score.name, score.probability) }
