package llama2.engine;

/** Reads the tensors of a checkpoint whose header and size have been checked. */
final class TensorReader {
    private final LittleEndianReader in;
    private final Config c;
    private final int groupSize;

    TensorReader(LittleEndianReader in, Config config, int groupSize) {
        this.in = in;
        this.c = config;
        this.groupSize = groupSize;
    }

    /** Version 0: embedding, then per kind all layers, then two unused RoPE tables, then wcls. */
    Weights readLegacy() {
        int d = c.dim(), h = c.hiddenDim(), kv = c.kvDim();
        Matrix embedding = matrix(c.vocabSize(), d, "token_embedding");
        float[][] rmsAtt = norms("rms_att");
        Matrix[] wq = matrices(d, d, "wq");
        Matrix[] wk = matrices(kv, d, "wk");
        Matrix[] wv = matrices(kv, d, "wv");
        Matrix[] wo = matrices(d, d, "wo");
        float[][] rmsFfn = norms("rms_ffn");
        Matrix[] w1 = matrices(h, d, "w1");
        Matrix[] w2 = matrices(d, h, "w2");
        Matrix[] w3 = matrices(h, d, "w3");
        float[] rmsFinal = in.readFloats(d, "rms_final");
        in.skip(2L * 4 * c.seqLen() * (c.headSize() / 2), "the RoPE tables");
        Matrix classifier = c.sharedClassifier() ? embedding : matrix(c.vocabSize(), d, "wcls");
        return new Weights(c, embedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, classifier);
    }

    /** Versions 1 and 2: the norms first, then the matrices (Q8_0 in version 2). */
    Weights readVersioned() {
        int d = c.dim(), h = c.hiddenDim(), kv = c.kvDim();
        float[][] rmsAtt = norms("rms_att");
        float[][] rmsFfn = norms("rms_ffn");
        float[] rmsFinal = in.readFloats(d, "rms_final");
        Matrix embedding = matrix(c.vocabSize(), d, "token_embedding");
        Matrix[] wq = matrices(d, d, "wq");
        Matrix[] wk = matrices(kv, d, "wk");
        Matrix[] wv = matrices(kv, d, "wv");
        Matrix[] wo = matrices(d, d, "wo");
        Matrix[] w1 = matrices(h, d, "w1");
        Matrix[] w2 = matrices(d, h, "w2");
        Matrix[] w3 = matrices(h, d, "w3");
        Matrix classifier = c.sharedClassifier() ? embedding : matrix(c.vocabSize(), d, "wcls");
        return new Weights(c, embedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, classifier);
    }

    private float[][] norms(String name) {
        float[][] w = new float[c.nLayers()][];
        for (int l = 0; l < w.length; l++) {
            w[l] = in.readFloats(c.dim(), name + "[" + l + "]");
        }
        return w;
    }

    private Matrix[] matrices(int rows, int cols, String name) {
        Matrix[] m = new Matrix[c.nLayers()];
        for (int l = 0; l < m.length; l++) {
            m[l] = matrix(rows, cols, name + "[" + l + "]");
        }
        return m;
    }

    /** One matrix: float32 values, or (Q8_0) all int8 values followed by all scales. */
    private Matrix matrix(int rows, int cols, String name) {
        int count = rows * cols;
        if (groupSize == 0) {
            return new FloatMatrix(rows, cols, in.readFloats(count, name));
        }
        byte[] values = in.readBytes(count, name);
        float[] scales = in.readFloats(count / groupSize, name + " scales");
        return new QuantizedMatrix(rows, cols, groupSize, values, scales);
    }
}
