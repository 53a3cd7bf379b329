package org.fedlite.core.wire;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import org.fedlite.core.DecodeException;
import org.fedlite.core.json.JsonObject;

/**
 * Reads weights and update bundles (docs/wire-format.md). Every malformed input — truncation, a
 * bad checksum, impossible sizes, a damaged zlib stream — raises {@link DecodeException} naming
 * the problem. Sizes are validated against {@code maxElements} (and the expected shapes, when
 * given) before anything is allocated for a record.
 */
public final class BundleReader {
    /** Default bound on the coded elements of a whole bundle (about 16.7 million). */
    public static final long DEFAULT_MAX_ELEMENTS = 1L << 24;

    private BundleReader() {
    }

    /** Decodes a bundle with the default element bound and no expected shapes. */
    public static Bundle read(byte[] data) {
        return read(data, null, DEFAULT_MAX_ELEMENTS);
    }

    /**
     * Decodes a bundle.
     *
     * @param expectedShapes if not null, every tensor must be named here with exactly this shape
     * @param maxElements bound on the sum of coded-domain lengths over all records
     */
    public static Bundle read(byte[] data, Map<String, int[]> expectedShapes, long maxElements) {
        Parsed parsed = parse(data, expectedShapes, maxElements);
        List<Tensor> tensors = new ArrayList<>();
        for (DecodedRecord record : parsed.records()) {
            tensors.add(record.tensor());
        }
        return new Bundle(parsed.kind(), parsed.meta(), tensors);
    }

    /** A record as read: its header, its entropy byte, its raw (inflated) payload and its tensor. */
    record DecodedRecord(RecordLayout layout, int entropy, byte[] raw, Tensor tensor) {
    }

    /** A whole bundle as read, records in order. */
    record Parsed(int kind, byte[] meta, List<DecodedRecord> records) {
    }

    static Parsed parse(byte[] data, Map<String, int[]> expectedShapes, long maxElements) {
        if (data.length < 20) {
            throw new DecodeException("bundle: truncated: " + data.length + " bytes is shorter than a header and checksum");
        }
        checkCrc(data);
        LittleEndian.Reader in = new LittleEndian.Reader(data, 0, data.length - 4, "bundle");
        int kind = readHeader(in);
        long metaLength = in.u32("meta_len");
        long count = in.u32("tensor_count");
        if (metaLength > BundleWriter.MAX_META_BYTES || count > BundleWriter.MAX_TENSORS) {
            throw new DecodeException("bundle: meta_len " + metaLength + " or tensor_count " + count + " exceeds 65536");
        }
        byte[] meta = in.bytes(metaLength, "meta");
        try {
            JsonObject.parse("meta", meta);
        } catch (DecodeException e) {
            throw new DecodeException("bundle: meta is not a JSON object: " + e.getMessage(), e);
        }
        List<DecodedRecord> records = readRecords(in, kind, (int) count, expectedShapes, maxElements);
        if (in.remaining() != 0) {
            throw new DecodeException("bundle: " + in.remaining() + " unexpected bytes after the last record");
        }
        return new Parsed(kind, meta, records);
    }

    private static void checkCrc(byte[] data) {
        CRC32 crc = new CRC32();
        crc.update(data, 0, data.length - 4);
        long stored = new LittleEndian.Reader(data, data.length - 4, data.length, "bundle").u32("crc32");
        if (crc.getValue() != stored) {
            throw new DecodeException(String.format("bundle: bad checksum (stored %08x, computed %08x): corrupt or truncated",
                    stored, crc.getValue()));
        }
    }

    private static int readHeader(LittleEndian.Reader in) {
        byte[] magic = in.bytes(4, "magic");
        if (!Arrays.equals(magic, BundleWriter.MAGIC)) {
            throw new DecodeException("bundle: bad magic: not a FedLite bundle");
        }
        int version = in.u8("version");
        if (version != BundleWriter.VERSION) {
            throw new DecodeException("bundle: version " + version + " is not supported (this reader knows 1)");
        }
        int kind = in.u8("kind");
        if (kind != Bundle.KIND_WEIGHTS && kind != Bundle.KIND_UPDATE) {
            throw new DecodeException("bundle: unknown kind " + kind);
        }
        if (in.u16("reserved") != 0) {
            throw new DecodeException("bundle: reserved field is not zero");
        }
        return kind;
    }

