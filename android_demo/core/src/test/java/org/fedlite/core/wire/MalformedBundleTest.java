package org.fedlite.core.wire;

import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32;
import org.fedlite.core.DecodeException;
import org.junit.Test;

/** Malformed bundles raise DecodeException with a clear message: never an index or memory error. */
public class MalformedBundleTest {
    private static byte[] sample(String preset) {
        return BundleWriter.update(BundleRoundTripTest.meta(), BundleRoundTripTest.sampleDeltas(),
                Codec.preset(preset), 3, 4, null);
    }

    /** Recomputes the trailing CRC so that the damage reaches the record parser. */
    private static byte[] withCrc(byte[] data) {
        CRC32 crc = new CRC32();
        crc.update(data, 0, data.length - 4);
        long value = crc.getValue();
        for (int i = 0; i < 4; i++) {
            data[data.length - 4 + i] = (byte) (value >>> (8 * i));
        }
        return data;
    }

    private static String reject(byte[] data) {
        return assertThrows(DecodeException.class, () -> BundleReader.read(data)).getMessage();
    }

    @Test
    public void everyTruncationIsRejected() {
        byte[] bundle = sample("int8");
        for (int length = 0; length < bundle.length; length++) {
            reject(Arrays.copyOf(bundle, length));
        }
    }

    @Test
    public void aFlippedBitFailsTheChecksum() {
        byte[] bundle = sample("int4");
        bundle[bundle.length / 2] ^= 0x10;
        assertTrue(reject(bundle).contains("bad checksum"));
    }

    @Test
    public void headerDamageIsNamed() {
        byte[] bundle = sample("fp16");
        byte[] magic = bundle.clone();
        magic[0] = 'X';
        assertTrue(reject(withCrc(magic)).contains("magic"));
        byte[] version = bundle.clone();
        version[4] = 2;
        assertTrue(reject(withCrc(version)).contains("version 2"));
        byte[] trailing = withCrc(Arrays.copyOf(bundle, bundle.length + 1));
        assertTrue(reject(trailing).contains("unexpected bytes"));
    }

    @Test
    public void absurdSizesAreRejectedBeforeAllocating() {
        byte[] meta = BundleWriter.meta(Map.of());
        // A 2^30-element tensor declared with a tiny zlib payload: a decompression bomb.
        byte[] bomb = BundleWriter.weights(meta, List.of(new Tensor("w", new int[] {1}, new float[] {1f})), false, false);
        int dims = 16 + meta.length + 2 + 1 + 1 + 1; // after name_len, name "w", dtype, rank
        bomb[dims] = 0;
        bomb[dims + 1] = 0;
        bomb[dims + 2] = 0;
        bomb[dims + 3] = 0x40; // dims[0] = 2^30
        assertTrue(reject(withCrc(bomb)).contains("elements"));
        byte[] big = BundleWriter.weights(meta, List.of(new Tensor("w", new int[] {1}, new float[] {1f})), false, false);
        big[12] = (byte) 0xFF; // tensor_count = 255 + 1
        reject(withCrc(big));
        big = BundleWriter.weights(meta, List.of(new Tensor("w", new int[] {1}, new float[] {1f})), false, false);
        big[8] = (byte) 0xFF;
        big[9] = (byte) 0xFF;
        big[10] = (byte) 0xFF; // meta_len way past the end
        assertTrue(reject(withCrc(big)).contains("meta_len"));
    }

    @Test
    public void randomDamageOnlyEverRaisesDecodeException() {
        Random random = new Random(1);
        for (String preset : List.of("fp16", "int8-deflate", "rot-1bit", "topk-1pct-int8", "randk-10pct-int8")) {
            byte[] original = sample(preset);
            for (int trial = 0; trial < 400; trial++) {
                byte[] damaged = original.clone();
                int flips = 1 + random.nextInt(3);
                for (int f = 0; f < flips; f++) {
                    damaged[16 + random.nextInt(damaged.length - 20)] = (byte) random.nextInt(256);
                }
                try {
                    BundleReader.read(withCrc(damaged), null, 1 << 20);
                } catch (DecodeException expected) {
                    assertTrue(expected.getMessage().startsWith("bundle"));
                } catch (RuntimeException | OutOfMemoryError e) {
                    fail(preset + " trial " + trial + ": " + e);
                }
            }
        }
    }
}
