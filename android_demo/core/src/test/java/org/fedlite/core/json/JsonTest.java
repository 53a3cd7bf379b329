package org.fedlite.core.json;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fedlite.core.DecodeException;
import org.junit.Test;

public class JsonTest {
    @Test
    public void parsesEveryKindOfValue() {
        Object value = JsonReader.parse(" {\"a\": [1, -2.5e1, true, false, null], \"b\": \"x\\u00e9\\n\\ud83d\\ude00\"} ");
        Map<?, ?> map = (Map<?, ?>) value;
        assertEquals(Arrays.asList(1L, -25.0, true, false, null), map.get("a"));
        assertEquals("x\u00e9\n\ud83d\ude00", map.get("b"));
    }

    @Test
    public void writesCompactJsonThatReadsBack() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("name", "quote\" back\\ tab\t é");
        map.put("n", 42L);
        map.put("x", 0.1);
        map.put("none", null);
        map.put("list", List.of(1L, 2L));
        String text = JsonWriter.write(map);
        assertEquals("{\"name\":\"quote\\\" back\\\\ tab\\t é\",\"n\":42,\"x\":0.1,\"none\":null,\"list\":[1,2]}", text);
        assertEquals(map, JsonReader.parse(text));
    }

    @Test
    public void sortedWritingSortsEveryObject() {
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("z", 1L);
        inner.put("a", 2L);
        Map<String, Object> outer = new LinkedHashMap<>();
        outer.put("metrics", inner);
        outer.put("base_version", 3L);
        assertEquals("{\"base_version\":3,\"metrics\":{\"a\":2,\"z\":1}}", JsonWriter.writeSorted(outer));
    }

    @Test
    public void floatsAreWrittenAsPythonReprWritesThem() {
        double[] values = {0.1, 1e-05, 1.0, 0.41, 1e16, 1e15, 123456789.0, -2.5e-7, 1.0 / 3, 5e-324,
            Double.MAX_VALUE, 0.0001, 100.0, 1.5e300, -0.0};
        String[] python = {"0.1", "1e-05", "1.0", "0.41", "1e+16", "1000000000000000.0", "123456789.0", "-2.5e-07",
            "0.3333333333333333", "5e-324", "1.7976931348623157e+308", "0.0001", "100.0", "1.5e+300", "-0.0"};
        for (int i = 0; i < values.length; i++) {
            assertEquals(python[i], JsonWriter.pythonRepr(values[i]));
            assertEquals(values[i], Double.parseDouble(JsonWriter.pythonRepr(values[i])), 0.0);
        }
    }

    @Test
    public void rejectsMalformedTextWithAClearMessage() {
        String[] bad = {
            "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "NaN", "Infinity", "[1] 2",
            "{\"a\":1,\"a\":2}", "\"\\x\"", "\"tab\there\"", "\"\\ud800\"", "tru", "{a:1}", "'x'",
            "9223372036854775808", "1e400",
        };
        for (String text : bad) {
            DecodeException e = assertThrows(text, DecodeException.class, () -> JsonReader.parse(text));
            assertTrue(e.getMessage(), e.getMessage().startsWith("JSON: "));
        }
    }

    @Test
    public void rejectsDeepNestingAndInvalidUtf8() {
        String deep = "[".repeat(JsonReader.MAX_DEPTH + 1) + "]".repeat(JsonReader.MAX_DEPTH + 1);
        assertThrows(DecodeException.class, () -> JsonReader.parse(deep));
        byte[] invalid = {'"', (byte) 0xc3, '"'};
        assertThrows(DecodeException.class, () -> JsonReader.parse(invalid));
        assertEquals("é", JsonReader.parse("\"é\"".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    public void typedAccessNamesTheField() {
        JsonObject json = JsonObject.parse("task", "{\"round\":3.0,\"id\":\"t\",\"big\":9007199254740993}"
                .getBytes(StandardCharsets.UTF_8));
        assertEquals("task: field \"round\" must be an integer",
                assertThrows(DecodeException.class, () -> json.integer("round")).getMessage());
        assertEquals("task: missing field \"epochs\"",
                assertThrows(DecodeException.class, () -> json.integer("epochs")).getMessage());
        assertThrows(DecodeException.class, () -> json.integer("big"));
        assertThrows(DecodeException.class, () -> json.allowOnly("round", "id"));
        assertNull(json.optObject("absent"));
    }
}
