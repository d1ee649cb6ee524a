package llama2.engine;

/**
 * A vector that matrices multiply: its floats and, made on first demand, its Q8_0 form (runq.c's
 * {@code quantize}), which every quantized matrix reading the same input shares: wq, wk and wv all
 * read one normalized {@code x}, quantized once. Whoever writes the floats calls {@link #changed}.
 */
public final class Input {
    private final float[] values;
    private byte[] quantized;   // values in groups, each scaled to [-127, 127]
    private float[] scales;     // one per group
    private int groupSize;      // of the quantized form; 0 while it is stale

    public Input(float[] values) {
        this.values = values;
    }

    public float[] values() {
        return values;
    }

    /** The floats were rewritten: the quantized form is stale. */
    public void changed() {
        groupSize = 0;
    }

    /** The int8 values, quantized in groups of {@code groupSize} if they are not yet. */
    public byte[] quantized(int groupSize) {
        if (this.groupSize != groupSize) {
            quantize(groupSize);
        }
        return quantized;
    }

    /** The scales of {@link #quantized}, which must have been called first with the same group size. */
    public float[] scales() {
        return scales;
    }

    /** runq.c's {@code quantize}: C's round() rounds half away from zero, unlike the exporter. */
    private void quantize(int gs) {
        if (quantized == null || scales.length != values.length / gs) {
            quantized = new byte[values.length];
            scales = new float[values.length / gs];
        }
        for (int g = 0; g < scales.length; g++) {
            int start = g * gs;
            float scale = QuantizedMatrix.maxAbs(values, start, gs) / 127f;
            scales[g] = scale;
            for (int i = start; i < start + gs; i++) {
                quantized[i] = (byte) (int) roundHalfAwayFromZero(values[i] / scale);
            }
        }
        groupSize = gs;
    }

    private static double roundHalfAwayFromZero(float v) {
        double magnitude = Math.floor(Math.abs((double) v) + 0.5);
        return v < 0 ? -magnitude : magnitude;
    }
}
