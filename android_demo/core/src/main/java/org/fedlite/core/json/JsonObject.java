package org.fedlite.core.json;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.fedlite.core.DecodeException;

/**
 * Typed, checked access to a parsed JSON object: a missing or mistyped field raises a
 * {@link DecodeException} that names the field and the message it belongs to.
 */
public final class JsonObject {
    /** Integers on the wire stay within ±2^53 so that every JSON implementation reads them exactly. */
    public static final long MAX_JSON_INT = 1L << 53;

    private final String context;
    private final Map<String, Object> fields;

    public JsonObject(String context, Map<String, Object> fields) {
        this.context = context;
        this.fields = fields;
    }

    /** Parses UTF-8 bytes that must hold one JSON object; {@code context} names it in errors. */
    public static JsonObject parse(String context, byte[] utf8) {
        return of(context, JsonReader.parse(utf8));
    }

    /** Views a parsed value as an object, or fails naming {@code context}. */
    @SuppressWarnings("unchecked")
    public static JsonObject of(String context, Object value) {
        if (!(value instanceof Map)) {
            throw new DecodeException(context + ": expected a JSON object");
        }
        return new JsonObject(context, (Map<String, Object>) value);
    }

    /** Rejects any field not in {@code allowed}, as the protocol's strict parsing does. */
    public JsonObject allowOnly(String... allowed) {
        Set<String> known = new HashSet<>(Arrays.asList(allowed));
        for (String key : fields.keySet()) {
            if (!known.contains(key)) {
                throw new DecodeException(context + ": unknown field \"" + key + "\"");
            }
        }
        return this;
    }

    public Map<String, Object> asMap() {
        return fields;
    }

    public boolean has(String key) {
        return fields.containsKey(key) && fields.get(key) != null;
    }

    public String string(String key) {
        return require(key, String.class, "a string");
    }

    public String optString(String key, String fallback) {
        return has(key) ? string(key) : fallback;
    }

    public long integer(String key) {
        long value = require(key, Long.class, "an integer");
        if (Math.abs(value) > MAX_JSON_INT) {
            throw new DecodeException(context + ": field \"" + key + "\" is out of the JSON integer range");
        }
        return value;
    }

    public long optInteger(String key, long fallback) {
        return has(key) ? integer(key) : fallback;
    }

    public double number(String key) {
        return require(key, Number.class, "a number").doubleValue();
    }

    public boolean bool(String key) {
        return require(key, Boolean.class, "a boolean");
    }

    public JsonObject object(String key) {
        return of(context + "." + key, require(key, Map.class, "an object"));
    }

    public JsonObject optObject(String key) {
        return has(key) ? object(key) : null;
    }

    @SuppressWarnings("unchecked")
    public List<Object> list(String key) {
        return require(key, List.class, "an array");
    }

    private <T> T require(String key, Class<T> type, String what) {
        Object value = fields.get(key);
        if (value == null) {
            throw new DecodeException(context + ": missing field \"" + key + "\"");
        }
        if (!type.isInstance(value)) {
            throw new DecodeException(context + ": field \"" + key + "\" must be " + what);
        }
        return type.cast(value);
    }

    @Override
    public String toString() {
        return JsonWriter.write(fields);
    }
}
