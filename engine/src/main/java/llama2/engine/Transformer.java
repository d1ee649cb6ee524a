package llama2.engine;

/**
 * The Llama 2 forward pass of run.c (and, through {@link QuantizedMatrix}, of runq.c): one
 * token at one position in, the logits for the next token out. Keeps the key/value cache of
 * the positions seen so far, so positions must be fed in order from 0.
 *
 * <p>Every float operation is the reference's, in the reference's order: that is what makes
 * generated stories identical to llama2.c's, token for token.
 */
public final class Transformer {
    private final Weights w;
    private final Config c;

    // Activations, reused at every step (run.c's RunState).
    private final float[] x;      // the residual stream
    private final float[] xb;     // a normalized copy of x, then the attention output
    private final float[] xb2;    // a projection to add back into x
    private final float[] hb;     // feed-forward hidden state
    private final float[] hb2;    // its gate
    private final float[] q;      // the query of this position
    private final float[] att;    // attention scores of one head
    private final float[] logits;
    private final float[][] keyCache;   // per layer, seqLen rows of kvDim
    private final float[][] valueCache;
    private final float[] ropeFreq;     // per pair of a head: the same at every position
    private final float[] ropeCos;      // per pair of a head, at the current position: run.c
                                        // recomputes them for every head and layer, same values
    private final float[] ropeSin;
    private final float attentionScale;

    public Transformer(Weights weights) {
        this.w = weights;
        this.c = weights.config();
        x = new float[c.dim()];
        xb = new float[c.dim()];
        xb2 = new float[c.dim()];
        hb = new float[c.hiddenDim()];
        hb2 = new float[c.hiddenDim()];
        q = new float[c.dim()];
        att = new float[c.seqLen()];
        logits = new float[c.vocabSize()];
        keyCache = new float[c.nLayers()][c.seqLen() * c.kvDim()];
        valueCache = new float[c.nLayers()][c.seqLen() * c.kvDim()];
        ropeFreq = Rope.frequencies(c.headSize());
        ropeCos = new float[c.headSize() / 2];
        ropeSin = new float[c.headSize() / 2];
        attentionScale = (float) Math.sqrt(c.headSize());
    }

    public Config config() {
        return c;
    }

    /** The logits after {@code token} at {@code pos}; the array is reused by the next call. */
    public float[] forward(int token, int pos) {
        if (token < 0 || token >= c.vocabSize()) {
            throw new BadInputException("token id " + token + " is outside the vocabulary [0, " + c.vocabSize() + ")");
        }
        if (pos < 0 || pos >= c.seqLen()) {
            throw new BadInputException("position " + pos + " is outside the context [0, " + c.seqLen() + ")");
        }
        w.tokenEmbedding().copyRow(token, x);
        Rope.angles(ropeFreq, pos, ropeCos, ropeSin, 0);
        for (int l = 0; l < c.nLayers(); l++) {
            attention(l, pos);
            feedForward(l);
        }
        rmsnorm(x, x, w.rmsFinal());
        w.classifier().multiply(x, logits);
        return logits;
    }

    private void attention(int l, int pos) {
        int kvDim = c.kvDim();
        int headSize = c.headSize();
        float[] keys = keyCache[l];
        float[] values = valueCache[l];

        rmsnorm(xb, x, w.rmsAtt()[l]);
        w.wq()[l].multiply(xb, q);
        w.wk()[l].multiply(xb, xb2);           // xb2 holds k until it moves into the cache
        rotate(q, c.dim());
        rotate(xb2, kvDim);
        System.arraycopy(xb2, 0, keys, pos * kvDim, kvDim);
        w.wv()[l].multiply(xb, xb2);
        System.arraycopy(xb2, 0, values, pos * kvDim, kvDim);

        for (int h = 0; h < c.nHeads(); h++) {
            int qOffset = h * headSize;
            int kvOffset = h / c.kvMul() * headSize;
            Attention.scores(q, qOffset, keys, kvOffset, kvDim, headSize, pos + 1, attentionScale, att);
            softmax(att, pos + 1);
            Attention.mixValues(att, pos + 1, values, kvOffset, kvDim, headSize, xb, qOffset);
        }
        w.wo()[l].multiply(xb, xb2);
        for (int i = 0; i < c.dim(); i++) {
            x[i] += xb2[i];
        }
    }

    private void feedForward(int l) {
        rmsnorm(xb, x, w.rmsFfn()[l]);
        w.w1()[l].multiply(xb, hb);
        w.w3()[l].multiply(xb, hb2);
        for (int i = 0; i < c.hiddenDim(); i++) { // SwiGLU: silu(w1·x) * (w3·x)
            float val = hb[i];
            val *= 1.0f / (1.0f + FloatMath.exp(-val));
            val *= hb2[i];
            hb[i] = val;
        }
        w.w2()[l].multiply(hb, xb);
        for (int i = 0; i < c.dim(); i++) {
            x[i] += xb[i];
        }
    }

    /** Rotates each pair (v[i], v[i+1]) of the first {@code size} entries by its RoPE angle. */
    private void rotate(float[] v, int size) {
        int headSize = c.headSize();
        for (int i = 0; i < size; i += 2) {
            int pair = (i % headSize) / 2;
            float fcr = ropeCos[pair];
            float fci = ropeSin[pair];
            float v0 = v[i];
            float v1 = v[i + 1];
            v[i] = v0 * fcr - v1 * fci;
            v[i + 1] = v0 * fci + v1 * fcr;
        }
    }

    /** {@code out = weight * x / rms(x)}, in run.c's order of operations. */
    static void rmsnorm(float[] out, float[] x, float[] weight) {
        int size = weight.length;
        float ss = 0f;
        for (int j = 0; j < size; j++) {
            ss += x[j] * x[j];
        }
        ss /= size;
        ss += 1e-5f;
        ss = 1.0f / (float) Math.sqrt(ss);
        for (int j = 0; j < size; j++) {
            out[j] = weight[j] * (ss * x[j]);
        }
    }

    /** In-place softmax of the first {@code size} entries. */
    static void softmax(float[] x, int size) {
        float max = x[0];
        for (int i = 1; i < size; i++) {
            if (x[i] > max) {
                max = x[i];
            }
        }
        float sum = 0f;
        for (int i = 0; i < size; i++) {
            x[i] = FloatMath.exp(x[i] - max);
            sum += x[i];
        }
        for (int i = 0; i < size; i++) {
            x[i] /= sum;
        }
    }
}
