/* channel_affine.c -- y = x * scale[c] + shift[c], then optionally ReLU, over NCHW planes: an
 * eval-mode BatchNorm (scale = weight / sqrt(var + eps), shift = bias - mean * scale) and a
 * ReLU in one pass. NumPy needs a pass per operation on one thread (x * s, += t, maximum):
 * on ResNet-50's activations, several MB each, that was a fifth of an unfused forward.
 *
 * Per element: x * s rounded, + t rounded (as NumPy; no FMA contraction in this file's build),
 * then v < 0 ? 0 : v, which keeps NaN (as torch's relu). y may be x (in place). scale or shift
 * NULL: that step is skipped (both NULL: ReLU alone).                                       */
#include "conv_internal.h"

/* one plane (or chunk) of n elements; each loop branch-free so the compiler vectorises it
 * (a per-element test on the sign of random data costs a mispredicted branch every other
 * element: 10x slower than the vector loop)                                                */
#define FC_AFFINE_RUN(T, xp, yp, n, s, t, mode)                                               \
    do {                                                                                      \
        switch (mode) {                                                                       \
        case 3: /* scale, shift, relu */                                                      \
            for (int64_t i = 0; i < (n); i++) {                                               \
                const T v = (xp)[i] * (s) + (t);                                              \
                (yp)[i] = v < 0 ? (T)0 : v;                                                   \
            }                                                                                 \
            break;                                                                            \
        case 2: /* scale, shift */                                                            \
            for (int64_t i = 0; i < (n); i++) (yp)[i] = (xp)[i] * (s) + (t);                  \
            break;                                                                            \
        case 1: /* relu (scale 1, shift 0: exact) */                                          \
            for (int64_t i = 0; i < (n); i++) (yp)[i] = (xp)[i] < 0 ? (T)0 : (xp)[i];          \
            break;                                                                            \
        default: /* identity */                                                               \
            for (int64_t i = 0; i < (n); i++) (yp)[i] = (xp)[i];                              \
            break;                                                                            \
        }                                                                                     \
    } while (0)

/* elements per parallel chunk when there is no per-channel step (a whole array is one "plane") */
#define FC_AFFINE_CHUNK 16384

#define FC_CHANNEL_AFFINE(name, T)                                                            \
    int name(const fc_ctx *ctx, int64_t N, int64_t C, int64_t HW, const T *x, const T *scale,   \
             const T *shift, int relu, T *y)                                                  \
    {                                                                                         \
        int64_t planes, total;                                                                \
        if (N < 0 || C < 0 || HW < 0) return FC_EINVAL;                                       \
        if (fc_mul_overflow(N, C, &planes) != FC_OK) return FC_EOVERFLOW;                     \
        if (fc_mul_overflow(planes, HW, &total) != FC_OK) return FC_EOVERFLOW;                \
        if (fc_mul_overflow(total, 8, &total) != FC_OK) return FC_EOVERFLOW;                  \
        total /= 8;                                                                           \
        if (total == 0) return FC_OK;                                                         \
        if (x == NULL || y == NULL) return FC_EINVAL;                                         \
        const int nt = fc_ctx_threads(ctx);                                                   \
        (void)nt;                                                                             \
        if (scale == NULL && shift == NULL) {                                                 \
            const int64_t nchunks = (total + FC_AFFINE_CHUNK - 1) / FC_AFFINE_CHUNK;           \
            FC_PRAGMA_OMP_FOR(nt, nchunks > 1)   /* the caller's thread count decides */      \
            for (int64_t ch = 0; ch < nchunks; ch++) {                                        \
                const int64_t i0 = ch * FC_AFFINE_CHUNK;                                      \
                const int64_t n = fc_min64(FC_AFFINE_CHUNK, total - i0);                      \
                FC_AFFINE_RUN(T, x + i0, y + i0, n, (T)1, (T)0, relu ? 1 : 0);                \
            }                                                                                 \
            return FC_OK;                                                                     \
        }                                                                                     \
        FC_PRAGMA_OMP_FOR(nt, planes > 1)                                                     \
        for (int64_t pl = 0; pl < planes; pl++) {                                             \
            const int64_t c = pl % C;                                                         \
            /* a missing scale is 1 and a missing shift -0 (v + -0 == v, even for v = -0) */   \
            const T s = scale ? scale[c] : (T)1, t = shift ? shift[c] : (T)-0.0;              \
            FC_AFFINE_RUN(T, x + pl * HW, y + pl * HW, HW, s, t, relu ? 3 : 2);               \
        }                                                                                     \
        return FC_OK;                                                                         \
    }

FC_CHANNEL_AFFINE(fc_channel_affine_f32, float)
FC_CHANNEL_AFFINE(fc_channel_affine_f64, double)

/* out[i] = y[i] <= 0 ? 0 : grad[i]: the gradient through a ReLU whose output was y (torch's
 * threshold_backward: a NaN in y passes the gradient). out may be grad. One branch-free pass. */
#define FC_RELU_BACKWARD(name, T)                                                             \
    int name(const fc_ctx *ctx, int64_t n, const T *grad, const T *y, T *out)                 \
    {                                                                                         \
        int64_t bytes;                                                                        \
        if (n < 0) return FC_EINVAL;                                                          \
        if (fc_mul_overflow(n, 8, &bytes) != FC_OK) return FC_EOVERFLOW;                      \
        if (n == 0) return FC_OK;                                                             \
        if (grad == NULL || y == NULL || out == NULL) return FC_EINVAL;                       \
        const int nt = fc_ctx_threads(ctx);                                                   \
        (void)nt;                                                                             \
        const int64_t nchunks = (n + FC_AFFINE_CHUNK - 1) / FC_AFFINE_CHUNK;                   \
        FC_PRAGMA_OMP_FOR(nt, nchunks > 1)                                                    \
        for (int64_t ch = 0; ch < nchunks; ch++) {                                            \
            const int64_t i0 = ch * FC_AFFINE_CHUNK, i1 = fc_min64(n, i0 + FC_AFFINE_CHUNK);   \
            for (int64_t i = i0; i < i1; i++) {                                               \
                const T g = grad[i];   /* loaded unconditionally: lets the loop vectorise */   \
                out[i] = y[i] <= 0 ? (T)0 : g;                                                \
            }                                                                                 \
        }                                                                                     \
        return FC_OK;                                                                         \
    }

FC_RELU_BACKWARD(fc_relu_backward_f32, float)
FC_RELU_BACKWARD(fc_relu_backward_f64, double)
