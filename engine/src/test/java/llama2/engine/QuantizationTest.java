package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Q8_0 quantization rounds as llama2.c's exporter (torch.round): to the nearest integer, ties to
 * the even one, with no help from {@code Math.rint}, which TeaVM's class library computes with
 * ties away from zero.
 */
class QuantizationTest {

    @Test
    void tiesGoToTheEvenInteger() {
        // max|w| = 127 makes the scale 1, so each weight is its own w / scale.
        float[] w = {127f, -36.5f, 37.5f, 0.5f, -0.5f, 1.5f, -2.5f, 126.5f};
        byte[] q = new byte[w.length];
        float[] s = new float[1];
        QuantizedMatrix.quantizeGroups(w, 0, w.length, w.length, q, 0, s, 0);
        assertEquals(1f, s[0]);
        assertArrayEquals(new byte[] {127, -36, 38, 0, 0, 2, -2, 126}, q);
    }

    @Test
    void roundingEqualsTheJvmsRint() {
        for (int k = -300; k <= 300; k++) {
            for (float x : new float[] {k + 0.5f, k, k + 0.25f, k + 0.75f}) {
                for (float near : new float[] {x, Math.nextUp(x), Math.nextDown(x)}) {
                    assertEquals((int) Math.rint(near), QuantizedMatrix.roundHalfEven(near), "rounding " + near);
                }
            }
        }
        Random random = new Random(12);
        for (int i = 0; i < 1_000_000; i++) {
            float x = (random.nextFloat() - 0.5f) * 300f;
            assertEquals((int) Math.rint(x), QuantizedMatrix.roundHalfEven(x), "rounding " + x);
        }
        assertEquals(0, QuantizedMatrix.roundHalfEven(-0f));
    }
}
