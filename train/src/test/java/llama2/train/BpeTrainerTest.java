package llama2.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import llama2.engine.BadInputException;
import llama2.engine.Tokenizer;

class BpeTrainerTest {
    static final List<String> STORIES = List.of(
            "Once upon a time, there was a little girl named Lily. She loved to play outside.",
            "One day, Lily saw a big red ball in the park. \"Can I play?\" she asked.",
            "The dog ran to the ball.\nLily laughed and ran after the dog. They played all day.",
            "Tom had a toy car. He liked his car very much. Café crème, naïve — and 😀 too.");

    static byte[] bytes(Tokenizer t) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        t.write(out);
        return out.toByteArray();
    }

    @Test
    void trainingIsDeterministic() throws Exception {
        List<String> stories = TrainingTest.generatedStories(200, 5);
        assertArrayEquals(bytes(BpeTrainer.train(stories, 320).tokenizer()), bytes(BpeTrainer.train(stories, 320).tokenizer()));
    }

    @Test
    void layoutIsSentencePieceStyleAndLaterMergesScoreLower() {
        BpeTrainer.Result r = BpeTrainer.train(STORIES, 300);
        Tokenizer t = r.tokenizer();
        assertEquals(300, t.vocabSize());
        assertEquals("<unk>", new String(t.piece(0), StandardCharsets.UTF_8));
        for (int b = 0; b < 256; b++) {
            assertEquals(String.format("<0x%02X>", b), new String(t.piece(3 + b), StandardCharsets.UTF_8));
        }
        assertEquals(300 - 259, r.merges() + r.characters());
        for (int id = 259; id + 1 < 300; id++) {
            assertTrue(t.score(id + 1) < t.score(id), "scores strictly decrease after id 259, at " + id);
        }
    }

    @Test
    void engineEncodeReproducesTheTrainedMerges() {
        List<String> stories = TrainingTest.generatedStories(300, 9);
        stories = new java.util.ArrayList<>(stories);
        stories.addAll(STORIES);
        BpeTrainer.Result r = BpeTrainer.train(stories, 400);
        Tokenizer t = r.tokenizer();
        int checked = 0;
        for (Map.Entry<String, int[]> e : r.segmentation().entrySet()) {
            String word = e.getKey();
            if (word.startsWith(" ") && word.length() > 1) {
                // the engine puts the dummy-prefix space in front of the text: encoding the word
                // without its space must give back the word's trained segmentation
                assertArrayEquals(e.getValue(), t.encode(word.substring(1), false, false), word);
                checked++;
            }
        }
        assertTrue(checked > 50, "checked " + checked + " words");
        // and whole stories come out as the concatenation of their words' segmentations
        int[] encoded = t.encode(stories.get(0), false, false);
        assertTrue(encoded.length < stories.get(0).length() / 2, "merges shorten the text");
    }

    @Test
    void rareCharactersFallBackToBytesAndTextRoundTrips() {
        Tokenizer t = BpeTrainer.train(STORIES, 290).tokenizer();
        String text = "Lily saw 😀 and a café.";
        int[] ids = t.encode(text, true, false);
        StringBuilder decoded = new StringBuilder();
        java.io.ByteArrayOutputStream raw = new java.io.ByteArrayOutputStream();
        for (int i = 1; i < ids.length; i++) {
            byte[] piece = t.decode(ids[i - 1], ids[i]);
            raw.write(piece, 0, piece.length);
        }
        decoded.append(raw.toString(StandardCharsets.UTF_8));
        assertEquals(text, decoded.toString());
    }

    @Test
    void smallestVocabularies() {
        // 259: the fixed pieces only; the engine spells even the dummy-prefix space as a byte
        Tokenizer bytes = BpeTrainer.train(STORIES, 259).tokenizer();
        assertEquals(259, bytes.vocabSize());
        assertArrayEquals(new int[] {' ' + 3, 'H' + 3, 'i' + 3}, bytes.encode("Hi", false, false));
        // 260: the space is the one learned piece; everything else is spelled in bytes
        Tokenizer t = BpeTrainer.train(STORIES, 260).tokenizer();
        assertEquals(" ", new String(t.piece(259), StandardCharsets.UTF_8));
        int[] ids = t.encode("Hi you", false, false);
        assertArrayEquals(new int[] {259, 'H' + 3, 'i' + 3, 259, 'y' + 3, 'o' + 3, 'u' + 3}, ids);
    }

    @Test
    void tooSmallVocabularyOrTextIsAnError() {
        assertThrows(BadInputException.class, () -> BpeTrainer.train(STORIES, 258));
        assertThrows(BadInputException.class, () -> BpeTrainer.train(List.of("ab ab"), 5000));
    }
}
