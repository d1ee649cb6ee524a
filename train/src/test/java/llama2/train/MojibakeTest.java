package llama2.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

class MojibakeTest {
    /**
     * What a UTF-8 text reads as after its bytes were decoded as Windows-1252 (the five bytes it
     * leaves undefined kept as the C1 controls of the same number, as some decoders do).
     */
    static String doubleEncode(String text) {
        StringBuilder out = new StringBuilder();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            String c = new String(new byte[] {b}, Charset.forName("windows-1252"));
            out.append(c.equals("\uFFFD") ? String.valueOf((char) (b & 0xFF)) : c);
        }
        return out.toString();
    }

    @Test
    void repairsWhatWindows1252DecodingDid() {
        String original = "“Hello,” she said. It’s Zoë’s café — 10 € … ok – 😀 ‘x’";
        String broken = doubleEncode(original);
        assertTrue(broken.contains("â€œ"), broken);
        assertEquals(original, Mojibake.repair(broken));
    }

    @Test
    void theLostByteOfTheClosingQuoteIsRestored() {
        // E2 80 9D: Windows-1252 has no character for 9D, so the data holds only "â€"
        assertEquals("“Yes,” said Tom.”", Mojibake.repair("â€œYes,â€ said Tom.â€"));
    }

    @Test
    void cleanTextIsLeftAlone() {
        for (String s : List.of("Once upon a time.", "Café crème, naïve — “quoted” ‘single’ 😀", "Â", "Ã", "é”.", "")) {
            assertSame(s, Mojibake.repair(s));
        }
    }

    @Test
    void afterRepairTheSharedTextHoldsNoMojibakeAndNothingElseChanged() throws Exception {
        String shared = System.getProperty("shared.dir");
        Path train = shared == null ? null : Path.of(shared, "data/tinystories/train.txt");
        assumeTrue(train != null && Files.isRegularFile(train), "needs ../shared/data/tinystories/train.txt");
        List<String> stories = TokenFile.readStories(train);
        Mojibake.Repaired r = Mojibake.repair(stories);
        assertTrue(r.fixed() > 100, "fixed " + r.fixed());
        for (int i = 0; i < stories.size(); i++) {
            String after = r.stories().get(i);
            assertFalse(after.contains("â€"), after);
            // the ASCII text is untouched: only the mojibake characters went away
            assertEquals(stories.get(i).replaceAll("[^\\x00-\\x7F]", ""), after.replaceAll("[^\\x00-\\x7F]", ""));
        }
    }
}
