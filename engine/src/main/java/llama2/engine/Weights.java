package llama2.engine;

import java.util.function.UnaryOperator;

/**
 * All the parameters of a model, by layer. Matrices are {@link FloatMatrix} for checkpoint
 * versions 0 and 1 and {@link QuantizedMatrix} for version 2; the RMSNorm weights are always
 * float. When the classifier is shared, {@code classifier} is the very object
 * {@code tokenEmbedding}.
 */
public record Weights(Config config,
                      Matrix tokenEmbedding,
                      float[][] rmsAtt, Matrix[] wq, Matrix[] wk, Matrix[] wv, Matrix[] wo,
                      float[][] rmsFfn, Matrix[] w1, Matrix[] w2, Matrix[] w3,
                      float[] rmsFinal,
                      Matrix classifier) {

    /** These weights with every matrix quantized to Q8_0 in groups of {@code groupSize}. */
    public Weights quantized(int groupSize) {
        return withMatrices(m -> quantize(m, groupSize));
    }

    /**
     * These weights with every matrix replaced by {@code replace.apply(matrix)} (another kind of
     * matrix for the same weights, say), layer by layer; a shared classifier stays shared.
     */
    public Weights withMatrices(UnaryOperator<Matrix> replace) {
        Matrix embedding = replace.apply(tokenEmbedding);
        return new Weights(config, embedding,
                rmsAtt, all(wq, replace), all(wk, replace), all(wv, replace), all(wo, replace),
                rmsFfn, all(w1, replace), all(w2, replace), all(w3, replace),
                rmsFinal,
                config.sharedClassifier() ? embedding : replace.apply(classifier));
    }

    private static Matrix[] all(Matrix[] layers, UnaryOperator<Matrix> replace) {
        Matrix[] out = new Matrix[layers.length];
        for (int l = 0; l < layers.length; l++) {
            out[l] = replace.apply(layers[l]);
        }
        return out;
    }

    private static Matrix quantize(Matrix m, int groupSize) {
        if (m instanceof QuantizedMatrix q && q.groupSize() == groupSize) {
            return q;
        }
        if (m instanceof FloatMatrix f) {
            return QuantizedMatrix.quantize(f, groupSize);
        }
        throw new BadInputException("cannot requantize Q8_0 weights from group size "
                + ((QuantizedMatrix) m).groupSize() + " to " + groupSize);
    }

    /**
     * A model of the given shape with random weights (uniform, small, deterministic in the
     * seed): enough to measure speed and test file formats without a file.
     */
    public static Weights random(Config c, long seed) {
        RandomFloats random = new RandomFloats(seed);
        int kv = c.kvDim();
        int n = c.nLayers();
        Matrix embedding = random.matrix(c.vocabSize(), c.dim());
        return new Weights(c, embedding,
                random.norms(n, c.dim()), random.matrices(n, c.dim(), c.dim()), random.matrices(n, kv, c.dim()),
                random.matrices(n, kv, c.dim()), random.matrices(n, c.dim(), c.dim()),
                random.norms(n, c.dim()), random.matrices(n, c.hiddenDim(), c.dim()),
                random.matrices(n, c.dim(), c.hiddenDim()), random.matrices(n, c.hiddenDim(), c.dim()),
                random.norms(1, c.dim())[0],
                c.sharedClassifier() ? embedding : random.matrix(c.vocabSize(), c.dim()));
    }

    /**
     * xorshift32 floats in [-0.1, 0.1) for matrices and around 1 for norm weights. An int
     * generator, because {@code long} is slow in TeaVM's JavaScript output.
     */
    private static final class RandomFloats {
        private int state;

        RandomFloats(long seed) {
            int mixed = (int) (seed ^ (seed >>> 32));
            state = mixed == 0 ? 0x9E3779B9 : mixed;
        }

        float next() {
            state ^= state << 13;
            state ^= state >>> 17;
            state ^= state << 5;
            return ((state >>> 8) / (float) (1 << 24) - 0.5f) * 0.2f;
        }

        FloatMatrix matrix(int rows, int cols) {
            float[] v = new float[rows * cols];
            for (int i = 0; i < v.length; i++) {
                v[i] = next();
            }
            return new FloatMatrix(rows, cols, v);
        }

        Matrix[] matrices(int layers, int rows, int cols) {
            Matrix[] m = new Matrix[layers];
            for (int l = 0; l < layers; l++) {
                m[l] = matrix(rows, cols);
            }
            return m;
        }

        float[][] norms(int layers, int size) {
            float[][] w = new float[layers][size];
            for (float[] layer : w) {
                for (int i = 0; i < size; i++) {
                    layer[i] = 1f + next();
                }
            }
            return w;
        }
    }
}
