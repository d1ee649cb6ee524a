package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import llama2.io.ModelFiles;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** The facade for apps: the same stories as run.c, through the callback; settings and files refused in one line. */
class LanguageModelTest {

    /** The golden cases whose exact run.c stdout is stored (text/NAME.txt). */
    static List<GoldenCase> casesWithText() {
        if (!Shared.exists()) {
            return GoldenCase.orSkipped();
        }
        return GoldenCase.all().stream().filter(c -> Files.exists(Shared.golden("text/" + c.name() + ".txt"))).toList();
    }

    @ParameterizedTest
    @MethodSource("casesWithText")
    void generatePrintsWhatRunCPrints(GoldenCase c) throws IOException {
        LanguageModel model = ModelFiles.load(Shared.model(c.model()), Shared.model(c.tokenizer()));
        Settings settings = Settings.defaults().withTemperature(c.temperature()).withTopp(c.topp())
                .withSeed(c.seed()).withSteps(c.steps());
        List<String> pieces = new ArrayList<>();
        String story = model.generate(c.prompt(), settings, pieces::add);

        String runC = Files.readString(Shared.golden("text/" + c.name() + ".txt"), StandardCharsets.UTF_8);
        assertEquals(runC, story + "\n", "run.c's stdout ends with one newline");
        assertEquals(story, String.join("", pieces), "the callback received the story piece by piece");
        assertTrue(pieces.size() > 1, "more than one piece: " + pieces.size());
    }

    @Test
    void bytesAndFilesGiveTheSameModel() throws IOException {
        Path modelFile = Shared.model("stories260K.bin");
        Path tokenizerFile = Shared.model("tok512.bin");
        Settings settings = Settings.defaults().withSeed(3).withSteps(60);
        String fromFiles = ModelFiles.load(modelFile, tokenizerFile).generate("Tom", settings, piece -> { });
        String fromBytes = LanguageModel.load(Files.readAllBytes(modelFile), Files.readAllBytes(tokenizerFile))
                .generate("Tom", settings, piece -> { });
        assertEquals(fromFiles, fromBytes);
        assertTrue(fromBytes.startsWith("Tom"), fromBytes);
    }

    @Test
    void aConversationRepliesAsTheChatLoopDoesUntilTheContextIsUsedUp() {
        Config config = new Config(8, 16, 2, 2, 1, 300, 96, true); // room for a few turns
        byte[] modelFile = TinyModels.file(Weights.random(config, 7), 1, 0);
        byte[] tokenizerFile = TinyModels.tokenizerFile(config.vocabSize());
        Conversation conversation = LanguageModel.load(modelFile, tokenizerFile).chat("Be brief.", Settings.defaults().withSeed(5));
        StringBuilder streamed = new StringBuilder();
        String reply = conversation.reply("hi", streamed::append);
        assertEquals(reply, streamed.toString());
        assertFalse(reply.isEmpty(), "the assistant's turn ends at least with a newline");

        Checkpoint checkpoint = Checkpoint.read(java.nio.ByteBuffer.wrap(modelFile));
        Chat chat = new Chat(new Transformer(checkpoint.weights()), TinyModels.tokenizer(config.vocabSize()),
                new Sampler(config.vocabSize(), 1.0f, 0.9f, 5), 256, "Be brief.");
        chat.user("hi");
        StringBuilder stepped = new StringBuilder();
        Step step;
        do {
            step = chat.step();
            stepped.append(step.text());
        } while (!step.isLast());
        assertEquals(stepped.toString(), reply, "the same turn as Chat stepped by hand");

        while (!conversation.isOver()) { // a random model rarely ends its turn: the context runs out
            conversation.reply("a", piece -> { });
        }
        assertThrows(IllegalStateException.class, () -> conversation.reply("more", piece -> { }));
    }

    @Test
    void settingsRefuseImpossibleValuesInOneLine() {
        Settings defaults = Settings.defaults();
        assertEquals(new Settings(1.0f, 0.9f, 0, 256), defaults, "run.c's defaults");
        assertRefused("temperature", "-1.0", () -> defaults.withTemperature(-1));
        assertRefused("temperature", "NaN", () -> defaults.withTemperature(Float.NaN));
        assertRefused("top-p", "1.5", () -> defaults.withTopp(1.5f));
        assertRefused("steps", "-3", () -> defaults.withSteps(-3));
    }

    /** Refused with the engine's own one-line message, which names the setting and the value found. */
    private static void assertRefused(String setting, String found, org.junit.jupiter.api.function.Executable change) {
        String message = assertThrows(BadInputException.class, change).getMessage();
        assertTrue(message.startsWith(setting + " must be") && message.endsWith("found " + found) && !message.contains("\n"),
                message);
    }

    @Test
    void aMissingOrBadFileIsNamed() throws IOException {
        Path missing = Path.of("no-such-model.bin");
        BadInputException e = assertThrows(BadInputException.class, () -> ModelFiles.load(missing, missing));
        assertEquals("no-such-model.bin: no such file", e.getMessage());

        Path truncated = Files.createTempFile("truncated", ".bin");
        try {
            byte[] file = TinyModels.file(0);
            Files.write(truncated, java.util.Arrays.copyOf(file, file.length - 4));
            String message = assertThrows(BadInputException.class,
                    () -> LanguageModel.load(java.nio.ByteBuffer.wrap(Files.readAllBytes(truncated)), truncated.toString(),
                            java.nio.ByteBuffer.wrap(TinyModels.tokenizerFile(300)), "tok")).getMessage();
            assertTrue(message.startsWith(truncated.toString()), message);
            assertFalse(message.contains("\n"), message);
        } finally {
            Files.delete(truncated);
        }
    }
}
