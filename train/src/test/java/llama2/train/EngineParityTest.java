package llama2.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.engine.Transformer;

/** The trainer's forward pass is the engine's: same logits in memory and through a file. */
class EngineParityTest {

    static Model model(boolean shared) {
        // head size 8 and hidden 48 leave remainders in the vector kernels; 2 key/value heads for 4
        Config config = new Config(32, 48, 2, 4, 2, 67, 48, shared).validate("test"); // 48: a full and a partial attention block
        ParameterLayout layout = new ParameterLayout(config);
        float[] params = layout.initialise(new Rng(5));
        for (int i = 0; i < params.length; i++) {
            params[i] *= 3; // livelier than the 0.02 initialisation, still a plausible model
        }
        return new Model(layout, params);
    }

    static void assertSameLogits(Model model, Transformer engine, int[] tokens, double tolerance) {
        int n = model.layout.seqLen;
        int vocab = model.layout.vocab;
        float[] ours = new Pass(model).logits(tokens, 0, n).clone();
        for (int pos = 0; pos < n; pos++) {
            float[] theirs = engine.forward(tokens[pos], pos);
            for (int v = 0; v < vocab; v++) {
                assertEquals(theirs[v], ours[pos * vocab + v], tolerance, "position " + pos + ", token " + v);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void forwardLogitsEqualTheEngines(boolean shared) {
        Model model = model(shared);
        int[] tokens = GradientTest.tokens(model.layout.seqLen + 1, model.layout.vocab, 3);
        assertSameLogits(model, new Transformer(WeightsBridge.toWeights(model.layout, model.params)), tokens, 1e-5);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    void exportedFileRunsInTheEngineWithTheSameLogits(int version, @TempDir Path dir) throws Exception {
        Model model = model(false);
        Path file = dir.resolve("model.bin");
        WeightsBridge.export(model.layout, model.params, version, file);
        Checkpoint read = Checkpoint.read(llama2.io.SafeFiles.map(file));
        assertEquals(version, read.version());
        assertEquals(model.config(), read.config());
        assertArrayEquals(model.params, WeightsBridge.fromWeights(model.layout, read.weights()), "weights survive the file");
        int[] tokens = GradientTest.tokens(model.layout.seqLen + 1, model.layout.vocab, 4);
        assertSameLogits(model, new Transformer(read.weights()), tokens, 1e-5);
    }

    @Test
    void version2ExportIsTheQuantizedModel(@TempDir Path dir) throws Exception {
        Model model = model(true);
        Path file = dir.resolve("q.bin");
        WeightsBridge.export(model.layout, model.params, 2, file);
        Checkpoint read = Checkpoint.read(llama2.io.SafeFiles.map(file));
        assertEquals(2, read.version());
        assertTrue(Files.size(file) < model.layout.size * 4L / 2, "Q8_0 is much smaller than float32");
    }

    @Test
    void stories260KGivesTheEnginesLogits() {
        String shared = System.getProperty("shared.dir");
        assumeTrue(shared != null && Files.isRegularFile(Path.of(shared, "llama2/models/stories260K.bin")),
                "needs ../shared/llama2/models/stories260K.bin");
        Model model = ModelCommands.loadModel(Path.of(shared, "llama2/models/stories260K.bin"));
        Checkpoint checkpoint = WeightsBridge.readCheckpoint(Path.of(shared, "llama2/models/stories260K.bin"));
        int n = 24;
        int[] tokens = GradientTest.tokens(n + 1, model.layout.vocab, 9);
        float[] ours = new Pass(model).logits(tokens, 0, n).clone();
        Transformer engine = new Transformer(checkpoint.weights());
        int vocab = model.layout.vocab;
        for (int pos = 0; pos < n; pos++) {
            float[] theirs = engine.forward(tokens[pos], pos);
            for (int v = 0; v < vocab; v++) {
                assertEquals(theirs[v], ours[pos * vocab + v], 1e-4, "position " + pos + ", token " + v);
            }
        }
    }
}
