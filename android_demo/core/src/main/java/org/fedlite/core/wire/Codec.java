package org.fedlite.core.wire;

import static org.fedlite.core.wire.RecordLayout.SPARSITY_DENSE;
import static org.fedlite.core.wire.RecordLayout.SPARSITY_RANDK;
import static org.fedlite.core.wire.RecordLayout.SPARSITY_TOPK;
import static org.fedlite.core.wire.RecordLayout.VALUES_EDEN;
import static org.fedlite.core.wire.RecordLayout.VALUES_F16;
import static org.fedlite.core.wire.RecordLayout.VALUES_F32;
import static org.fedlite.core.wire.RecordLayout.VALUES_UNIFORM;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * An update codec (docs/wire-format.md §4): one stage pipeline ({@link Policy}) for tensors of at
 * least {@code smallBelow} elements and another, plain f32 in every preset, for smaller ones.
 */
public final class Codec {
    /** Tensors smaller than this (biases, norms) are sent as f32 by every preset. */
    public static final long SMALL_TENSOR = 256;
    static final int NO_ROTATION = -1;
    static final Policy FLOAT32 = new Policy(NO_ROTATION, SPARSITY_DENSE, 0, VALUES_F32, 0, 0, false);
    private static final Map<String, Codec> PRESETS = new LinkedHashMap<>();

    /** One tensor's pipeline: rotation (max log2 block, or NO_ROTATION), sparsity, value coding, zlib. */
    record Policy(int maxLog2Block, int sparsity, long ppm, int values, int bits, int chunk, boolean deflate) {
    }

    static {
        preset("fp32", FLOAT32);
        preset("fp16", new Policy(NO_ROTATION, SPARSITY_DENSE, 0, VALUES_F16, 0, 0, false));
        preset("int8", uniform(NO_ROTATION, SPARSITY_DENSE, 0, 8, 512, false));
        preset("int8-deflate", uniform(NO_ROTATION, SPARSITY_DENSE, 0, 8, 512, true));
        preset("int4", uniform(NO_ROTATION, SPARSITY_DENSE, 0, 4, 1024, false));
        preset("rot-int4", uniform(12, SPARSITY_DENSE, 0, 4, 4096, false));
        preset("rot-int2", uniform(12, SPARSITY_DENSE, 0, 2, 4096, false));
        preset("rot-2bit", new Policy(12, SPARSITY_DENSE, 0, VALUES_EDEN, 2, 4096, false));
        preset("rot-1bit", new Policy(12, SPARSITY_DENSE, 0, VALUES_EDEN, 1, 8192, false));
        preset("rot-randk50-1bit", new Policy(12, SPARSITY_RANDK, 500_000, VALUES_EDEN, 1, 8192, false));
        preset("topk-10pct-int8", uniform(NO_ROTATION, SPARSITY_TOPK, 100_000, 8, 512, false));
        preset("topk-1pct-int8", uniform(NO_ROTATION, SPARSITY_TOPK, 10_000, 8, 512, false));
        preset("randk-10pct-int8", uniform(NO_ROTATION, SPARSITY_RANDK, 100_000, 8, 512, false));
    }

    private final String name;
    private final Policy main;
    private final Policy small;
    private final long smallBelow;

    Codec(String name, Policy main, Policy small, long smallBelow) {
        this.name = name;
        this.main = main;
        this.small = small;
        this.smallBelow = smallBelow;
    }

    private static Policy uniform(int maxLog2Block, int sparsity, long ppm, int bits, int chunk, boolean deflate) {
        return new Policy(maxLog2Block, sparsity, ppm, VALUES_UNIFORM, bits, chunk, deflate);
    }

    private static void preset(String name, Policy main) {
        PRESETS.put(name, new Codec(name, main, FLOAT32, SMALL_TENSOR));
    }

    /** The preset called {@code name}; IllegalArgumentException listing the known ones otherwise. */
    public static Codec preset(String name) {
        Codec codec = PRESETS.get(name);
        if (codec == null) {
            throw new IllegalArgumentException("unknown codec preset '" + name + "'; known: " + PRESETS.keySet());
        }
        return codec;
    }

    /** Names of every preset. */
    public static Set<String> presetNames() {
        return Collections.unmodifiableSet(PRESETS.keySet());
    }

    public String name() {
        return name;
    }

    Policy policy(long n) {
        return n < smallBelow ? small : main;
    }

    /** The record header this codec gives tensor number {@code index} of an update. */
    RecordLayout layout(String tensorName, int[] shape, int index, long seed, long rotationSeed) {
        long n = 1;
        for (int dim : shape) {
            n *= dim;
        }
        Policy policy = policy(n);
        boolean rotate = policy.maxLog2Block() != NO_ROTATION;
        int log2Block = rotate ? Hadamard.log2Block(n, policy.maxLog2Block()) : 0;
        long m = rotate ? Hadamard.paddedLength(n, log2Block) : n;
        int sparsity = policy.sparsity();
        return new RecordLayout(tensorName, shape,
                rotate ? RecordLayout.TRANSFORM_HADAMARD : RecordLayout.TRANSFORM_NONE, log2Block,
                rotate ? SplitMix64.sub(rotationSeed, 0, index) : 0, sparsity,
                sparsity == SPARSITY_DENSE ? 0 : Sparsity.kFor(m, policy.ppm()),
                sparsity == SPARSITY_RANDK ? SplitMix64.sub(seed, 2, index) : 0,
                policy.values(), policy.bits(), policy.chunk());
    }

    @Override
    public String toString() {
        return name;
    }
}
