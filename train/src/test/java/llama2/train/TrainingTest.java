package llama2.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import llama2.engine.Config;
import llama2.engine.Tokenizer;

/** End to end on a small generated corpus: the model learns, and a resumed run is the same run. */
class TrainingTest {

    /** Stories from a little template grammar: lots of structure for a model to find. */
    static List<String> generatedStories(int count, long seed) {
        String[] names = {"Lily", "Tom", "Mia", "Ben", "Sue"};
        String[] things = {"ball", "cat", "kite", "dog", "box", "cake"};
        String[] colours = {"red", "big", "small", "blue"};
        String[] places = {"park", "garden", "shop", "house"};
        Rng rng = new Rng(seed);
        List<String> stories = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String name = names[rng.nextInt(names.length)], thing = things[rng.nextInt(things.length)];
            String colour = colours[rng.nextInt(colours.length)], place = places[rng.nextInt(places.length)];
            stories.add(name + " had a " + colour + " " + thing + ". " + name + " took the " + thing + " to the "
                    + place + ". At the " + place + ", the " + thing + " was happy.\nThe end.");
        }
        return stories;
    }

    static double unigramEntropy(int[] tokens) {
        Map<Integer, Integer> counts = new HashMap<>();
        for (int t : tokens) {
            counts.merge(t, 1, Integer::sum);
        }
        double h = 0;
        for (int c : counts.values()) {
            double p = (double) c / tokens.length;
            h -= p * Math.log(p);
        }
        return h;
    }

    static Trainer newTrainer(int[] tokens, int vocab, int steps, int seqLen) {
        return newTrainer(tokens, vocab, steps, seqLen, 0f);
    }

    static Trainer newTrainer(int[] tokens, int vocab, int steps, int seqLen, float dropout) {
        Config config = new Config(32, 64, 2, 4, 4, vocab, seqLen, true).validate("test");
        ParameterLayout layout = new ParameterLayout(config);
        Model model = new Model(layout, layout.initialise(new Rng(1)));
        Hyperparameters hp = new Hyperparameters(steps, 4, 2, 3e-3f, 3e-4f, 20, 0.1f, 0.9f, 0.95f, 1.0f, 2, 42, dropout);
        return new Trainer(model, hp, tokens, 2);
    }

    @Test
    void lossFallsWellBelowTheUnigramEntropy() {
        List<String> stories = generatedStories(600, 1);
        Tokenizer tokenizer = BpeTrainer.train(stories, 300).tokenizer();
        int[] train = TokenFile.encode(tokenizer, stories).tokens();
        int[] valid = TokenFile.encode(tokenizer, generatedStories(60, 2)).tokens();
        double entropy = unigramEntropy(train);

        try (Trainer trainer = newTrainer(train, tokenizer.vocabSize(), 300, 32)) {
            double before = trainer.validationLoss(valid, 50);
            for (int i = 0; i < 300; i++) {
                trainer.trainStep();
            }
            double after = trainer.validationLoss(valid, 50);
            assertTrue(before > entropy, "an untrained model is no better than unigram statistics: " + before);
            assertTrue(after < 0.5 * entropy, "validation loss " + after + " vs unigram entropy " + entropy);
        }
    }

    @ParameterizedTest
    @ValueSource(floats = {0f, 0.2f})
    void resumedRunEqualsUninterruptedRunBitForBit(float dropout, @TempDir Path dir) throws Exception {
        List<String> stories = generatedStories(100, 3);
        Tokenizer tokenizer = BpeTrainer.train(stories, 280).tokenizer();
        int[] tokens = TokenFile.encode(tokenizer, stories).tokens();
        int steps = 16, interruption = 7;

        double[] lossesA = new double[steps];
        Trainer a = newTrainer(tokens, tokenizer.vocabSize(), steps, 16, dropout);
        for (int i = 0; i < steps; i++) {
            lossesA[i] = a.trainStep();
        }

        double[] lossesB = new double[steps];
        Trainer b = newTrainer(tokens, tokenizer.vocabSize(), steps, 16, dropout);
        for (int i = 0; i < interruption; i++) {
            lossesB[i] = b.trainStep();
        }
        Path checkpoint = dir.resolve("checkpoint.bin");
        TrainingCheckpoint.save(b, 1.0, 0L, checkpoint);
        b.close();
        Trainer resumed = TrainingCheckpoint.load(checkpoint).resume(tokens, 2);
        assertEquals(interruption, resumed.step());
        for (int i = interruption; i < steps; i++) {
            lossesB[i] = resumed.trainStep();
        }

        assertArrayEquals(lossesA, lossesB);
        assertArrayEquals(a.model.params, resumed.model.params);
        assertArrayEquals(a.optimizer.m, resumed.optimizer.m);
        assertArrayEquals(a.optimizer.v, resumed.optimizer.v);
        assertEquals(a.rng.state(), resumed.rng.state());
        a.close();
        resumed.close();
    }

    @Test
    void scheduleWarmsUpThenDecaysToTheMinimum() {
        Hyperparameters hp = new Hyperparameters(100, 1, 1, 1e-3f, 1e-4f, 10, 0.1f, 0.9f, 0.95f, 1f, 1, 1, 0f);
        assertEquals(1e-4f, hp.learningRate(0), 1e-9);
        assertEquals(1e-3f, hp.learningRate(9), 1e-9);
        assertEquals(1e-4f, hp.learningRate(99), 1e-9);
        for (int s = 10; s < 99; s++) {
            assertTrue(hp.learningRate(s + 1) <= hp.learningRate(s), "decays at step " + s);
        }
    }
}
