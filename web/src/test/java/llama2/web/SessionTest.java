package llama2.web;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;
import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.engine.GoldenCase;
import llama2.engine.Shared;
import llama2.engine.Step;
import llama2.engine.Weights;
import llama2.web.support.Reference;
import llama2.web.support.TestModels;
import org.junit.jupiter.api.Test;

/** The worker's state machine, on the JVM: what the browser runs, minus the browser. */
class SessionTest {
    static final Path MODELS = Path.of(System.getProperty("models.dir", "../models"));
    static final Path MODEL = MODELS.resolve("stories1.5M-java-q80.bin");
    static final Path TOKENIZER = MODELS.resolve("stories1.5M-java-tokenizer.bin");

    private static Session bundled() throws IOException {
        Session session = new Session();
        session.load(Files.readAllBytes(MODEL), MODEL.getFileName().toString(),
                Files.readAllBytes(TOKENIZER), TOKENIZER.getFileName().toString());
        return session;
    }

    /** Steps to the end as the worker does: the ids before the first step, then each step's token. */
    private static int[] runToTheEnd(Session session, int[] before, StringBuilder text) {
        IntStream.Builder ids = IntStream.builder();
        Arrays.stream(before).forEach(ids::add);
        Step step;
        do {
            step = session.step();
            if (step.end() != Step.End.BOS) {
                ids.add(step.token());
            }
            text.append(step.text());
        } while (!step.isLast());
        return ids.build().toArray();
    }

    @Test
    void aStoryStepByStepHasTheCliIds() throws IOException {
        Session session = bundled();
        session.startStory("Once upon a time", 0.8, 0.9, 42, 60);
        StringBuilder text = new StringBuilder();
        int[] ids = runToTheEnd(session, session.ids(), text);
        assertEquals(Reference.jvmIds(MODEL, TOKENIZER, 0.8f, 0.9f, 42, 60, "Once upon a time"), Reference.join(ids));
        assertArrayEquals(session.ids(), ids, "the worker's ids are the engine's");
        assertTrue(text.toString().startsWith("Once upon a time"), text.toString());
    }

    @Test
    void stories260KGivesTheGoldenIds() throws IOException {
        GoldenCase golden = Reference.golden("s260k_topp");
        Session session = new Session();
        session.load(Files.readAllBytes(Shared.model(golden.model())), golden.model(),
                Files.readAllBytes(Shared.model(golden.tokenizer())), golden.tokenizer());
        session.startStory(golden.prompt(), golden.temperature(), golden.topp(), golden.seed(), golden.steps());
        assertArrayEquals(golden.ids(), runToTheEnd(session, session.ids(), new StringBuilder()));
    }

