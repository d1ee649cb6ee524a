package llama2.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.engine.Weights;
import llama2.web.support.Reference;
import llama2.web.support.TestModels;
import org.junit.jupiter.api.Test;

/** The worker's state machine, on the JVM: what the browser runs, minus the browser. */
class SessionTest {
    static final Path MODELS = Path.of(System.getProperty("models.dir", "../models"));

    private static Session bundled() throws IOException {
        Session session = new Session();
        session.load(Files.readAllBytes(MODELS.resolve("placeholder.bin")), "placeholder.bin",
                Files.readAllBytes(MODELS.resolve("placeholder-tokenizer.bin")), "placeholder-tokenizer.bin");
        return session;
    }

    @Test
    void aStoryStepByStepHasTheCliIds() throws IOException {
        Session session = bundled();
        session.startStory("Once upon a time", 0.8f, 0.9f, 42, 60);
        StringBuilder text = new StringBuilder();
        int tokens = 0;
        while (session.step()) {
            text.append(session.tokenText());
            tokens++;
            assertEquals(tokens, session.tokenPosition());
        }
        assertEquals(Reference.jvmIds(MODELS.resolve("placeholder.bin"), MODELS.resolve("placeholder-tokenizer.bin"),
                0.8f, 0.9f, 42, 60, "Once upon a time"), session.ids());
        assertTrue(text.toString().startsWith("Once upon a time"), text.toString());
        assertTrue(session.stopReason().equals("steps") || session.stopReason().equals("bos"));
    }

    @Test
    void stories260KGivesTheGoldenIds() throws IOException {
        Reference.GoldenCase golden = Reference.golden(
                llama2.web.support.Paths.shared("llama2/golden/generate.tsv"), "s260k_topp");
        Session session = new Session();
        session.load(Files.readAllBytes(llama2.web.support.Paths.shared("llama2/models/" + golden.model())), golden.model(),
                Files.readAllBytes(llama2.web.support.Paths.shared("llama2/models/" + golden.tokenizer())), golden.tokenizer());
        session.startStory(golden.prompt(), golden.temperature(), golden.topp(), golden.seed(), golden.steps());
        while (session.step()) {
            // one token per call, as the worker does
        }
        assertEquals(golden.ids(), session.ids());
    }

    @Test
    void describesTheModelForThePage() throws IOException {
        String facts = bundled().describe();
        assertTrue(facts.contains("\"dim\":128") && facts.contains("\"vocabSize\":2048")
                && facts.contains("\"format\":\"Q8_0, group size 64 (version 2)\"")
                && facts.contains("\"bytes\":" + Files.size(MODELS.resolve("placeholder.bin"))), facts);
    }

    @Test
    void aTruncatedModelIsRefusedWithItsName() throws IOException {
        Config tiny = new Config(8, 16, 1, 2, 2, 300, 16, true);
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        Checkpoint.write(Weights.random(tiny, 1), 1, 0, file);
        byte[] cut = Arrays.copyOf(file.toByteArray(), file.size() - 100);
        ByteArrayOutputStream tokenizer = new ByteArrayOutputStream();
        TestModels.wordTokenizer(300).write(tokenizer);

        Session session = new Session();
        BadInputException refused = assertThrows(BadInputException.class,
                () -> session.load(cut, "cut.bin", tokenizer.toByteArray(), "tok.bin"));
        assertTrue(refused.getMessage().startsWith("cut.bin: "), refused.getMessage());
        assertEquals(refused.getMessage(), WorkerExports.explain(refused));
        assertFalse(session.loaded());
    }

    @Test
    void settingsOutOfRangeAreExplained() throws IOException {
        Session session = bundled();
        assertEquals("Top-p must be between 0 and 1.",
                assertThrows(BadInputException.class, () -> session.startStory("", 1, 1.5f, 1, 10)).getMessage());
        assertTrue(assertThrows(BadInputException.class, () -> session.startStory("", -1, 0.9f, 1, 10))
                .getMessage().startsWith("Temperature must be"));
        assertTrue(assertThrows(BadInputException.class, () -> session.startStory("", 1, 0.9f, 1, -1))
                .getMessage().startsWith("Steps must be"));
    }

    @Test
    void nothingRunsBeforeAModelIsLoaded() {
        Session session = new Session();
        assertEquals("No model is loaded yet.",
                assertThrows(BadInputException.class, () -> session.startStory("", 1, 0.9f, 1, 10)).getMessage());
        assertFalse(session.step());
        assertEquals("", session.ids());
    }

    @Test
    void aChatAnswersTurnByTurnUntilTheContextIsFull() throws IOException {
        Session session = bundled();
        assertEquals("Start a new chat first.",
                assertThrows(BadInputException.class, () -> session.chatTurn("hi")).getMessage());
        session.startChat("Be brief.", 0.8f, 0.9f, 7, 0);
        assertTrue(session.chatWaitsForUser());
        boolean full = false;
        for (int turn = 0; turn < 50 && !full; turn++) {
            session.chatTurn("Tell me about the dog.");
            assertFalse(session.chatWaitsForUser(), "the assistant answers first");
            int tokens = 0;
            while (session.step()) {
                tokens++;
            }
            assertTrue(tokens > 0);
            assertFalse(session.ids().isEmpty());
            full = session.stopReason().equals("context");
            assertEquals(full ? "context" : "turn", session.stopReason());
            assertEquals(!full, session.chatWaitsForUser());
        }
        assertTrue(full, "256 positions fill up within 50 turns");
        assertTrue(assertThrows(BadInputException.class, () -> session.chatTurn("more"))
                .getMessage().contains("whole context"));
    }

    @Test
    void explainsUnexpectedFailuresInWords() {
        assertTrue(WorkerExports.explain(new OutOfMemoryError()).startsWith("Not enough memory"));
        assertEquals("Something went wrong inside the engine: boom", WorkerExports.explain(new IllegalStateException("boom")));
    }
}
