package llama2.train;

import java.util.ArrayList;
import java.util.List;

import llama2.engine.Config;

/**
 * Where each tensor of a model lives inside one flat {@code float[]}.
 *
 * <p>All parameters (and, with the same layout, their gradients and the optimizer's two moment
 * estimates) sit in a single array, in the order of a llama2.c version-0 file (see the
 * constructor).
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

        // the order of a llama2.c version-0 file, stated once: each place() appends the next tensor
        tokenEmbedding = place("token_embedding", (long) vocab * dim, true);
        rmsAtt = place("rms_att", (long) layers * dim, false);
        wq = place("wq", (long) layers * dim * dim, true);
        wk = place("wk", (long) layers * kvDim * dim, true);
        wv = place("wv", (long) layers * kvDim * dim, true);
        wo = place("wo", (long) layers * dim * dim, true);
        rmsFfn = place("rms_ffn", (long) layers * dim, false);
        w1 = place("w1", (long) layers * hidden * dim, true);
        w2 = place("w2", (long) layers * dim * hidden, true);
        w3 = place("w3", (long) layers * hidden * dim, true);
        rmsFinal = place("rms_final", dim, false);
        classifier = config.sharedClassifier() ? tokenEmbedding : place("wcls", (long) vocab * dim, true);
        size = next;
    }

    private final List<Tensor> tensors = new ArrayList<>();
    private int next;

    /** Appends a tensor of {@code length} floats after the previous one and returns its offset. */
    private int place(String name, long length, boolean matrix) {
        if (next + length > Integer.MAX_VALUE - 16) {
            throw new llama2.engine.BadInputException("model has more than " + (next + length)
                    + " parameters, too many for the trainer's single array");
        }
        tensors.add(new Tensor(name, next, (int) length, matrix));
        int offset = next;
        next += (int) length;
        return offset;
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

    /** In file order. */
    public Tensor[] tensors() {
        return tensors.toArray(new Tensor[0]);
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
