// BirderEval: the two evaluations Birder's model cards report for a frozen encoder, over
// in-memory row-major Float32 matrices (n rows × d columns):
//   - linear probing (`LinearProbe`): Birder's eval/methods/linear.py protocol;
//   - clustering quality (`ClusteringEvaluation`): Birder's eval/methods/ami.py pipeline,
//     L2-normalise → `UMAP` → `Ward` → `adjustedMutualInformation`.
// File formats and the command line live elsewhere; everything here takes arrays.
