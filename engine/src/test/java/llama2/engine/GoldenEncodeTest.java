package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** encode(text, bos=true, eos=false) against the reference, line by line. */
class GoldenEncodeTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({"tokenizer.bin, 32000, encode_tokenizer.txt", "tok512.bin, 512, encode_tok512.txt"})
    void encodesLikeTheReference(String tokenizerFile, int vocabSize, String goldenFile) throws IOException {
        Tokenizer tokenizer = Shared.tokenizer(tokenizerFile, vocabSize);
        List<String> inputs = Files.readAllLines(Shared.golden("encode_input.txt"), StandardCharsets.UTF_8);
        List<String> expected = Files.readAllLines(Shared.golden(goldenFile), StandardCharsets.UTF_8);
        assertEquals(inputs.size(), expected.size(), "one line of ids per input line");
        for (int i = 0; i < inputs.size(); i++) {
            String text = GoldenCase.unescape(inputs.get(i));
            int[] ids = tokenizer.encode(text, true, false);
            String got = String.join(" ", Arrays.stream(ids).mapToObj(Integer::toString).toList());
            assertEquals(expected.get(i), got, "encoding of line " + (i + 1) + ": " + inputs.get(i));
        }
    }
}
