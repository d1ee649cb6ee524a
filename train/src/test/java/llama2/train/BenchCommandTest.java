package llama2.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import llama2.engine.Config;

class BenchCommandTest {

    @Test
    void flopsPerTokenCountSixPerMatrixWeightPlusAttention() {
        for (String name : new String[] {"dim128", "dim256"}) {
            Config c = BenchCommand.shape(name);
            // every parameter is a matrix weight except the RMSNorm weights (two per layer, one final)
            long matrixWeights = c.parameterCount() - (2L * c.nLayers() + 1) * c.dim();
            double attention = 6.0 * c.nLayers() * c.dim() * (c.seqLen() + 1);
            assertEquals(6.0 * matrixWeights + attention, BenchCommand.flopsPerToken(c), 1e-6, name);
        }
    }
}