    @Test
    void describesTheModelForThePage() throws IOException {
        String facts = bundled().describe();
        assertTrue(facts.contains("\"dim\":128") && facts.contains("\"vocabSize\":2048")
                && facts.contains("\"format\":\"version 2 (Q8_0, group size 32)\"")
                && facts.contains("\"bytes\":" + Files.size(MODEL)), facts);
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
    void settingsAreCheckedByTheEngineRulesAndWords() throws IOException {
        Session session = bundled();
        assertEquals("top-p must be a number from 0 to 1 (0 and 1 turn it off), found 1.5",
                assertThrows(BadInputException.class, () -> session.startStory("", 1, 1.5, 1, 10)).getMessage());
        assertTrue(assertThrows(BadInputException.class, () -> session.startStory("", Double.NaN, 0.9, 1, 10))
                .getMessage().startsWith("temperature must be a number, 0 or more"));
        assertEquals("steps must be a whole number, 0 or more (0 means the model's whole context), found 1.5",
                assertThrows(BadInputException.class, () -> session.startStory("", 1, 0.9, 1, 1.5)).getMessage());
        assertTrue(assertThrows(BadInputException.class, () -> session.chat("hi", "", 1, 0.9, 1, -1, true))
                .getMessage().startsWith("steps must be"));
    }

    @Test
    void nothingRunsBeforeAModelIsLoaded() {
        Session session = new Session();
        assertEquals("No model is loaded yet.",
                assertThrows(BadInputException.class, () -> session.startStory("", 1, 0.9, 1, 10)).getMessage());
        assertThrows(BadInputException.class, session::step);
        assertEquals(0, session.ids().length);
    }

    @Test
    void aChatAnswersTurnByTurnUntilTheContextIsFull() throws IOException {
        Session session = bundled();
        Step.End end = null;
        for (int turn = 0; turn < 50 && end != Step.End.CONTEXT; turn++) {
            session.chat("Tell me about the dog.", "Be brief.", 0.8, 0.9, 7, 0, turn == 0);
            assertEquals(0, session.ids().length, "nothing sampled yet in this turn");
            int tokens = 0;
            Step step;
            do {
                step = session.step();
                tokens++;
            } while (!step.isLast());
            assertTrue(tokens > 0);
            assertEquals(tokens, session.ids().length, "one sampled id per step");
            end = step.end();
            assertTrue(end == Step.End.TURN || end == Step.End.CONTEXT, String.valueOf(end));
        }
        assertEquals(Step.End.CONTEXT, end, "256 positions fill up within 50 turns");
        // A full conversation cannot go on; the next message starts a new one.
        session.chat("more", "", 0.8, 0.9, 7, 0, false);
        assertNull(session.step().end(), "a new conversation has room again");
    }

    @Test
    void explainsUnexpectedFailuresInWords() {
        assertTrue(WorkerExports.explain(new OutOfMemoryError()).startsWith("Not enough memory"));
        assertEquals("Something went wrong inside the engine: boom", WorkerExports.explain(new IllegalStateException("boom")));
    }

    @Test
    void stepsThatEndInsideThePromptAreSaid() throws IOException {
        Session session = bundled();
        session.startStory("Once upon a time there was a cat", 0, 0.9, 1, 3);
        String note = session.promptNote();
        assertTrue(note.startsWith("The steps (3) end inside the prompt (") && note.contains("cut short"), note);
        int[] ids = runToTheEnd(session, session.ids(), new StringBuilder());
        assertEquals(4, ids.length, "BOS and three positions, as run.c writes them");
        session.startStory("Once upon a time there was a cat", 0, 0.9, 1, 200);
        assertEquals("", session.promptNote());
    }

    @Test
    void aModelReadInChunksAndQuantizedOnLoadIsTheCliQuantizedFile() throws IOException {
        Path fp32 = MODELS.resolve("stories1.5M-java.bin");
        byte[] file = Files.readAllBytes(fp32);
        Session session = new Session();
        session.beginModel("stories1.5M-java.bin", file.length, true);
        for (int at = 0; at < file.length; at += 4099) { // odd chunks: floats split between two
            session.acceptModelBytes(java.nio.ByteBuffer.wrap(file, at, Math.min(4099, file.length - at)).slice());
        }
        session.finishModel(Files.readAllBytes(TOKENIZER), "tokenizer.bin");
        assertTrue(session.describe().contains("\"quantizedOnLoad\":true"), session.describe());

        ByteArrayOutputStream quantized = new ByteArrayOutputStream();
        Checkpoint original = Checkpoint.read(java.nio.ByteBuffer.wrap(file).order(java.nio.ByteOrder.LITTLE_ENDIAN));
        Checkpoint.write(original.weights(), 2, Checkpoint.defaultGroupSize(original.config()), quantized);
        Session reference = new Session();
        reference.load(quantized.toByteArray(), "q80.bin", Files.readAllBytes(TOKENIZER), "tokenizer.bin");
        for (Session s : new Session[] {session, reference}) {
            s.startStory("Once upon a time", 0.8, 0.9, 7, 80);
        }
        assertArrayEquals(runToTheEnd(reference, reference.ids(), new StringBuilder()),
                runToTheEnd(session, session.ids(), new StringBuilder()));
    }
}
