package llama2.engine;

/**
 * The two loops of one attention head over the positions so far: scores {@code q·k_t} and the
 * weighted sum of values. The cache holds one row of {@code stride} floats per position; the
 * head's keys and values start at {@code offset} in each row.
 *
 * <p>Each {@code ...Plain} method is run.c's loop, the meaning; the method beside it computes the
 * same sums in the same order, bit for bit (AttentionTest holds them equal), arranged so that
 * several independent sums are in flight at once.
 */
final class Attention {
    private Attention() {
    }

    /** {@code att[t] = (q·k_t) / scale} for t in [0, positions), i ascending in each sum. */
    static void scores(float[] q, int qOffset, float[] keys, int offset, int stride, int headSize,
                       int positions, float scale, float[] att) {
        int t = 0;
        for (; t + 4 <= positions; t += 4) { // four positions at a time
            int k0 = t * stride + offset, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            for (int i = 0; i < headSize; i++) {
                float qi = q[qOffset + i];
                s0 += qi * keys[k0 + i];
                s1 += qi * keys[k1 + i];
                s2 += qi * keys[k2 + i];
                s3 += qi * keys[k3 + i];
            }
            att[t] = s0 / scale;
            att[t + 1] = s1 / scale;
            att[t + 2] = s2 / scale;
            att[t + 3] = s3 / scale;
        }
        scoresPlain(q, qOffset, keys, offset, stride, headSize, t, positions, scale, att);
    }

    /** {@link #scores} for t in [from, to), one position at a time: run.c's loop. */
    static void scoresPlain(float[] q, int qOffset, float[] keys, int offset, int stride, int headSize,
                            int from, int to, float scale, float[] att) {
        for (int t = from; t < to; t++) {
            int k = t * stride + offset;
            float score = 0f;
            for (int i = 0; i < headSize; i++) {
                score += q[qOffset + i] * keys[k + i];
            }
            att[t] = score / scale;
        }
    }

    /** {@code out_i = Σ_t att[t] * v_t[i]}, each sum from 0 with t ascending. */
    static void mixValues(float[] att, int positions, float[] values, int offset, int stride, int headSize,
                          float[] out, int outOffset) {
        int i = 0;
        for (; i + 8 <= headSize; i += 8) { // eight outputs at a time, each kept in a register
            float o0 = 0f, o1 = 0f, o2 = 0f, o3 = 0f, o4 = 0f, o5 = 0f, o6 = 0f, o7 = 0f;
            int v = offset + i;
            for (int t = 0; t < positions; t++, v += stride) {
                float a = att[t];
                o0 += a * values[v];
                o1 += a * values[v + 1];
                o2 += a * values[v + 2];
                o3 += a * values[v + 3];
                o4 += a * values[v + 4];
                o5 += a * values[v + 5];
                o6 += a * values[v + 6];
                o7 += a * values[v + 7];
            }
            int o = outOffset + i;
            out[o] = o0;
            out[o + 1] = o1;
            out[o + 2] = o2;
            out[o + 3] = o3;
            out[o + 4] = o4;
            out[o + 5] = o5;
            out[o + 6] = o6;
            out[o + 7] = o7;
        }
        mixValuesPlain(att, positions, values, offset, stride, i, headSize, out, outOffset);
    }

    /** {@link #mixValues} for outputs i in [from, to), one at a time (run.c accumulates in place, same sums). */
    static void mixValuesPlain(float[] att, int positions, float[] values, int offset, int stride, int from, int to,
                               float[] out, int outOffset) {
        for (int i = from; i < to; i++) {
            float o = 0f;
            int v = offset + i;
            for (int t = 0; t < positions; t++, v += stride) {
                o += att[t] * values[v];
            }
            out[outOffset + i] = o;
        }
    }
}
