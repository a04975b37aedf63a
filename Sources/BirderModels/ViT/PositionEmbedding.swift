import BirderCore

/// A ViT's learned absolute position embedding: rows for the special tokens (when Birder's
/// `pos_embed_special_tokens` includes them) followed by an h×w grid of patch positions, row-major.
///
/// Birder resizes it in two places, both through `adjust_position_embedding` (special rows kept,
/// the grid resized by `F.interpolate`):
/// - `adjust_size(new_size)`, when a model is loaded for a size other than its checkpoint's: once,
///   **antialiased** (the function's default `antialias=True`).
/// - `_get_pos_embed` per input when `dynamic_size` is set and the input differs from the model's
///   size: from the (possibly adjusted) embedding, with `pos_embed_antialias` (default False).
package struct PositionEmbedding: Sendable {
    /// prefixCount×D
    package let prefix: Tensor
    /// gridHeight×gridWidth×D
    package let grid: Tensor
    package let gridHeight: Int
    package let gridWidth: Int

    package var width: Int { grid.shape[2] }
    package var prefixCount: Int { prefix.shape[0] }
    /// (prefixCount + gridHeight·gridWidth)×D, the rows in Birder's order.
    package var rows: Int { prefixCount + gridHeight * gridWidth }

    /// Splits Birder's `pos_embedding` [1, prefixCount + h·w, D].
    package init(parameter: Tensor, prefixCount: Int, gridHeight: Int, gridWidth: Int) throws {
        guard parameter.rank == 3, parameter.shape[0] == 1,
              parameter.shape[1] == prefixCount + gridHeight * gridWidth else {
            throw WeightBindingError.shapeMismatch(name: "pos_embedding",
                                                   expected: [1, prefixCount + gridHeight * gridWidth, parameter.shape.last ?? 0],
                                                   found: parameter.shape)
        }
        let count = parameter.shape[1], d = parameter.shape[2]
        let flat = parameter.reshaped([count, d])
        prefix = flat.rows(0..<prefixCount)
        grid = flat.rows(prefixCount..<count).reshaped([gridHeight, gridWidth, d])
        self.gridHeight = gridHeight
        self.gridWidth = gridWidth
    }

    init(prefix: Tensor, grid: Tensor) {
        self.prefix = prefix
        self.grid = grid
        gridHeight = grid.shape[0]
        gridWidth = grid.shape[1]
    }

    /// The embedding for an h×w patch grid: itself when the grid matches, else the grid resized as
    /// `F.interpolate(..., mode, align_corners=False, antialias)` does.
    package func resized(height: Int, width newWidth: Int, mode: InterpolationMode, antialias: Bool) -> PositionEmbedding {
        if height == gridHeight && newWidth == gridWidth { return self }
        let d = width
        let resized = Tensor(shape: [height, newWidth, d]) { out in
            grid.withUnsafeBufferPointer { g in
                interpolateGrid(g.baseAddress!, height: gridHeight, width: gridWidth, channels: d,
                                outputHeight: height, outputWidth: newWidth, mode: mode, antialias: antialias,
                                output: out.baseAddress!)
            }
        }
        return PositionEmbedding(prefix: prefix, grid: resized)
    }

    /// All rows, (prefixCount + h·w)×D, as Birder's `pos_embedding[0]`.
    package var allRows: Tensor {
        let d = width
        return Tensor(shape: [rows, d]) { out in
            prefix.withUnsafeBufferPointer { out.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
            grid.withUnsafeBufferPointer { (out.baseAddress! + prefixCount * d).update(from: $0.baseAddress!, count: $0.count) }
        }
    }
}
