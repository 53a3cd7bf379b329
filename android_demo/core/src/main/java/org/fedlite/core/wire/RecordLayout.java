package org.fedlite.core.wire;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.fedlite.core.DecodeException;

/**
 * A tensor record's header (docs/wire-format.md §2): name, shape and the stage parameters, from
 * which the exact raw payload size follows.
 */
final class RecordLayout {
    static final int DTYPE_FLOAT32 = 1;
    static final int TRANSFORM_NONE = 0;
    static final int TRANSFORM_HADAMARD = 1;
    static final int SPARSITY_DENSE = 0;
    static final int SPARSITY_TOPK = 1;
    static final int SPARSITY_RANDK = 2;
    static final int VALUES_F32 = 0;
    static final int VALUES_F16 = 1;
    static final int VALUES_UNIFORM = 2;
    static final int VALUES_EDEN = 3;
    static final int ENTROPY_NONE = 0;
    static final int ENTROPY_ZLIB = 1;
    static final int MAX_NAME_BYTES = 1024;
    static final int MAX_RANK = 8;
    static final long MAX_ELEMENTS = 1L << 30;
    static final int MAX_LOG2_BLOCK = 16;

    final String name;
    final int[] shape;
    final int transform;
    final int log2Block;
    final long rotationSeed;
    final int sparsity;
    final int k;
    final long selectionSeed;
    final int values;
    final int bits;
    final int chunk;

    RecordLayout(String name, int[] shape, int transform, int log2Block, long rotationSeed, int sparsity, int k,
                 long selectionSeed, int values, int bits, int chunk) {
        this.name = name;
        this.shape = shape.clone();
        this.transform = transform;
        this.log2Block = log2Block;
        this.rotationSeed = rotationSeed;
        this.sparsity = sparsity;
        this.k = k;
        this.selectionSeed = selectionSeed;
        this.values = values;
        this.bits = bits;
        this.chunk = chunk;
    }

    /** Number of tensor elements. */
    long n() {
        long n = 1;
        for (int dim : shape) {
            n *= dim;
        }
        return n;
    }

    /** Length of the coded domain (n padded to whole rotation blocks). */
    long m() {
        return transform == TRANSFORM_HADAMARD ? Hadamard.paddedLength(n(), log2Block) : n();
    }

    /** Number of coded values. */
    int count() {
        return sparsity == SPARSITY_DENSE ? (int) m() : k;
    }

    int chunks() {
        return values == VALUES_UNIFORM || values == VALUES_EDEN ? Quantizer.chunkCount(count(), chunk) : 0;
    }

    int indexBytes() {
        return sparsity == SPARSITY_TOPK && k > 0 ? Sparsity.lowsBytes(m(), k) + Sparsity.highsBytes(m(), k) : 0;
    }

    /** The exact raw (inflated) payload size this header implies. */
    long rawSize() {
        long size = indexBytes() + 4L * chunks();
        switch (values) {
            case VALUES_F32: return size + 4L * count();
            case VALUES_F16: return size + 2L * count();
            default: return size + BitStream.bytesFor((long) count() * bits);
        }
    }

    /** Writes the header up to and including the entropy byte. */
    void writeHeader(ByteArrayOutputStream out, int entropy) {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        LittleEndian.u16(out, nameBytes.length);
        out.write(nameBytes, 0, nameBytes.length);
        out.write(DTYPE_FLOAT32);
        out.write(shape.length);
        for (int dim : shape) {
            LittleEndian.u32(out, dim);
        }
        out.write(transform);
        if (transform == TRANSFORM_HADAMARD) {
            out.write(log2Block);
            LittleEndian.u64(out, rotationSeed);
        }
        out.write(sparsity);
        if (sparsity != SPARSITY_DENSE) {
            LittleEndian.u32(out, k);
        }
        if (sparsity == SPARSITY_RANDK) {
            LittleEndian.u64(out, selectionSeed);
        }
        out.write(values);
        if (values == VALUES_UNIFORM || values == VALUES_EDEN) {
            out.write(bits);
            LittleEndian.u32(out, chunk);
        }
        out.write(entropy);
    }

