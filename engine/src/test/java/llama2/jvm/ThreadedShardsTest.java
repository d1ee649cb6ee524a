package llama2.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import llama2.engine.Config;
import llama2.engine.Transformer;
import llama2.engine.Weights;
import org.junit.jupiter.api.Test;

/** Shards on threads compute the one-thread logits, bit for bit, and a stopped shard holds no one. */
class ThreadedShardsTest {
    // stories260K's shape: 8 query heads on 4 key/value heads, so 3 shards are uneven
    private static final Config SHAPE = new Config(64, 172, 5, 8, 4, 512, 512, true);

    @Test
    void anyNumberOfShardsGivesTheSameLogits() {
        Weights weights = Weights.random(SHAPE, 7);
        Transformer alone = new Transformer(weights);
        float[][] expected = new float[40][];
        int token = 1;
        for (int pos = 0; pos < expected.length; pos++) {
            expected[pos] = alone.forward(token, pos).clone();
            token = (token * 31 + 7) % SHAPE.vocabSize();
        }
        for (int shards = 1; shards <= 4; shards++) {
            try (ThreadedShards threads = new ThreadedShards(FastKernels.of(weights), shards)) {
                token = 1;
                for (int pos = 0; pos < expected.length; pos++) {
                    assertArrayEquals(expected[pos], threads.transformer().forward(token, pos),
                            shards + " shards, position " + pos);
                    token = (token * 31 + 7) % SHAPE.vocabSize();
                }
            }
        }
    }

    @Test
    void aClosedModelSaysSoInsteadOfWaiting() {
        ThreadedShards threads = new ThreadedShards(Weights.random(SHAPE, 7), 2);
        threads.transformer().forward(1, 0);
        threads.close();
        IllegalStateException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
                () -> assertThrows(IllegalStateException.class, () -> threads.transformer().forward(2, 1)));
        assertEquals("the shards were stopped", e.getMessage());
        assertTimeoutPreemptively(Duration.ofSeconds(10), // and so does every later call
                () -> assertThrows(IllegalStateException.class, () -> threads.transformer().forward(2, 1)));
    }
}