    private static List<DecodedRecord> readRecords(LittleEndian.Reader in, int kind, int count,
                                                   Map<String, int[]> expectedShapes, long maxElements) {
        List<DecodedRecord> records = new ArrayList<>();
        Set<String> names = new HashSet<>();
        long budget = maxElements;
        for (int i = 0; i < count; i++) {
            String where = "bundle record " + i;
            RecordLayout layout = RecordLayout.read(in, where);
            String what = where + " ('" + layout.name + "')";
            checkAllowed(layout, kind, what);
            checkExpected(layout, expectedShapes, what);
            if (!names.add(layout.name)) {
                throw new DecodeException(what + ": duplicate tensor name");
            }
            budget -= Math.max(layout.m(), layout.n());
            if (budget < 0) {
                throw new DecodeException(what + ": the bundle has more than " + maxElements + " elements");
            }
            int entropy = in.u8("entropy");
            byte[] raw = readPayload(in, layout, entropy, what);
            records.add(new DecodedRecord(layout, entropy, raw,
                    new Tensor(layout.name, layout.shape, RecordCodec.decode(layout, raw, what))));
        }
        return records;
    }

    private static void checkAllowed(RecordLayout layout, int kind, String what) {
        boolean plain = layout.transform == RecordLayout.TRANSFORM_NONE && layout.sparsity == RecordLayout.SPARSITY_DENSE
                && (layout.values == RecordLayout.VALUES_F32 || layout.values == RecordLayout.VALUES_F16);
        if (kind == Bundle.KIND_WEIGHTS && !plain) {
            throw new DecodeException(what + ": a weights bundle may hold only plain f32/f16 tensors");
        }
    }

    private static void checkExpected(RecordLayout layout, Map<String, int[]> expectedShapes, String what) {
        if (expectedShapes == null) {
            return;
        }
        int[] expected = expectedShapes.get(layout.name);
        if (expected == null) {
            throw new DecodeException(what + ": the model has no tensor of this name");
        }
        if (!Arrays.equals(expected, layout.shape)) {
            throw new DecodeException(what + ": shape " + Arrays.toString(layout.shape) + " does not match the model's "
                    + Arrays.toString(expected));
        }
    }

    private static byte[] readPayload(LittleEndian.Reader in, RecordLayout layout, int entropy, String what) {
        long payloadLength = in.u32("payload_len");
        long rawSize = layout.rawSize();
        if (entropy == RecordLayout.ENTROPY_NONE) {
            if (payloadLength != rawSize) {
                throw new DecodeException(what + ": payload_len " + payloadLength + " differs from the " + rawSize
                        + " bytes its header implies");
            }
            return in.bytes(payloadLength, "payload");
        }
        if (entropy != RecordLayout.ENTROPY_ZLIB) {
            throw new DecodeException(what + ": unknown entropy coding " + entropy);
        }
        if (payloadLength >= rawSize) {
            throw new DecodeException(what + ": a zlib payload must be smaller than its " + rawSize + " raw bytes");
        }
        return inflate(in.bytes(payloadLength, "payload"), (int) rawSize, what);
    }

    private static byte[] inflate(byte[] compressed, int rawSize, String what) {
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(compressed);
            byte[] raw = new byte[rawSize];
            int produced = 0;
            while (produced < rawSize) {
                int n = inflater.inflate(raw, produced, rawSize - produced);
                if (n == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
                produced += n;
            }
            if (!inflater.finished() && inflater.inflate(new byte[1]) > 0) {
                throw new DecodeException(what + ": zlib payload inflates to more than " + rawSize + " bytes");
            }
            if (produced != rawSize || !inflater.finished() || inflater.getRemaining() != 0) {
                throw new DecodeException(what + ": zlib payload does not inflate to exactly " + rawSize
                        + " bytes (ends early, or is followed by extra bytes)");
            }
            return raw;
        } catch (DataFormatException e) {
            throw new DecodeException(what + ": damaged zlib payload: " + e.getMessage(), e);
        } finally {
            inflater.end();
        }
    }
}
