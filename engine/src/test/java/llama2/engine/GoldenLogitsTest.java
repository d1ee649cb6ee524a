package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The reference's logits, position by position: argmax exactly, and max, sum, sum of squares
 * and the first three logits within 1e-4 relative.
 */
class GoldenLogitsTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"logits_stories260K.txt", "logits_tiny32k_v0.txt", "logits_tiny32k_unshared_v0.txt"})
    void matchesTheReferenceLogits(String goldenFile) throws IOException {
        List<String> lines = Files.readAllLines(Shared.golden(goldenFile), StandardCharsets.UTF_8);
        // "# model: NAME tokens: 1 2 3"
        String header = lines.get(0);
        String model = header.substring("# model: ".length(), header.indexOf(" tokens:"));
        Transformer transformer = new Transformer(Shared.checkpoint(model).weights());
        assertTrue(lines.size() > 1, "the golden file lists positions");
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(" ");
            int pos = Integer.parseInt(f[1]);
            int token = Integer.parseInt(f[3]);
            float[] logits = transformer.forward(token, pos);
            String where = model + " position " + pos;
            assertEquals(Integer.parseInt(f[5]), argmax(logits), where + " argmax");
            assertClose(Double.parseDouble(f[7]), logits[argmax(logits)], where + " max");
            double sum = 0, sumSquares = 0;
            for (float v : logits) {
                sum += v;
                sumSquares += (double) v * v;
            }
            assertClose(Double.parseDouble(f[9]), sum, where + " sum");
            assertClose(Double.parseDouble(f[11]), sumSquares, where + " sum of squares");
            for (int i = 0; i < 3; i++) {
                assertClose(Double.parseDouble(f[13 + i]), logits[i], where + " logit " + i);
            }
        }
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    /** Relative 1e-4, with the golden files' 6 printed decimals as the floor. */
    private static void assertClose(double expected, double actual, String what) {
        double tolerance = Math.max(1e-4 * Math.abs(expected), 1e-6);
        assertEquals(expected, actual, tolerance, what);
    }
}
