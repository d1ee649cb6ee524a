package llama2.engine;

/**
 * Rows {@code [from, from + kept.rows())} of a larger matrix, and none of the others: what one
 * shard keeps of a weight matrix when each browser worker holds only its own slice. It multiplies
 * only the rows it holds, each row with the kept matrix's own arithmetic (so the same bits), and
 * looks up only those rows.
 */
public final class RowSlice implements Matrix {
    private final Matrix kept;
    private final int from;
    private final int rows;        // of the whole matrix
    private final float[] scratch; // the kept rows' results, before they move to their place

    /** {@code kept} holds rows [from, from + kept.rows()) of a matrix of {@code rows} rows. */
    public RowSlice(Matrix kept, int from, int rows) {
        if (from < 0 || from + kept.rows() > rows) {
            throw new IllegalArgumentException("rows [" + from + ", " + (from + kept.rows()) + ") of " + rows);
        }
        this.kept = kept;
        this.from = from;
        this.rows = rows;
        this.scratch = new float[kept.rows()];
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return kept.cols();
    }

    /** True if row {@code row} is one of the kept rows. */
    public boolean holds(int row) {
        return row >= from && row < from + kept.rows();
    }

    @Override
    public void multiply(Input x, float[] out, int from, int to) {
        if (from >= to) {
            return;
        }
        if (!holds(from) || !holds(to - 1)) {
            throw new IllegalArgumentException("rows [" + from + ", " + to + ") asked of a slice holding ["
                    + this.from + ", " + (this.from + kept.rows()) + ")");
        }
        kept.multiply(x, scratch, from - this.from, to - this.from);
        System.arraycopy(scratch, from - this.from, out, from, to - from);
    }

    @Override
    public void copyRow(int row, float[] out) {
        if (!holds(row)) {
            throw new IllegalArgumentException("row " + row + " is not in this slice");
        }
        kept.copyRow(row - from, out);
    }
}
