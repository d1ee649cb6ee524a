package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every case of the reference's generate.tsv, token for token. */
class GoldenGenerateTest {

    static List<GoldenCase> cases() {
        return GoldenCase.orSkipped();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void producesTheReferenceIds(GoldenCase golden) {
        Shared.dir();
        assertArrayEquals(golden.ids(), golden.generate(), golden.name());
    }

    /**
     * The CLI's way, SIMD kernels and the model split into shards on threads (three does not
     * divide every model's heads): the same ids.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void producesTheReferenceIdsInShards(GoldenCase golden) {
        Shared.dir();
        for (int shards = 1; shards <= 3; shards++) {
            assertArrayEquals(golden.ids(), golden.generate(shards), golden.name() + ", " + shards + " shards");
        }
    }

    /** Shards that each hold only their slice of the weights (the browser's way): the same ids. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void producesTheReferenceIdsFromSlicesOfTheFile(GoldenCase golden) {
        Shared.dir();
        for (int shards = 1; shards <= 3; shards++) {
            assertArrayEquals(golden.ids(), golden.generateFromSlices(shards), golden.name() + ", " + shards + " slices");
        }
    }

    /** ... with Q8_0 slices packed, as the WebAssembly build's workers hold them: the same ids. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void producesTheReferenceIdsFromPackedSlices(GoldenCase golden) {
        Shared.dir();
        for (int shards = 2; shards <= 3; shards++) {
            assertArrayEquals(golden.ids(), golden.generateFromSlices(shards, true), golden.name() + ", " + shards + " packed slices");
        }
    }

        /** ... and run stage by stage, as browser workers that exchange by messages run them. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void producesTheReferenceIdsInStages(GoldenCase golden) {
        Shared.dir();
        for (int shards = 1; shards <= 3; shards++) {
            assertArrayEquals(golden.ids(), golden.generateInStages(shards), golden.name() + ", " + shards + " shards in stages");
        }
    }
}