    /** Reads and validates a header up to, not including, the entropy byte. */
    static RecordLayout read(LittleEndian.Reader in, String where) {
        int nameLength = in.u16("name_len");
        if (nameLength < 1 || nameLength > MAX_NAME_BYTES) {
            throw new DecodeException(where + ": name_len " + nameLength + " is outside 1..1024");
        }
        String name = in.utf8(nameLength, "tensor name");
        String what = where + " ('" + name + "')";
        if (in.u8("dtype") != DTYPE_FLOAT32) {
            throw new DecodeException(what + ": unknown dtype (1 = float32 is the only one)");
        }
        int[] shape = readShape(in, what);
        long[] transform = readTransform(in, what);
        long[] sparsity = readSparsity(in, what);
        long[] values = readValueCoding(in, what);
        RecordLayout layout = new RecordLayout(name, shape, (int) transform[0], (int) transform[1], transform[2],
                (int) sparsity[0], (int) Math.min(sparsity[1], Integer.MAX_VALUE), sparsity[2],
                (int) values[0], (int) values[1], (int) values[2]);
        layout.checkK(sparsity[1], what);
        return layout;
    }

    /** {transform, log2_block, rotation_seed}. */
    private static long[] readTransform(LittleEndian.Reader in, String what) {
        int transform = in.u8("transform");
        if (transform == TRANSFORM_NONE) {
            return new long[] {transform, 0, 0};
        }
        if (transform != TRANSFORM_HADAMARD) {
            throw new DecodeException(what + ": unknown transform " + transform);
        }
        int log2Block = in.u8("log2_block");
        if (log2Block > MAX_LOG2_BLOCK) {
            throw new DecodeException(what + ": log2_block " + log2Block + " exceeds " + MAX_LOG2_BLOCK);
        }
        return new long[] {transform, log2Block, in.u64("rotation_seed")};
    }

    /** {sparsity, k, selection_seed}. */
    private static long[] readSparsity(LittleEndian.Reader in, String what) {
        int sparsity = in.u8("sparsity");
        if (sparsity == SPARSITY_DENSE) {
            return new long[] {sparsity, 0, 0};
        }
        if (sparsity != SPARSITY_TOPK && sparsity != SPARSITY_RANDK) {
            throw new DecodeException(what + ": unknown sparsity " + sparsity);
        }
        long k = in.u32("k");
        return new long[] {sparsity, k, sparsity == SPARSITY_RANDK ? in.u64("selection_seed") : 0};
    }

    /** {values, bits, chunk}. */
    private static long[] readValueCoding(LittleEndian.Reader in, String what) {
        int values = in.u8("values");
        if (values == VALUES_F32 || values == VALUES_F16) {
            return new long[] {values, 0, 0};
        }
        if (values != VALUES_UNIFORM && values != VALUES_EDEN) {
            throw new DecodeException(what + ": unknown value coding " + values);
        }
        int bits = in.u8("bits");
        long chunk = in.u32("chunk");
        checkQuantizer(values, bits, chunk, what);
        return new long[] {values, bits, chunk};
    }

    private static int[] readShape(LittleEndian.Reader in, String what) {
        int rank = in.u8("rank");
        if (rank > MAX_RANK) {
            throw new DecodeException(what + ": rank " + rank + " exceeds " + MAX_RANK);
        }
        int[] shape = new int[rank];
        long n = 1;
        for (int i = 0; i < rank; i++) {
            long dim = in.u32("dims");
            n *= dim;
            if (dim > MAX_ELEMENTS || n > MAX_ELEMENTS) {
                throw new DecodeException(what + ": shape has more than 2^30 elements");
            }
            shape[i] = (int) dim;
        }
        return shape;
    }

    private static void checkQuantizer(int values, int bits, long chunk, String what) {
        boolean bitsOk = values == VALUES_UNIFORM ? bits == 1 || bits == 2 || bits == 4 || bits == 8
                : bits == 1 || bits == 2 || bits == 4;
        if (!bitsOk) {
            throw new DecodeException(what + ": " + bits + " bits is not allowed for this value coding");
        }
        if (chunk < 1 || chunk > MAX_ELEMENTS) {
            throw new DecodeException(what + ": chunk " + chunk + " is outside 1..2^30");
        }
    }

    private void checkK(long declaredK, String what) {
        if (sparsity == SPARSITY_DENSE) {
            return;
        }
        long m = m();
        boolean ok = m == 0 ? declaredK == 0 : declaredK >= 1 && declaredK <= m;
        if (!ok) {
            throw new DecodeException(what + ": k = " + declaredK + " is outside 1..m (m = " + m + ")");
        }
    }
}
