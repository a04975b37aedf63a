// Fills a set's `bk_kernels` table from the bodies in conv_kernels.h and transformer_kernels.h,
// included just before with BK_SUFFIX and TK_SUFFIX set to the set's suffix. Both bodies work on
// 8-float vectors and 16-column panels (their tiles are written for that width).
#ifndef CBIRDERKERNELS_KERNEL_TABLE_H
#define CBIRDERKERNELS_KERNEL_TABLE_H

#define BK_DEFINE_TABLE(variable, set_name)                                                          \
    const bk_kernels variable = {                                                                    \
        .name = set_name,                                                                            \
        .vector_floats = 8,                                                                          \
        .panel_width = 16,                                                                           \
        .bf16_native = 0,                                                                            \
        .bf16_k_group = 1,                                                                           \
        .gemm = BK_FN(bk_gemm),                                                                      \
        .gemm_bf16 = BK_FN(bk_gemm_bf16),                                                            \
        .layernorm_rows = BK_FN(bk_layernorm_rows),                                                  \
        .dwconv7_layernorm = BK_FN(bk_dwconv7_layernorm),                                            \
        .scale_columns = BK_FN(bk_scale_columns),                                                    \
        .softmax_rows = TK_FN(tk_softmax_rows),                                                      \
        .bias_gelu_rows = TK_FN(tk_bias_gelu_rows),                                                  \
        .residual_layernorm_rows = TK_FN(tk_residual_layernorm_rows),                                \
        .exp = TK_FN(tk_exp),                                                                        \
    };

#endif
