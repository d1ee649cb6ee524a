package llama2.engine;

/**
 * The shape of a Llama 2 model: the seven numbers of a llama2.c header plus whether the
 * classifier reuses the token embedding.
 */
public record Config(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads,
                     int vocabSize, int seqLen, boolean sharedClassifier) {

    /**
     * No dimension may exceed this: it keeps every tensor index inside an int and every single
     * array well below the 1 GiB a WebAssembly GC array can hold.
     */
    static final int MAX_DIMENSION = 1 << 20;

    /** Largest number of floats in one tensor (256 Mi floats would be the 1 GiB Wasm limit). */
    static final long MAX_TENSOR_ELEMENTS = 200_000_000L;

    public int headSize() {
        return dim / nHeads;
    }

    /** Width of a key or value vector: grouped-query attention shares them among heads. */
    public int kvDim() {
        return dim / nHeads * nKvHeads;
    }

    /** How many query heads read the same key/value head. */
    public int kvMul() {
        return nHeads / nKvHeads;
    }

    /** Checks what llama2.c silently assumes; {@code source} names the file in messages. */
    public Config validate(String source) {
        positive(source, "dim", dim);
        positive(source, "hidden_dim", hiddenDim);
        positive(source, "n_layers", nLayers);
        positive(source, "n_heads", nHeads);
        positive(source, "n_kv_heads", nKvHeads);
        positive(source, "vocab_size", vocabSize);
        positive(source, "seq_len", seqLen);
        if (dim % nHeads != 0) {
            throw new BadInputException(source + ": dim " + dim + " is not a multiple of n_heads " + nHeads);
        }
        if (dim / nHeads % 2 != 0) {
            throw new BadInputException(source + ": head size " + dim / nHeads + " (dim / n_heads) must be even for RoPE");
        }
        if (nKvHeads > nHeads || nHeads % nKvHeads != 0) {
            throw new BadInputException(source + ": n_heads " + nHeads + " is not a multiple of n_kv_heads " + nKvHeads);
        }
        if (vocabSize < 3) {
            throw new BadInputException(source + ": vocab_size " + vocabSize + " is too small: ids 0, 1 and 2 are <unk>, <s> and </s>");
        }
        tensorSize(source, "token_embedding", (long) vocabSize * dim);
        tensorSize(source, "w1", (long) hiddenDim * dim);
        tensorSize(source, "key cache (n_layers * seq_len * kv_dim)", (long) nLayers * seqLen * kvDim());
        return this;
    }

    private static void positive(String source, String field, int value) {
        if (value <= 0) {
            throw new BadInputException(source + ": " + field + " must be positive, found " + value);
        }
        if (value > MAX_DIMENSION) {
            throw new BadInputException(source + ": " + field + " " + value + " is absurdly large (more than " + MAX_DIMENSION + ")");
        }
    }

    private static void tensorSize(String source, String tensor, long elements) {
        if (elements > MAX_TENSOR_ELEMENTS) {
            throw new BadInputException(source + ": " + tensor + " would hold " + elements
                    + " floats, more than the " + MAX_TENSOR_ELEMENTS + " one array may hold");
        }
    }

    /** Number of weights, counting a shared classifier once (what llama2.c's export counts). */
    public long parameterCount() {
        long perLayer = 2L * dim                         // the two RMSNorm weight vectors
                + (long) dim * dim * 2                   // wq, wo
                + (long) kvDim() * dim * 2               // wk, wv
                + (long) hiddenDim * dim * 3;            // w1, w2, w3
        long embedding = (long) vocabSize * dim;
        return embedding + perLayer * nLayers + dim + (sharedClassifier ? 0 : embedding);
    }
}
