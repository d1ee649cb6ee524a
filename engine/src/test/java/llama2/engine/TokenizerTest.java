package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** Encoding and decoding rules that the golden files do not reach. */
class TokenizerTest {

    /** Specials and the 256 byte tokens only: the smallest vocabulary (259). */
    private static Tokenizer bytesOnly() {
        byte[][] pieces = new byte[259][];
        pieces[0] = "<unk>".getBytes(StandardCharsets.US_ASCII);
        pieces[1] = "<s>".getBytes(StandardCharsets.US_ASCII);
        pieces[2] = "</s>".getBytes(StandardCharsets.US_ASCII);
        for (int b = 0; b < 256; b++) {
            pieces[3 + b] = String.format("<0x%02X>", b).getBytes(StandardCharsets.US_ASCII);
        }
        return new Tokenizer(pieces, new float[259], 6);
    }

    @Test
    void aVocabularyOfBytesAloneSpellsEverythingByteByByte() {
        int[] ids = bytesOnly().encode("hi é", true, true);
        // BOS, the dummy-prefix space, 'h', 'i', ' ', then é's two UTF-8 bytes, EOS
        assertArrayEquals(new int[] {1, ' ' + 3, 'h' + 3, 'i' + 3, ' ' + 3, 0xC3 + 3, 0xA9 + 3, 2}, ids);
    }

    @Test
    void mergesFollowScoresLeftmostFirst() {
        Tokenizer t = TinyModels.tokenizer(300);
        // " a" (score -4) beats "ab" (-5); then " ab" (-6) joins " a" and "b"; "abc" never forms
        int[] ids = t.encode("abc", false, false);
        assertEquals(" ab", new String(t.piece(ids[0]), StandardCharsets.UTF_8));
        assertEquals("c", new String(t.piece(ids[1]), StandardCharsets.UTF_8));
        assertEquals(2, ids.length);
    }

    @Test
    void decodeDropsTheSpaceAfterBosAndTurnsByteTokensIntoBytes() {
        Tokenizer t = TinyModels.tokenizer(300);
        int spaceA = t.encode("a", false, false)[0];
        assertEquals("a", new String(t.decode(Tokenizer.BOS, spaceA), StandardCharsets.UTF_8));
        assertEquals(" a", new String(t.decode(spaceA, spaceA), StandardCharsets.UTF_8));
        assertArrayEquals(new byte[] {(byte) 0xE2}, t.decode(spaceA, 0xE2 + 3));
    }

    @Test
    void utf8StreamJoinsByteTokensAndHoldsBackHalfCharacters() {
        Utf8Stream s = new Utf8Stream();
        assertEquals("", s.append(new byte[] {(byte) 0xF0}));
        assertEquals("", s.append(new byte[] {(byte) 0x9F}));
        assertEquals("", s.append(new byte[] {(byte) 0x98}));
        assertEquals("\uD83D\uDE00", s.append(new byte[] {(byte) 0x80})); // 😀
        assertEquals("\uFFFDa", s.append(new byte[] {(byte) 0xE2, 'a'}));   // cut short
        assertEquals("", s.append(new byte[] {0x1B}));                       // escape: dropped, as run.c does
        assertEquals("\n", s.append(new byte[] {'\n'}));
        assertEquals("\uFFFD", s.append(new byte[] {(byte) 0xFF}));
        assertEquals("", s.append(new byte[] {(byte) 0xC3}));
        assertEquals("\uFFFD", s.flush());
    }

    @Test
    void utf8IsTheJdksEncodingIncludingUnpairedSurrogates() {
        java.util.Random random = new java.util.Random(7);
        String[] fixed = {"", "a", "é", "€", "😀", "\uD800", "\uDC00x", "a\uD83D", "\uD83D\uDE00\uD83D"};
        for (String text : fixed) {
            assertArrayEquals(text.getBytes(StandardCharsets.UTF_8), Tokenizer.utf8(text), text);
        }
        char[] kinds = {'a', '\u00E9', '\u20AC', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uFFFF', '\u07FF', '\u0800'};
        for (int round = 0; round < 10_000; round++) {
            char[] chars = new char[random.nextInt(8)];
            for (int i = 0; i < chars.length; i++) {
                chars[i] = random.nextBoolean() ? kinds[random.nextInt(kinds.length)] : (char) random.nextInt(0x10000);
            }
            String text = new String(chars);
            assertArrayEquals(text.getBytes(StandardCharsets.UTF_8), Tokenizer.utf8(text), text);
        }
    }
}
