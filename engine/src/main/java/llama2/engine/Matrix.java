package llama2.engine;

/**
 * A weight matrix {@code W[rows][cols]}, row-major, as llama2.c stores every linear layer
 * ({@code [out][in]}). Two kinds exist: {@link FloatMatrix} (run.c) and {@link QuantizedMatrix}
 * (runq.c); the transformer does not care which it holds.
 */
public interface Matrix {
    int rows();

    int cols();

    /**
     * {@code out[i] = Σ_j W[i][j] * x[j]} for the rows {@code i} in [from, to), in the reference's
     * arithmetic: each row's sum is the reference's whichever rows are asked for.
     */
    void multiply(Input x, float[] out, int from, int to);

    /** Writes row {@code row} as floats (an embedding lookup). */
    void copyRow(int row, float[] out);
}
