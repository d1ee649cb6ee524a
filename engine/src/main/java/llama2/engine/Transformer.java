package llama2.engine;

/**
 * The Llama 2 forward pass of run.c (and, through {@link QuantizedMatrix}, of runq.c): one
 * token at one position in, the logits for the next token out. Keeps the key/value cache of
 * the positions seen so far, so positions must be fed in order from 0.
 *
 * <p>Every float operation is the reference's, in the reference's order: that is what makes
 * generated stories identical to llama2.c's, token for token.
 *
 * <p>A model can be split into shards that work together (one per thread or browser worker):
 * shard {@code s} of {@code n} computes its own rows of every matrix and its own key/value heads
 * (and the query heads that read them), keeps only those heads' cache, and passes each result
 * through an {@link Exchange} to have the whole vector again. Each row is still one sum in the
 * reference's order, so the logits are the same bits for any number of shards.
 */
public final class Transformer {
    private final Weights w;
    private final Config c;
    private final Exchange exchange;

    // This shard's part (ShardRows): query and key/value rows (whole heads), and rows of the other matrices.
    private final int qFrom, qTo;           // rows of wq: the query heads of this shard's kv heads
    private final int kvFrom, kvTo;         // rows of wk and wv: this shard's kv heads
    private final int dimFrom, dimTo;       // rows of wo and w2
    private final int hiddenFrom, hiddenTo; // rows of w1 and w3
    private final int vocabFrom, vocabTo;   // rows of the classifier
    private final boolean embeddingSplit;   // each shard holds only its rows of the embedding

    // Activations, reused at every step (run.c's RunState).
    private final float[] x;      // the residual stream
    private final float[] xb;     // a normalized copy of x, then the attention output
    private final float[] xb2;    // a projection to add back into x
    private final float[] hb;     // feed-forward hidden state
    private final float[] hb2;    // its gate
    private final float[] q;      // the query of this position
    private final float[] k;      // its key and value, until they move into the cache
    private final float[] v;
    private final float[] att;    // attention scores of one head
    private final float[] logits;
    private final Input xIn;      // the same arrays as matrix inputs
    private final Input xbIn;
    private final Input hbIn;
    private final float[][] keyCache;   // per layer, seqLen rows of this shard's kv heads
    private final float[][] valueCache;
    private final int cacheStride;      // floats per position in the cache
    private final float[] ropeFreq;     // per pair of a head: the same at every position
    private final float[] ropeCos;      // per pair of a head, at the current position: run.c
    private final float[] ropeSin;      // recomputes them for every head and layer, same values
    private final float attentionScale;
    private int aheadToken = -1;        // a forward pass already run stage by stage, not yet returned
    private int aheadPos = -1;

    /** The whole model in one shard. */
    public Transformer(Weights weights) {
        this(weights, 0, 1, Exchange.NONE);
    }

    /**
     * Shard {@code shard} of {@code shards}, exchanging through {@code exchange}. The weights hold
     * the whole model (shards on threads share one copy) or at least this shard's rows
     * ({@link CheckpointLoader} with its {@link ShardRows}: each browser worker holds its slice).
     */
    public Transformer(Weights weights, int shard, int shards, Exchange exchange) {
        this.w = weights;
        this.c = weights.config();
        this.exchange = exchange;
        int headSize = c.headSize();
        ShardRows rows = ShardRows.of(c, shard, shards);
        qFrom = rows.qFrom();
        qTo = rows.qTo();
        kvFrom = rows.kvFrom();
        kvTo = rows.kvTo();
        dimFrom = rows.dimFrom();
        dimTo = rows.dimTo();
        hiddenFrom = rows.hiddenFrom();
        hiddenTo = rows.hiddenTo();
        vocabFrom = rows.vocabFrom();
        vocabTo = rows.vocabTo();
        embeddingSplit = weights.tokenEmbedding() instanceof RowSlice;

        x = new float[c.dim()];
        xb = new float[c.dim()];
        xb2 = new float[c.dim()];
        hb = new float[c.hiddenDim()];
        hb2 = new float[c.hiddenDim()];
        q = new float[c.dim()];
        k = new float[c.kvDim()];
        v = new float[c.kvDim()];
        att = new float[c.seqLen()];
        logits = new float[c.vocabSize()];
        xIn = new Input(x);
        xbIn = new Input(xb);
        hbIn = new Input(hb);
        cacheStride = kvTo - kvFrom;
        keyCache = new float[c.nLayers()][c.seqLen() * cacheStride];
        valueCache = new float[c.nLayers()][c.seqLen() * cacheStride];
        ropeFreq = Rope.frequencies(headSize);
        ropeCos = new float[headSize / 2];
        ropeSin = new float[headSize / 2];
        attentionScale = (float) Math.sqrt(headSize);
    }

    public Config config() {
        return c;
    }

    /** The logits after {@code token} at {@code pos}; the array is reused by the next call. */
    public float[] forward(int token, int pos) {
        check(token, pos);
        boolean ahead = token == aheadToken && pos == aheadPos;
        aheadToken = -1; // good for the very next call only
        if (ahead) {     // already run stage by stage
            return logits;
        }
        exchange.begin(token, pos);
        for (int s = 0; s < stages(); s++) {
            run(token, pos, s);
        }
        return logits;
    }

    /**
     * The forward pass in stages, for launchers whose shards exchange asynchronously (browser
     * workers passing messages): {@link #stage} runs one, which ends with at most one
     * {@link Exchange#allGather}; such an exchange may return before the vector is whole, and the
     * launcher completes it before the next stage. Once the last stage ran, the next call of
     * {@link #forward}, if for the same token and position, returns its logits without computing
     * them again.
     */
    public int stages() {
        return 2 + 4 * c.nLayers();
    }

