package llama2.engine;

/**
 * A weight matrix {@code W[rows][cols]}, row-major, as llama2.c stores every linear layer
 * ({@code [out][in]}). Two kinds exist: {@link FloatMatrix} (run.c) and {@link QuantizedMatrix}
 * (runq.c); the transformer does not care which it holds.
 */
public interface Matrix {
    int rows();

    int cols();

    /** {@code out[i] = Σ_j W[i][j] * x[j]} for every row, in the reference's arithmetic. */
    void multiply(float[] x, float[] out);

    /** Writes row {@code row} as floats (an embedding lookup). */
    void copyRow(int row, float[] out);
}
