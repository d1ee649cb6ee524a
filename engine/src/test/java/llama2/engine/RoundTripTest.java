package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Writing a model in each format and reading it back. */
class RoundTripTest {

    static byte[] write(Weights weights, int version, int groupSize) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Checkpoint.write(weights, version, groupSize, out);
        return out.toByteArray();
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {0, 1})
    void floatFormatsGiveBitIdenticalLogits(int version) throws IOException {
        for (String model : new String[] {"stories260K.bin", "tiny32k_unshared_v0.bin"}) {
            Weights original = Shared.checkpoint(model).weights();
            byte[] file = write(original, version, 0);
            assertEquals(Checkpoint.fileSize(original.config(), version, 0), file.length, "size of the written file");
            Checkpoint reread = Checkpoint.read(ByteBuffer.wrap(file));
            assertEquals(version, reread.version());
            assertEquals(original.config(), reread.config());
            Transformer a = new Transformer(original);
            Transformer b = new Transformer(reread.weights());
            int[] tokens = {1, 403, 407, 261, 378, 346, 266};
            for (int pos = 0; pos < tokens.length; pos++) {
                assertArrayEquals(a.forward(tokens[pos], pos).clone(), b.forward(tokens[pos], pos), model + " position " + pos);
            }
        }
    }

    @Test
    void versionZeroIsByteIdenticalToLlamaCsExport() throws IOException {
        byte[] original = Shared.bytes(Shared.model("tiny32k_v0.bin"));
        byte[] rewritten = write(Checkpoint.read(ByteBuffer.wrap(original)).weights(), 0, 0);
        // The RoPE tables are not read, and this engine computes them with run.c's float
        // arithmetic, not torch's: everything else must be the same bytes.
        Config c = Shared.checkpoint("tiny32k_v0.bin").config();
        long ropeStart = Checkpoint.fileSize(c, 0, 0) - 2L * 4 * c.seqLen() * (c.headSize() / 2);
        assertArrayEquals(java.util.Arrays.copyOf(original, (int) ropeStart), java.util.Arrays.copyOf(rewritten, (int) ropeStart));
        assertEquals(original.length, rewritten.length);
    }

    @Test
    void versionOneIsByteIdenticalToLlamaCsExport() throws IOException {
        byte[] original = Shared.bytes(Shared.model("tiny32k_v1.bin"));
        byte[] rewritten = write(Checkpoint.read(ByteBuffer.wrap(original)).weights(), 1, 0);
        assertArrayEquals(original, rewritten);
    }

    /**
     * stories260K_q80.bin is llama2.c's export of stories260K in version 2 with group size 4:
     * quantizing the float model must give exactly the same file.
     */
    @Test
    void quantizingMatchesLlamaCsExporterByteForByte() throws IOException {
        Weights floats = Shared.checkpoint("stories260K.bin").weights();
        assertArrayEquals(Shared.bytes(Shared.model("stories260K_q80.bin")), write(floats, 2, 4));
    }

    @Test
    void quantizedFileReadBackGeneratesTheReferenceIds() throws IOException {
        GoldenCase golden = GoldenCase.all().stream().filter(c -> c.name().equals("s260k_q80_greedy")).findFirst().orElseThrow();
        Weights floats = Shared.checkpoint("stories260K.bin").weights();
        Checkpoint q = Checkpoint.read(ByteBuffer.wrap(write(floats, 2, 4)));
        assertEquals(2, q.version());
        assertEquals(4, q.groupSize());
        Tokenizer tokenizer = Shared.tokenizer(golden.tokenizer(), q.config().vocabSize());
        Generation generation = new Generation(new Transformer(q.weights()), tokenizer,
                new Sampler(q.config().vocabSize(), golden.temperature(), golden.topp(), golden.seed()), golden.prompt(), golden.steps());
        while (!generation.step().isLast()) {
            // run to the end
        }
        assertArrayEquals(golden.ids(), generation.ids());
    }

    @Test
    void tokenizerRoundTripsByteForByte() throws IOException {
        for (String name : new String[] {"tok512.bin", "tokenizer.bin"}) {
            byte[] original = Shared.bytes(Shared.model(name));
            int vocab = name.equals("tok512.bin") ? 512 : 32000;
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Tokenizer.read(ByteBuffer.wrap(original), vocab).write(out);
            assertArrayEquals(original, out.toByteArray(), name);
        }
    }
}
