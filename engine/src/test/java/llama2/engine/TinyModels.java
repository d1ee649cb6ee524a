package llama2.engine;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** Small models and tokenizers made in memory, for tests that need no reference file. */
public final class TinyModels {
    public static final Config CONFIG = new Config(8, 16, 2, 2, 1, 300, 12, true);

    private TinyModels() {}

    public static Weights weights() {
        return Weights.random(CONFIG, 7);
    }

    public static byte[] file(int version) {
        return file(weights(), version, version == 2 ? 4 : 0);
    }

    public static byte[] file(Weights weights, int version, int groupSize) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Checkpoint.write(weights, version, groupSize, out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A vocabulary in llama2.c's layout: the three specials, the 256 byte tokens, then a few
     * pieces (a space, letters, and merges with rising scores) up to {@code vocabSize}.
     */
    public static Tokenizer tokenizer(int vocabSize) {
        byte[][] pieces = new byte[vocabSize][];
        float[] scores = new float[vocabSize];
        pieces[0] = bytes("<unk>");
        pieces[1] = bytes("\n<s>\n");
        pieces[2] = bytes("\n</s>\n");
        for (int b = 0; b < 256; b++) {
            pieces[3 + b] = bytes(String.format("<0x%02X>", b));
        }
        String[] extra = {" ", "a", "b", "c", " a", "ab", " ab", "abc", "<img src=x onerror=alert(1)>"};
        for (int i = 259; i < vocabSize; i++) {
            int k = i - 259;
            pieces[i] = k < extra.length ? bytes(extra[k]) : bytes("p" + i);
            scores[i] = -k;
        }
        return new Tokenizer(pieces, scores, 32);
    }

    public static byte[] tokenizerFile(int vocabSize) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            tokenizer(vocabSize).write(out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
