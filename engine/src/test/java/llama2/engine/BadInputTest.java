package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Each kind of bad input gets a one-line message that names the problem. */
class BadInputTest {
    private static final String[] FIELDS = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};

    /** Reads {@code file}, expects the documented error, and returns its message. */
    static String rejection(byte[] file) {
        BadInputException e = assertThrows(BadInputException.class, () -> Checkpoint.read(ByteBuffer.wrap(file), "model.bin"));
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertTrue(e.getMessage().startsWith("model.bin: "), "names the file: " + e.getMessage());
        return e.getMessage();
    }

    static byte[] withInt(byte[] file, int offset, int value) {
        byte[] copy = file.clone();
        ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, value);
        return copy;
    }

    /** Where a header field sits: 7 ints from byte 0 (version 0) or byte 8 (versions 1, 2). */
    static int offset(int version, int field) {
        return (version == 0 ? 0 : 8) + 4 * field;
    }

    @ParameterizedTest(name = "version {0}, {1} = {2}")
    @CsvSource({
            "0, 0, 0", "0, 0, -8", "0, 0, 2000000000", "0, 1, 0", "0, 1, -1", "0, 1, 2000000000",
            "0, 2, 0", "0, 2, -2", "0, 2, 2000000000", "0, 3, 0", "0, 3, -2", "0, 3, 2000000000",
            "0, 4, 0", "0, 4, -1", "0, 4, 2000000000", "0, 5, 0", "0, 5, 2000000000", "0, 6, 0", "0, 6, -12", "0, 6, 2000000000",
            "1, 0, 0", "1, 0, -8", "1, 1, 0", "1, 2, -2", "1, 3, 0", "1, 4, 0", "1, 5, 0", "1, 5, -300", "1, 6, 0", "1, 6, 2000000000",
            "2, 0, 0", "2, 1, -16", "2, 2, 0", "2, 3, -2", "2, 4, 0", "2, 5, 0", "2, 6, -1", "2, 5, 2000000000"})
    void everyHeaderFieldZeroNegativeOrAbsurdIsNamed(int version, int field, int value) {
        String message = rejection(withInt(TinyModels.file(version), offset(version, field), value));
        String name = FIELDS[field];
        assertTrue(message.contains(name) || message.contains("vocab_size") || message.contains("expected"),
                "names " + name + ": " + message);
    }

    @Test
    void vocabSizeMostNegativeIsRejected() {
        String message = rejection(withInt(TinyModels.file(0), offset(0, 5), Integer.MIN_VALUE));
        assertTrue(message.contains("vocab_size"), message);
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {0, 1, 2})
    void dimNotAMultipleOfHeads(int version) {
        String message = rejection(withInt(TinyModels.file(version), offset(version, 3), 3));
        assertTrue(message.contains("dim 8 is not a multiple of n_heads 3"), message);
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {0, 1, 2})
    void headsNotAMultipleOfKvHeads(int version) {
        byte[] file = withInt(TinyModels.file(version), offset(version, 3), 4); // 4 heads of size 2
        String message = rejection(withInt(file, offset(version, 4), 3));
        assertTrue(message.contains("n_heads 4 is not a multiple of n_kv_heads 3"), message);
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {0, 1, 2})
    void truncatedAnywhere(int version) {
        byte[] file = TinyModels.file(version);
        for (int length = 0; length < file.length; length += (length < 300 ? 1 : 97)) {
            String message = rejection(Arrays.copyOf(file, length));
            assertTrue(message.contains("bytes"), message);
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {0, 1, 2})
    void extraBytesAtTheEnd(int version) {
        byte[] file = TinyModels.file(version);
        String message = rejection(Arrays.copyOf(file, file.length + 4));
        assertTrue(message.contains("does not match the header") && message.contains("expected " + file.length), message);
    }

    @Test
    void wrongMagicIsNotMistakenForAModel() {
        byte[] file = withInt(TinyModels.file(1), 0, 0x616b3433);
        String message = rejection(file);
        assertTrue(message.contains("magic"), message);
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {3, 0, -1, 1000})
    void unknownVersion(int version) {
        String message = rejection(withInt(TinyModels.file(1), 4, version));
        assertTrue(message.contains("unknown checkpoint version " + version), message);
    }

    @Test
    void sharedClassifierFlagMustBeZeroOrOne() {
        byte[] file = TinyModels.file(1);
        file[36] = 7;
        assertTrue(rejection(file).contains("shared_classifier must be 0 or 1, found 7"));
    }

    @ParameterizedTest(name = "group size {0}")
    @ValueSource(ints = {0, -4, 3, 5, 1 << 30})
    void groupSizeZeroOrNotDividing(int groupSize) {
        String message = rejection(withInt(TinyModels.file(2), 37, groupSize));
        assertTrue(message.contains("group_size"), message);
    }

    @Test
    void writingWithAGroupSizeThatDoesNotDivideIsRefused() {
        BadInputException e = assertThrows(BadInputException.class, () -> TinyModels.file(TinyModels.weights(), 2, 3));
        assertEquals("group size: group_size 3 does not divide both dim 8 and hidden_dim 16", e.getMessage());
    }

    // ---- tokenizer files

    static String tokenizerRejection(byte[] file, int vocabSize) {
        BadInputException e = assertThrows(BadInputException.class,
                () -> Tokenizer.read(ByteBuffer.wrap(file), vocabSize, "tokenizer.bin"));
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertTrue(e.getMessage().startsWith("tokenizer.bin: "), e.getMessage());
        return e.getMessage();
    }

    @Test
    void tokenizerShorterThanTheVocabulary() {
        String message = tokenizerRejection(TinyModels.tokenizerFile(300), 400);
        assertEquals("tokenizer.bin: holds only 300 tokens, the model needs 400", message);
    }

    @Test
    void tokenizerTruncatedAnywhere() {
        byte[] file = TinyModels.tokenizerFile(300);
        for (int length = 0; length < file.length; length += 7) {
            tokenizerRejection(Arrays.copyOf(file, length), 300);
        }
    }

    @ParameterizedTest(name = "length {0}")
    @ValueSource(ints = {-1, Integer.MIN_VALUE, 1 << 30, Integer.MAX_VALUE})
    void pieceLengthNegativeOrHuge(int length) {
        // token 0 starts at byte 4: a float score, then its int length
        String message = tokenizerRejection(withInt(TinyModels.tokenizerFile(300), 8, length), 300);
        assertTrue(message.contains("token 0 has length " + length), message);
    }

    @Test
    void maxTokenLengthMustBePositive() {
        assertTrue(tokenizerRejection(withInt(TinyModels.tokenizerFile(300), 0, 0), 300).contains("max_token_length"));
    }

    // ---- generation parameters

    private static Transformer transformer() {
        return new Transformer(TinyModels.weights());
    }

    @Test
    void emptyPromptStartsFromBosAlone() {
        Generation g = new Generation(transformer(), TinyModels.tokenizer(300), new Sampler(300, 0f, 0.9f, 1), "", 5);
        assertArrayEquals(new int[] {Tokenizer.BOS}, g.promptTokens());
        while (!g.step().isLast()) {
            // run
        }
        assertTrue(g.ids().length >= 1 && g.ids().length <= 6, "BOS plus at most five sampled tokens");
        assertEquals(Tokenizer.BOS, g.ids()[0]);
    }

    @Test
    void aTokenizerWithMoreTokensThanTheModelIsRefused() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> Tokenizer.read(ByteBuffer.wrap(Shared.bytes(Shared.model("tokenizer.bin"))), 512, "tokenizer.bin"));
        assertTrue(e.getMessage().startsWith("tokenizer.bin: ") && e.getMessage().contains("bytes left over after the model's 512 tokens"),
                e.getMessage());
    }

    @Test
    void promptLongerThanTheContext() {
        BadInputException e = assertThrows(BadInputException.class, () ->
                new Generation(transformer(), TinyModels.tokenizer(300), new Sampler(300, 0f, 0.9f, 1), "a b c a b c a b c a b c a b c", 0));
        assertTrue(e.getMessage().contains("more than the model's context (seq_len) of 12"), e.getMessage());
    }

    @Test
    void negativeSteps() {
        BadInputException e = assertThrows(BadInputException.class, () ->
                new Generation(transformer(), TinyModels.tokenizer(300), new Sampler(300, 0f, 0.9f, 1), "a", -1));
        assertTrue(e.getMessage().startsWith("steps must be a whole number, 0 or more"), e.getMessage());
    }

    @ParameterizedTest(name = "temperature {0}")
    @ValueSource(floats = {-0.5f, Float.NaN, Float.POSITIVE_INFINITY})
    void badTemperature(float temperature) {
        BadInputException e = assertThrows(BadInputException.class, () -> new Sampler(300, temperature, 0.9f, 1));
        assertTrue(e.getMessage().startsWith("temperature must be"), e.getMessage());
    }

    @ParameterizedTest(name = "top-p {0}")
    @ValueSource(floats = {-0.1f, 1.5f, Float.NaN})
    void topPOutsideZeroOne(float topp) {
        BadInputException e = assertThrows(BadInputException.class, () -> new Sampler(300, 1f, topp, 1));
        assertTrue(e.getMessage().startsWith("top-p must be a number from 0 to 1"), e.getMessage());
    }

    private static void assertArrayEquals(int[] expected, int[] actual) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(expected, actual);
    }
}
