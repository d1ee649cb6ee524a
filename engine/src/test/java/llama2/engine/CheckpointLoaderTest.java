package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
        Random random = new Random(seed);
        CheckpointLoader loader = new CheckpointLoader(file.length, "model.bin", quantize);
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
