package llama2.engine;

import java.io.IOException;
import java.io.OutputStream;

/** Writes weights as a llama2.c checkpoint, in the tensor order of each version (SPEC.md). */
final class CheckpointWriter {
    private final Weights w;
    private final Config c;
    private final LittleEndianWriter out;

    CheckpointWriter(Weights weights, OutputStream stream) {
        this.w = weights;
        this.c = weights.config();
        this.out = new LittleEndianWriter(stream);
    }

    void write(int version, int groupSize) throws IOException {
        switch (version) {
            case 0 -> writeLegacy();
            case 1 -> writeVersioned(1, 0, w);
            case 2 -> {
                Checkpoint.checkGroupSize(c, groupSize, "group size");
                writeVersioned(2, groupSize, w.quantized(groupSize));
            }
            default -> throw new BadInputException("cannot write checkpoint version " + version + " (0, 1 or 2)");
        }
        out.flush();
    }

    private void writeLegacy() throws IOException {
        out.writeInt(c.dim());
        out.writeInt(c.hiddenDim());
        out.writeInt(c.nLayers());
        out.writeInt(c.nHeads());
        out.writeInt(c.nKvHeads());
        out.writeInt(c.sharedClassifier() ? c.vocabSize() : -c.vocabSize());
        out.writeInt(c.seqLen());
        writeFloat(w.tokenEmbedding());
        writeNorms(w.rmsAtt());
        writeFloat(w.wq());
        writeFloat(w.wk());
        writeFloat(w.wv());
        writeFloat(w.wo());
        writeNorms(w.rmsFfn());
        writeFloat(w.w1());
        writeFloat(w.w2());
        writeFloat(w.w3());
        out.writeFloats(w.rmsFinal());
        writeRopeTables();
        if (!c.sharedClassifier()) {
            writeFloat(w.classifier());
        }
    }

    /**
     * The cos and sin tables llama2.c's legacy exporter still writes; nobody reads them, but a
     * version 0 file must have them to have the right size.
     */
    private void writeRopeTables() throws IOException {
        int half = c.headSize() / 2;
        float[] cos = new float[c.seqLen() * half];
        float[] sin = new float[cos.length];
        float[] freq = Rope.frequencies(c.headSize());
        for (int t = 0; t < c.seqLen(); t++) {
            Rope.angles(freq, t, cos, sin, t * half);
        }
        out.writeFloats(cos);
        out.writeFloats(sin);
    }

    private void writeVersioned(int version, int groupSize, Weights weights) throws IOException {
        out.writeInt(Checkpoint.MAGIC);
        out.writeInt(version);
        out.writeInt(c.dim());
        out.writeInt(c.hiddenDim());
        out.writeInt(c.nLayers());
        out.writeInt(c.nHeads());
        out.writeInt(c.nKvHeads());
        out.writeInt(c.vocabSize());
        out.writeInt(c.seqLen());
        out.writeByte(c.sharedClassifier() ? 1 : 0);
        int headerUsed = 37;
        if (version == 2) {
            out.writeInt(groupSize);
            headerUsed += 4;
        }
        out.writeZeros(Checkpoint.HEADER_BYTES - headerUsed);
        writeNorms(weights.rmsAtt());
        writeNorms(weights.rmsFfn());
        out.writeFloats(weights.rmsFinal());
        Matrix[] all = {weights.tokenEmbedding()};
        writeMatrices(version, all);
        writeMatrices(version, weights.wq());
        writeMatrices(version, weights.wk());
        writeMatrices(version, weights.wv());
        writeMatrices(version, weights.wo());
        writeMatrices(version, weights.w1());
        writeMatrices(version, weights.w2());
        writeMatrices(version, weights.w3());
        if (!c.sharedClassifier()) {
            writeMatrices(version, new Matrix[] {weights.classifier()});
        }
    }

    private void writeMatrices(int version, Matrix[] matrices) throws IOException {
        for (Matrix m : matrices) {
            if (version == 2) {
                QuantizedMatrix q = (QuantizedMatrix) m;
                out.writeBytes(q.values());
                out.writeFloats(q.scales());
            } else {
                out.writeFloats(asFloat(m).values());
            }
        }
    }

    private void writeFloat(Matrix[] matrices) throws IOException {
        for (Matrix m : matrices) {
            writeFloat(m);
        }
    }

    private void writeFloat(Matrix m) throws IOException {
        out.writeFloats(asFloat(m).values());
    }

    private void writeNorms(float[][] norms) throws IOException {
        for (float[] layer : norms) {
            out.writeFloats(layer);
        }
    }

    /** Float formats need float weights: Q8_0 is lossy, so it is not silently widened back. */
    private static FloatMatrix asFloat(Matrix m) {
        if (m instanceof FloatMatrix f) {
            return f;
        }
        throw new BadInputException("cannot write Q8_0 weights as a float32 checkpoint (version 0 or 1)");
    }
}
