package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** A checkpoint read chunk by chunk, and quantized on load. */
class CheckpointLoaderTest {

    private static Checkpoint load(byte[] file, int maxChunk, boolean quantize, long seed) {
        return load(new CheckpointLoader(file.length, "model.bin", quantize), file, maxChunk, seed);
    }

    private static Checkpoint load(CheckpointLoader loader, byte[] file, int maxChunk, long seed) {
        Random random = new Random(seed);
        for (int at = 0; at < file.length; ) {
            int n = Math.min(file.length - at, 1 + random.nextInt(maxChunk));
            loader.accept(ByteBuffer.wrap(java.util.Arrays.copyOfRange(file, at, at + n)));
            at += n;
        }
        return loader.finish();
    }

    private static byte[] write(Checkpoint c) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Checkpoint.write(c.weights(), c.version(), c.groupSize(), out);
        return out.toByteArray();
    }

    /** Chunks of any size, floats split between them included, give what one buffer gives. */
    @Test
    void chunksOfAnySizeReadTheSameWeights() throws IOException {
        for (String name : new String[] {"stories260K.bin", "stories260K_q80.bin", "tiny32k_v0.bin",
                "tiny32k_v1.bin", "tiny32k_unshared_v0.bin", "tiny32k_q80.bin"}) {
            byte[] file = Shared.bytes(Shared.model(name));
            Checkpoint whole = Checkpoint.read(ByteBuffer.wrap(file));
            for (int maxChunk : new int[] {7, 4096, 1 << 20}) {
                Checkpoint chunked = load(file, maxChunk, false, maxChunk);
                assertEquals(whole.version(), chunked.version(), name);
                assertArrayEquals(write(whole), write(chunked), name + " in chunks up to " + maxChunk);
            }
        }
    }

    /** Quantizing on load is llama2.c's exporter: the same bytes as its stories260K_q80.bin. */
    @Test
    void quantizeOnLoadEqualsTheExportersQ80File() throws IOException {
        Checkpoint q = load(Shared.bytes(Shared.model("stories260K.bin")), 999, true, 1);
        assertEquals(2, q.version());
        assertEquals(4, q.groupSize());
        assertArrayEquals(Shared.bytes(Shared.model("stories260K_q80.bin")), write(q));
    }

    /** ... and what quantizing the loaded fp32 weights gives, for a shape with an unshared classifier. */
    @Test
    void quantizeOnLoadEqualsQuantizingAfterwards() throws IOException {
        for (String name : new String[] {"tiny32k_v1.bin", "tiny32k_unshared_v0.bin"}) {
            byte[] file = Shared.bytes(Shared.model(name));
            Checkpoint floats = Checkpoint.read(ByteBuffer.wrap(file));
            int gs = Checkpoint.defaultGroupSize(floats.config());
            Checkpoint expected = new Checkpoint(2, gs, floats.weights().quantized(gs));
            assertArrayEquals(write(expected), write(load(file, 5000, true, 2)), name);
        }
    }

    /**
     * Packed as they arrive (for WebAssembly's kernel), Q8_0 matrices read from a file or
     * quantized on load hold the same weights and give the same products, bit for bit, also
     * in a shard's slice.
     */
    @Test
    void packingOnLoadKeepsTheWeightsAndTheirProducts() {
        for (String name : new String[] {"stories260K_q80.bin", "tiny32k_q80.bin", "stories260K.bin", "tiny32k_unshared_v0.bin"}) {
            byte[] file = Shared.bytes(Shared.model(name));
            for (int[] shard : new int[][] {{0, 1}, {1, 3}}) {
                CheckpointLoader plain = new CheckpointLoader(file.length, name, true, shard[0], shard[1]);
                CheckpointLoader packing = new CheckpointLoader(file.length, name, true, shard[0], shard[1]).packingQuantized();
                List<Matrix> expected = matrices(load(plain, file, 3000, 5).weights());
                List<Matrix> packed = matrices(load(packing, file, 3000, 6).weights());
                for (int m = 0; m < expected.size(); m++) {
                    String what = name + ", shard " + shard[0] + " of " + shard[1] + ", matrix " + m;
                    if (shard[1] == 1) {
                        assertInstanceOf(QuantizedMatrix.class, expected.get(m), what);
                        assertInstanceOf(PackedQuantizedMatrix.class, packed.get(m), what);
                    }
                    assertSameMatrix(expected.get(m), packed.get(m), what);
                }
            }
        }
    }

    /**
     * A shard that reads only the bytes it wants and jumps over those it may skip (what a
     * browser worker does with File.slice) keeps the same weights as one given the whole file,
     * and reads less of it the more shards there are.
     */
    @Test
    void aShardReadsOnlyItsRangesAndKeepsTheSameWeights() {
        for (String name : new String[] {"stories260K.bin", "stories260K_q80.bin", "tiny32k_v0.bin", "tiny32k_unshared_v0.bin",
                "tiny32k_q80.bin"}) {
            byte[] file = Shared.bytes(Shared.model(name));
            for (int shards = 1; shards <= 3; shards++) {
                for (boolean quantize : new boolean[] {false, true}) {
                    long read = 0;
                    for (int shard = 0; shard < shards; shard++) {
                        String what = name + ", shard " + shard + " of " + shards + (quantize ? ", quantized" : "");
                        CheckpointLoader whole = new CheckpointLoader(file.length, name, quantize, shard, shards);
                        whole.accept(ByteBuffer.wrap(file));
                        CheckpointLoader ranges = new CheckpointLoader(file.length, name, quantize, shard, shards);
                        long at = 0;
                        while (at < file.length) {
                            long skip = ranges.skippable();
                            long wanted = ranges.wanted(); // after the skip
                            ranges.skip(skip);
                            at += skip;
                            assertEquals(wanted, ranges.wanted(), what + ": wanted at " + at);
                            assertTrue(wanted > 0 || at == file.length, what + ": wants nothing at " + at);
                            for (long end = at + wanted; at < end; ) { // in pieces, a float split between two
                                int n = (int) Math.min(end - at, 1000 + at % 7);
                                ranges.accept(ByteBuffer.wrap(file, (int) at, n).slice());
                                at += n;
                                read += n;
                            }
                        }
                        List<Matrix> expected = matrices(whole.finish().weights());
                        List<Matrix> actual = matrices(ranges.finish().weights());
                        for (int m = 0; m < expected.size(); m++) {
                            assertSameMatrix(expected.get(m), actual.get(m), what + ", matrix " + m);
                        }
                    }
                    boolean legacy = name.contains("v0") || name.equals("stories260K.bin");
                    if (shards == 1 && !legacy) {
                        assertEquals(file.length, read, name + ": one shard reads the whole file");
                    } else {
                        assertTrue(read < (long) file.length * shards, name + ": " + shards + " shards read " + read);
                    }
                    if (shards > 1) {
                        assertTrue(read < file.length * 1.2, name + ": " + shards + " shards read " + read + " bytes of "
                                + file.length + " between them");
                    }
                }
            }
        }
    }

    private static List<Matrix> matrices(Weights weights) {
        List<Matrix> all = new java.util.ArrayList<>();
        weights.withMatrices(m -> {
            all.add(m);
            return m;
        });
        return all;
    }

    /** Row by row (those a slice holds) and in one product, the same floats. */
    private static void assertSameMatrix(Matrix expected, Matrix actual, String what) {
        int from = -1, to = -1;
        float[] a = new float[expected.cols()], b = new float[expected.cols()];
        for (int row = 0; row < expected.rows(); row++) {
            if (expected instanceof RowSlice slice && !slice.holds(row)) {
                continue;
            }
            from = from < 0 ? row : from;
            to = row + 1;
            expected.copyRow(row, a);
            actual.copyRow(row, b);
            assertArrayEquals(a, b, what + ", row " + row);
        }
        float[] x = new float[expected.cols()];
        Random random = new Random(expected.rows());
        for (int j = 0; j < x.length; j++) {
            x[j] = (float) random.nextGaussian();
        }
        float[] outExpected = new float[expected.rows()], outActual = new float[expected.rows()];
        expected.multiply(new Input(x), outExpected, from, to);
        actual.multiply(new Input(x), outActual, from, to);
        assertArrayEquals(outExpected, outActual, what + ", product");
    }

    @Test
    void aFileThatStopsShortSaysWhere() {
        byte[] file = Shared.bytes(Shared.model("stories260K.bin"));
        CheckpointLoader loader = new CheckpointLoader(file.length, "model.bin", false);
        loader.accept(ByteBuffer.wrap(file, 0, file.length / 2));
        BadInputException e = assertThrows(BadInputException.class, loader::finish);
        assertTrue(e.getMessage().startsWith("model.bin: truncated: " + file.length / 2 + " of " + file.length), e.getMessage());
    }

    /** Shards loading one file keep disjoint slices that together are every row, once. */
    @Test
    void eachShardKeepsOnlyItsOwnRows() {
        for (String name : new String[] {"tiny32k_unshared_v0.bin", "tiny32k_q80.bin"}) {
            byte[] file = Shared.bytes(Shared.model(name));
            int shards = 3;
            Weights[] slices = new Weights[shards];
            for (int s = 0; s < shards; s++) {
                CheckpointLoader loader = new CheckpointLoader(file.length, name, false, s, shards);
                loader.accept(ByteBuffer.wrap(file));
                slices[s] = loader.finish().weights();
            }
            List<Function<Weights, Matrix[]>> kinds = List.of(
                    w -> new Matrix[] {w.tokenEmbedding(), w.classifier()}, Weights::wq, Weights::wk, Weights::w1, Weights::w2);
            for (var kind : kinds) {
                for (int m = 0; m < kind.apply(slices[0]).length; m++) {
                    int rows = kind.apply(slices[0])[m].rows();
                    for (int row = 0; row < rows; row++) {
                        int holders = 0;
                        for (Weights slice : slices) {
                            holders += ((RowSlice) kind.apply(slice)[m]).holds(row) ? 1 : 0;
                        }
                        assertEquals(1, holders, name + ": row " + row + " held by one shard");
                    }
                }
            }
        }
    }
}
