package llama2.train;

import llama2.engine.Config;
import llama2.engine.Rope;

/**
 * The weights being trained: one flat array in llama2.c's order (see {@link ParameterLayout}),
 * plus a transposed copy of every matrix that the forward pass reads (refreshed after each
 * optimizer step, which costs one pass over the weights), plus RoPE's cosine and sine tables.
 */
public final class Model {
    public final ParameterLayout layout;
    public final float[] params;
    /** Same offsets as {@link #params}; each matrix {@code [out][in]} stored as {@code [in][out]}. */
    final float[] transposed;
    /** {@code [seqLen][headSize/2]}: {@link Rope}'s angles, the engine's. */
    final float[] ropeCos, ropeSin;

    public Model(ParameterLayout layout, float[] params) {
        if (params.length != layout.size) {
            throw new IllegalArgumentException("expected " + layout.size + " parameters, got " + params.length);
        }
        this.layout = layout;
        this.params = params;
        this.transposed = new float[layout.size];
        int half = layout.headSize / 2;
        ropeCos = new float[layout.seqLen * half];
        ropeSin = new float[layout.seqLen * half];
        float[] freq = Rope.frequencies(layout.headSize);
        for (int pos = 0; pos < layout.seqLen; pos++) {
            Rope.angles(freq, pos, ropeCos, ropeSin, pos * half);
        }
        refreshTransposed();
    }

    public Config config() {
        return layout.config;
    }

    /** Call after every change to {@link #params}. */
    public void refreshTransposed() {
        int d = layout.dim, kv = layout.kvDim, hidden = layout.hidden;
        for (int l = 0; l < layout.layers; l++) {
            transposeMatrix(layout.wq(l), d, d);
            transposeMatrix(layout.wk(l), kv, d);
            transposeMatrix(layout.wv(l), kv, d);
            transposeMatrix(layout.wo(l), d, d);
            transposeMatrix(layout.w1(l), hidden, d);
            transposeMatrix(layout.w2(l), d, hidden);
            transposeMatrix(layout.w3(l), hidden, d);
        }
        transposeMatrix(layout.classifier, layout.vocab, d);
    }

    private void transposeMatrix(int offset, int rows, int cols) {
        Kernels.transpose(params, offset, transposed, offset, rows, cols);
    }
}
