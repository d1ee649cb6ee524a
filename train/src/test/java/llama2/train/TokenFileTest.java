package llama2.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** How a text is cut into stories: at lines <|endoftext|>, or, in a text without them, at blank lines. */
class TokenFileTest {
    @Test
    void storiesEndAtLinesEndOfText() {
        assertEquals(List.of("One.\n\nStill one.", "Two."),
                TokenFile.stories("One.\n\nStill one.\n<|endoftext|>\nTwo.\n <|endoftext|> \n"));
    }

    @Test
    void aTextWithoutThemIsCutAtBlankLines() {
        assertEquals(List.of("First paragraph,\ntwo lines.", "Second.", "Third."),
                TokenFile.stories("\nFirst paragraph,\ntwo lines.\n\nSecond.\r\n \t\r\n\n\nThird.\n"));
        assertEquals(List.of("One story only."), TokenFile.stories("One story only.\n"));
    }
}
