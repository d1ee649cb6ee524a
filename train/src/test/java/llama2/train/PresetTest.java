package llama2.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import llama2.engine.BadInputException;
import llama2.engine.CheckpointLoader;
import llama2.engine.Config;

class PresetTest {

    @Test
    void eachPresetIsFoundByItsName() {
        for (Preset p : Preset.values()) {
            assertEquals(p, Preset.named(p.label()));
        }
        assertEquals("no preset is named 'huge': there are tiny, small",
                assertThrows(BadInputException.class, () -> Preset.named("huge")).getMessage());
    }

    @Test
    void tinyIsStories260KsShapeWithAShorterWindow() throws IOException {
        String shared = System.getProperty("shared.dir");
        Path file = shared == null ? null : Path.of(shared, "llama2/models/stories260K.bin");
        assumeTrue(file != null && Files.isRegularFile(file), "needs ../shared/llama2/models/stories260K.bin");
        byte[] head = new byte[256];
        try (var in = Files.newInputStream(file)) {
            in.readNBytes(head, 0, head.length);
        }
        Config stories = CheckpointLoader.config(ByteBuffer.wrap(head), Files.size(file), file.toString());
        Config tiny = Preset.TINY.config();
        assertEquals(new Config(stories.dim(), stories.hiddenDim(), stories.nLayers(), stories.nHeads(), stories.nKvHeads(),
                stories.vocabSize(), 256, stories.sharedClassifier()), tiny);
    }

    @Test
    void smallIsTheBenchsDim128() {
        assertEquals(BenchCommand.shape("dim128"), Preset.SMALL.config(), "stories1.5M's shape");
    }
}
