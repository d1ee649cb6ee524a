package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * Mutates small valid files thousands of times (seeded, so a failure reproduces) and checks
 * that reading them, and running what loads, only ever fails with {@link BadInputException}.
 */
class FuzzTest {
    private static final int ROUNDS = 1500;

    @Test
    void mutatedCheckpointsFailOnlyWithTheDocumentedError() {
        Random random = new Random(20261127);
        byte[][] originals = {TinyModels.file(0), TinyModels.file(1), TinyModels.file(2)};
        int loaded = 0;
        for (int round = 0; round < ROUNDS; round++) {
            byte[] file = mutate(originals[round % 3], random);
            try {
                Checkpoint checkpoint = Checkpoint.read(ByteBuffer.wrap(file), "fuzz");
                Transformer transformer = new Transformer(checkpoint.weights());
                int vocab = checkpoint.config().vocabSize();
                Sampler sampler = new Sampler(vocab, 1f, 0.9f, round);
                int token = Tokenizer.BOS;
                for (int pos = 0; pos < Math.min(3, checkpoint.config().seqLen()); pos++) {
                    token = sampler.sample(transformer.forward(token, pos));
                }
                loaded++;
            } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
                assertDocumentedError(e, round);
            }
        }
        // Mutations of tensor bytes leave a valid file: both paths must have been exercised.
        assertTrue(loaded > 50 && loaded < ROUNDS - 50, "loaded " + loaded + " of " + ROUNDS);
    }

    @Test
    void mutatedTokenizersFailOnlyWithTheDocumentedError() {
        Random random = new Random(42);
        byte[] original = TinyModels.tokenizerFile(300);
        int loaded = 0;
        for (int round = 0; round < ROUNDS; round++) {
            byte[] file = mutate(original, random);
            try {
                Tokenizer tokenizer = Tokenizer.read(ByteBuffer.wrap(file), 300, "fuzz");
                int[] ids = tokenizer.encode("abc cab, a b\u00e9!", true, true);
                for (int i = 1; i < ids.length; i++) {
                    new Utf8Stream().append(tokenizer.decode(ids[i - 1], ids[i]));
                }
                loaded++;
            } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
                assertDocumentedError(e, round);
            }
        }
        assertTrue(loaded > 50 && loaded < ROUNDS - 50, "loaded " + loaded + " of " + ROUNDS);
    }

    private static void assertDocumentedError(Throwable e, int round) {
        if (!(e instanceof BadInputException)) {
            fail("round " + round + " escaped with " + e, e);
        }
        assertFalse(e.getMessage().isBlank() || e.getMessage().contains("\n"), e.getMessage());
    }

    /** One of: flip random bytes, overwrite an int near the start, truncate, or append. */
    static byte[] mutate(byte[] original, Random random) {
        byte[] file = original.clone();
        switch (random.nextInt(4)) {
            case 0 -> {
                for (int i = 0, n = 1 + random.nextInt(4); i < n; i++) {
                    file[random.nextInt(file.length)] ^= (byte) (1 + random.nextInt(255));
                }
            }
            case 1 -> {
                int offset = 4 * random.nextInt(12);
                int[] interesting = {0, -1, 1, 2, 3, 4, 7, Integer.MIN_VALUE, Integer.MAX_VALUE, 1 << 20, 65536, random.nextInt()};
                ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, interesting[random.nextInt(interesting.length)]);
            }
            case 2 -> file = Arrays.copyOf(file, random.nextInt(file.length));
            default -> file = Arrays.copyOf(file, file.length + 1 + random.nextInt(64));
        }
        return file;
    }
}