    /** Stage {@code s} of the forward pass of {@code token} at {@code pos} (see {@link #stages}). */
    public void stage(int token, int pos, int s) {
        if (s == 0) {
            check(token, pos);
        }
        run(token, pos, s);
        if (s == stages() - 1) {
            aheadToken = token;
            aheadPos = pos;
        }
    }

    private void check(int token, int pos) {
        if (token < 0 || token >= c.vocabSize()) {
            throw new BadInputException("token id " + token + " is outside the vocabulary [0, " + c.vocabSize() + ")");
        }
        if (pos < 0 || pos >= c.seqLen()) {
            throw new BadInputException("position " + pos + " is outside the context [0, " + c.seqLen() + ")");
        }
    }

    /**
     * Stage {@code s}: the token's embedding; then per layer the attention heads, their output
     * projection, the feed-forward hidden layer and its output, each ending with the exchange of
     * its result, which joins the residual stream {@code x} at the start of the stage after; last
     * the classifier.
     */
    private void run(int token, int pos, int s) {
        if (s == 0) {
            Rope.angles(ropeFreq, pos, ropeCos, ropeSin, 0);
            embed(token);
            return;
        }
        int l = (s - 1) / 4;
        switch (s == stages() - 1 ? 4 : (s - 1) % 4) {
            case 0 -> {
                if (l > 0) {
                    residual(xb); // the previous layer's feed-forward output
                }
                attentionHeads(l, pos);
            }
            case 1 -> attentionOutput(l);
            case 2 -> {
                residual(xb2);    // the attention output
                feedForwardHidden(l);
            }
            case 3 -> feedForwardOutput(l);
            default -> {
                residual(xb);     // the last layer's feed-forward output
                classifier();
            }
        }
    }

    /** {@code x} = the token's embedding; when each shard holds only its rows of it, the holder passes it on. */
    private void embed(int token) {
        if (embeddingSplit) {
            boolean mine = ((RowSlice) w.tokenEmbedding()).holds(token);
            if (mine) {
                w.tokenEmbedding().copyRow(token, x);
            }
            exchange.allGather(x, 0, mine ? c.dim() : 0);
        } else {
            w.tokenEmbedding().copyRow(token, x);
        }
    }

    /** Queries, keys and values of this shard's heads, the keys and values into the cache, then attention per head. */
    private void attentionHeads(int l, int pos) {
        int headSize = c.headSize();
        float[] keys = keyCache[l];
        float[] values = valueCache[l];

        rmsnorm(xb, x, w.rmsAtt()[l]);
        xbIn.changed();
        w.wq()[l].multiply(xbIn, q, qFrom, qTo);
        w.wk()[l].multiply(xbIn, k, kvFrom, kvTo);
        w.wv()[l].multiply(xbIn, v, kvFrom, kvTo);
        rotate(q, qFrom, qTo);
        rotate(k, kvFrom, kvTo);
        System.arraycopy(k, kvFrom, keys, pos * cacheStride, cacheStride);
        System.arraycopy(v, kvFrom, values, pos * cacheStride, cacheStride);

        for (int h = qFrom / headSize; h < qTo / headSize; h++) {
            int qOffset = h * headSize;
            int cacheOffset = h / c.kvMul() * headSize - kvFrom;
            Attention.scores(q, qOffset, keys, cacheOffset, cacheStride, headSize, pos + 1, attentionScale, att);
            softmax(att, pos + 1);
            Attention.mixValues(att, pos + 1, values, cacheOffset, cacheStride, headSize, xb, qOffset);
        }
        exchange.allGather(xb, qFrom, qTo);
    }

    private void attentionOutput(int l) {
        xbIn.changed();
        w.wo()[l].multiply(xbIn, xb2, dimFrom, dimTo);
        exchange.allGather(xb2, dimFrom, dimTo);
    }

    private void feedForwardHidden(int l) {
        rmsnorm(xb, x, w.rmsFfn()[l]);
        xbIn.changed();
        w.w1()[l].multiply(xbIn, hb, hiddenFrom, hiddenTo);
        w.w3()[l].multiply(xbIn, hb2, hiddenFrom, hiddenTo);
        for (int i = hiddenFrom; i < hiddenTo; i++) { // SwiGLU: silu(w1·x) * (w3·x)
            float val = hb[i];
            val *= 1.0f / (1.0f + FloatMath.exp(-val));
            val *= hb2[i];
            hb[i] = val;
        }
        exchange.allGather(hb, hiddenFrom, hiddenTo);
    }

    private void feedForwardOutput(int l) {
        hbIn.changed();
        w.w2()[l].multiply(hbIn, xb, dimFrom, dimTo);
        exchange.allGather(xb, dimFrom, dimTo);
    }

    private void classifier() {
        rmsnorm(x, x, w.rmsFinal());
        xIn.changed();
        w.classifier().multiply(xIn, logits, vocabFrom, vocabTo);
        exchange.allGather(logits, vocabFrom, vocabTo);
    }

    /** {@code x += delta}: a block's output joins the residual stream. */
    private void residual(float[] delta) {
        for (int i = 0; i < c.dim(); i++) {
            x[i] += delta[i];
        }
    }

    /** Rotates each pair (v[i], v[i+1]) in [from, to), whole heads, by its RoPE angle. */
    private void rotate(float[] v, int from, int to) {
        int headSize = c.headSize();
        for (int i = from; i < to; i += 2) {
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
