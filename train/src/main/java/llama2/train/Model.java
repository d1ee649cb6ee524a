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
        ParameterLayout l = layout;
        for (int layer = 0; layer < l.layers; layer++) {
            transposeMatrix(l.wq(layer), l.dim, l.dim);
            transposeMatrix(l.wk(layer), l.kvDim, l.dim);
            transposeMatrix(l.wv(layer), l.kvDim, l.dim);
            transposeMatrix(l.wo(layer), l.dim, l.dim);
            transposeMatrix(l.w1(layer), l.hidden, l.dim);
            transposeMatrix(l.w2(layer), l.dim, l.hidden);
            transposeMatrix(l.w3(layer), l.hidden, l.dim);
        }
        transposeMatrix(l.classifier, l.vocab, l.dim);
    }

    private void transposeMatrix(int offset, int rows, int cols) {
        Kernels.transpose(params, offset, transposed, offset, rows, cols);
    }
}
