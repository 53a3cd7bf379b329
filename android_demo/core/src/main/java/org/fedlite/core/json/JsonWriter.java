package org.fedlite.core.json;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes maps, lists, strings, numbers, booleans and null as compact JSON, as Python's
 * {@code json.dumps(value, separators=(",", ":"), ensure_ascii=False)} does: no spaces, non-ASCII
 * text as UTF-8, floats in Python's shortest round-trip {@code repr} ({@code 1e-05}, {@code 0.1},
 * {@code 1.0}), so Java and Python produce the same bytes for the same message.
 */
public final class JsonWriter {
    private final StringBuilder out = new StringBuilder();
    private final boolean sortKeys;

    private JsonWriter(boolean sortKeys) {
        this.sortKeys = sortKeys;
    }

    /** Encodes a value, objects' keys in their map's iteration order. */
    public static String write(Object value) {
        JsonWriter writer = new JsonWriter(false);
        writer.writeValue(value);
        return writer.out.toString();
    }

    /** Encodes a value with every object's keys sorted (Python's {@code sort_keys=True}). */
    public static String writeSorted(Object value) {
        JsonWriter writer = new JsonWriter(true);
        writer.writeValue(value);
        return writer.out.toString();
    }

    /** Encodes a value as UTF-8 JSON bytes, keys in iteration order. */
    public static byte[] writeBytes(Object value) {
        return write(value).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Python's {@code repr(float)} of a finite double. */
    public static String pythonRepr(double value) {
        if (value == 0) {
            return 1 / value < 0 ? "-0.0" : "0.0";
        }
        BigDecimal shortest = shortestRoundTrip(value).stripTrailingZeros();
        String digits = shortest.unscaledValue().abs().toString();
        int point = digits.length() - shortest.scale();
        String sign = value < 0 ? "-" : "";
        if (point <= -4 || point > 16) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            int exponent = point - 1;
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
        }
        if (point <= 0) {
            return sign + "0." + zeros(-point) + digits;
        }
        if (point >= digits.length()) {
            return sign + digits + zeros(point - digits.length()) + ".0";
        }
        return sign + digits.substring(0, point) + "." + digits.substring(point);
    }

    private static String zeros(int count) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < count; i++) {
            out.append('0');
        }
        return out.toString();
    }

    private static BigDecimal shortestRoundTrip(double value) {
        BigDecimal exact = new BigDecimal(value);
        for (int precision = 1; precision < 17; precision++) {
            BigDecimal candidate = exact.round(new MathContext(precision, RoundingMode.HALF_EVEN));
            if (candidate.doubleValue() == value) {
                return candidate;
            }
        }
        return exact.round(new MathContext(17, RoundingMode.HALF_EVEN));
    }

    private void writeValue(Object value) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String) {
            writeString((String) value);
        } else if (value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Double || value instanceof Float) {
            writeDouble(((Number) value).doubleValue());
        } else if (value instanceof Long || value instanceof Integer || value instanceof Short) {
            out.append(((Number) value).longValue());
        } else if (value instanceof Map) {
            writeObject((Map<?, ?>) value);
        } else if (value instanceof Collection) {
            writeArray((Collection<?>) value);
        } else {
            throw new IllegalArgumentException("JSON: cannot encode a " + value.getClass().getName());
        }
    }

    private void writeObject(Map<?, ?> map) {
        for (Object key : map.keySet()) {
            if (!(key instanceof String)) {
                throw new IllegalArgumentException("JSON: object keys must be strings");
            }
        }
        Map<?, ?> ordered = sortKeys ? new TreeMap<>(map) : map;
        out.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> entry : ordered.entrySet()) {
            if (!first) {
                out.append(',');
            }
            first = false;
            writeString((String) entry.getKey());
            out.append(':');
            writeValue(entry.getValue());
        }
        out.append('}');
    }

    private void writeArray(Collection<?> items) {
        out.append('[');
        boolean first = true;
        for (Object item : items) {
            if (!first) {
                out.append(',');
            }
            first = false;
            writeValue(item);
        }
        out.append(']');
    }

    private void writeDouble(double value) {
        if (Double.isNaN(value) || Double.isInfinite(value)) {
            throw new IllegalArgumentException("JSON: cannot encode " + value);
        }
        out.append(pythonRepr(value));
    }

    private void writeString(String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                case '\b': out.append("\\b"); break;
                case '\f': out.append("\\f"); break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        out.append('"');
    }
}
