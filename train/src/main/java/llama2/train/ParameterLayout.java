package llama2.train;

import llama2.engine.Config;

/**
 * Where each tensor of a model lives inside one flat {@code float[]}.
 *
 * <p>All parameters (and, with the same layout, their gradients and the optimizer's two moment
 * estimates) sit in a single array, in the order of a llama2.c version-0 file: token embedding,
 * rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, then wcls when it is not shared.
 * One array makes the optimizer, gradient clipping, checkpoints and export simple loops.
 * Every matrix is row-major {@code [out][in]}, exactly as llama2.c stores it.
 */
public final class ParameterLayout {
    public final Config config;
    public final int dim, hidden, layers, heads, kvHeads, headSize, kvDim, vocab, seqLen;

    public final int tokenEmbedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, classifier;
    public final int size;

    public ParameterLayout(Config config) {
        this.config = config;
        dim = config.dim();
        hidden = config.hiddenDim();
        layers = config.nLayers();
        heads = config.nHeads();
        kvHeads = config.nKvHeads();
        headSize = config.headSize();
        kvDim = config.kvDim();
        vocab = config.vocabSize();
        seqLen = config.seqLen();

        long at = 0;
        tokenEmbedding = (int) at; at += (long) vocab * dim;
        rmsAtt = (int) at;         at += (long) layers * dim;
        wq = (int) at;             at += (long) layers * dim * dim;
        wk = (int) at;             at += (long) layers * kvDim * dim;
        wv = (int) at;             at += (long) layers * kvDim * dim;
        wo = (int) at;             at += (long) layers * dim * dim;
        rmsFfn = (int) at;         at += (long) layers * dim;
        w1 = (int) at;             at += (long) layers * hidden * dim;
        w2 = (int) at;             at += (long) layers * dim * hidden;
        w3 = (int) at;             at += (long) layers * hidden * dim;
        rmsFinal = (int) at;       at += dim;
        classifier = config.sharedClassifier() ? tokenEmbedding : (int) at;
        if (!config.sharedClassifier()) {
            at += (long) vocab * dim;
        }
        if (at > Integer.MAX_VALUE - 16) {
            throw new llama2.engine.BadInputException("model has " + at + " parameters, too many for the trainer's single array");
        }
        size = (int) at;
    }

    public int wq(int layer) { return wq + layer * dim * dim; }
    public int wk(int layer) { return wk + layer * kvDim * dim; }
    public int wv(int layer) { return wv + layer * kvDim * dim; }
    public int wo(int layer) { return wo + layer * dim * dim; }
    public int w1(int layer) { return w1 + layer * hidden * dim; }
    public int w2(int layer) { return w2 + layer * dim * hidden; }
    public int w3(int layer) { return w3 + layer * hidden * dim; }
    public int rmsAtt(int layer) { return rmsAtt + layer * dim; }
    public int rmsFfn(int layer) { return rmsFfn + layer * dim; }

    /** The named tensors, for gradient checks and for deciding which ones get weight decay. */
    public record Tensor(String name, int offset, int length, boolean matrix) {}

    public Tensor[] tensors() {
        var list = new java.util.ArrayList<Tensor>();
        list.add(new Tensor("token_embedding", tokenEmbedding, vocab * dim, true));
        list.add(new Tensor("rms_att", rmsAtt, layers * dim, false));
        list.add(new Tensor("wq", wq, layers * dim * dim, true));
        list.add(new Tensor("wk", wk, layers * kvDim * dim, true));
        list.add(new Tensor("wv", wv, layers * kvDim * dim, true));
        list.add(new Tensor("wo", wo, layers * dim * dim, true));
        list.add(new Tensor("rms_ffn", rmsFfn, layers * dim, false));
        list.add(new Tensor("w1", w1, layers * hidden * dim, true));
        list.add(new Tensor("w2", w2, layers * dim * hidden, true));
        list.add(new Tensor("w3", w3, layers * hidden * dim, true));
        list.add(new Tensor("rms_final", rmsFinal, dim, false));
        if (!config.sharedClassifier()) {
            list.add(new Tensor("wcls", classifier, vocab * dim, true));
        }
        return list.toArray(new Tensor[0]);
    }

    /**
     * llama2.c's initialisation: RMSNorm weights 1, every matrix normal(0, 0.02), and the two
     * projections that write into the residual stream (wo, w2) normal(0, 0.02 / sqrt(2 layers)) so
     * the residual's variance does not grow with depth.
     */
    public float[] initialise(Rng rng) {
        float[] p = new float[size];
        float residualStd = (float) (0.02 / Math.sqrt(2.0 * layers));
        for (Tensor t : tensors()) {
            if (!t.matrix()) {
                java.util.Arrays.fill(p, t.offset(), t.offset() + t.length(), 1f);
                continue;
            }
            float std = t.name().equals("wo") || t.name().equals("w2") ? residualStd : 0.02f;
            for (int i = 0; i < t.length(); i++) {
                p[t.offset() + i] = (float) (rng.nextGaussian() * std);
            }
        }
        return p;
    }
}
