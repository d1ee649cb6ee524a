package llama2.web;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void writesFlatObjectsWithEscapedStrings() {
        String json = new Json().put("name", "say \"hi\"\\\n\t\u0001").put("count", 3_000_000_000L).put("ok", true).toString();
        assertEquals("{\"name\":\"say \\\"hi\\\"\\\\\\n\\t\\u0001\",\"count\":3000000000,\"ok\":true}", json);
    }

    @Test
    void anEmptyObjectIsBraces() {
        assertEquals("{}", new Json().toString());
    }
}
