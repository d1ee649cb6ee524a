package llama2.train;

import java.nio.file.Path;
import java.util.Arrays;

import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.engine.FloatMatrix;
import llama2.engine.Matrix;
import llama2.engine.Tokenizer;
import llama2.engine.Weights;
import llama2.io.SafeFiles;

/**
 * Moves weights between the trainer's flat array and the engine's {@link Weights}, so that the
 * engine's reader and writer handle every llama2.c file format (versions 0, 1 and 2).
 */
public final class WeightsBridge {
    private WeightsBridge() {}

    /** The engine's view of the flat parameters (a copy). */
    public static Weights toWeights(ParameterLayout l, float[] p) {
        Config c = l.config;
        Matrix embedding = matrix(p, l.tokenEmbedding, l.vocab, l.dim);
        Matrix[] wq = new Matrix[l.layers], wk = new Matrix[l.layers], wv = new Matrix[l.layers], wo = new Matrix[l.layers];
        Matrix[] w1 = new Matrix[l.layers], w2 = new Matrix[l.layers], w3 = new Matrix[l.layers];
        float[][] rmsAtt = new float[l.layers][], rmsFfn = new float[l.layers][];
        for (int i = 0; i < l.layers; i++) {
            rmsAtt[i] = Arrays.copyOfRange(p, l.rmsAtt(i), l.rmsAtt(i) + l.dim);
            rmsFfn[i] = Arrays.copyOfRange(p, l.rmsFfn(i), l.rmsFfn(i) + l.dim);
            wq[i] = matrix(p, l.wq(i), l.dim, l.dim);
            wk[i] = matrix(p, l.wk(i), l.kvDim, l.dim);
            wv[i] = matrix(p, l.wv(i), l.kvDim, l.dim);
            wo[i] = matrix(p, l.wo(i), l.dim, l.dim);
            w1[i] = matrix(p, l.w1(i), l.hidden, l.dim);
            w2[i] = matrix(p, l.w2(i), l.dim, l.hidden);
            w3[i] = matrix(p, l.w3(i), l.hidden, l.dim);
        }
        float[] rmsFinal = Arrays.copyOfRange(p, l.rmsFinal, l.rmsFinal + l.dim);
        Matrix classifier = c.sharedClassifier() ? embedding : matrix(p, l.classifier, l.vocab, l.dim);
        return new Weights(c, embedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, classifier);
    }

    private static Matrix matrix(float[] p, int offset, int rows, int cols) {
        return new FloatMatrix(rows, cols, Arrays.copyOfRange(p, offset, offset + rows * cols));
    }

    /** The flat parameters of any checkpoint (quantized matrices are dequantized). */
    public static float[] fromWeights(ParameterLayout l, Weights w) {
        float[] p = new float[l.size];
        copy(w.tokenEmbedding(), p, l.tokenEmbedding);
        for (int i = 0; i < l.layers; i++) {
            System.arraycopy(w.rmsAtt()[i], 0, p, l.rmsAtt(i), l.dim);
            System.arraycopy(w.rmsFfn()[i], 0, p, l.rmsFfn(i), l.dim);
            copy(w.wq()[i], p, l.wq(i));
            copy(w.wk()[i], p, l.wk(i));
            copy(w.wv()[i], p, l.wv(i));
            copy(w.wo()[i], p, l.wo(i));
            copy(w.w1()[i], p, l.w1(i));
            copy(w.w2()[i], p, l.w2(i));
            copy(w.w3()[i], p, l.w3(i));
        }
        System.arraycopy(w.rmsFinal(), 0, p, l.rmsFinal, l.dim);
        if (!l.config.sharedClassifier()) {
            copy(w.classifier(), p, l.classifier);
        }
        return p;
    }

    private static void copy(Matrix m, float[] p, int offset) {
        float[] row = new float[m.cols()];
        for (int r = 0; r < m.rows(); r++) {
            m.copyRow(r, row);
            System.arraycopy(row, 0, p, offset + r * m.cols(), m.cols());
        }
    }

    /**
     * Writes a llama2.c checkpoint (version 0, 1 or 2) atomically and durably; weights that are
     * not all finite are refused, so a diverged run never replaces a good file.
     */
    public static void export(ParameterLayout l, float[] params, int version, Path path) {
        requireFinite(params, path.toString());
        SafeFiles.write(path, out -> write(l, params, version, out));
    }

    /** Writes a llama2.c checkpoint (version 0, 1 or 2) to a stream; the caller checks the weights are finite. */
    public static void write(ParameterLayout l, float[] params, int version, java.io.OutputStream out) throws java.io.IOException {
        int groupSize = version == 2 ? Checkpoint.defaultGroupSize(l.config) : 0;
        Checkpoint.write(toWeights(l, params), version, groupSize, out);
    }

    /** Refuses weights that are not all finite: {@code target} names the file they were going to. */
    public static void requireFinite(float[] values, String target) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new BadInputException("refusing to write " + target + ": parameter " + i + " is " + values[i]
                        + " (the run diverged; lower --lr)");
            }
        }
    }

    public static Checkpoint readCheckpoint(Path path) {
        return SafeFiles.parse(path, file -> Checkpoint.read(file, path.toString()));
    }

    public static Tokenizer readTokenizer(Path path, int vocabSize) {
        return SafeFiles.parse(path, file -> Tokenizer.read(file, vocabSize, path.toString()));
    }
}
