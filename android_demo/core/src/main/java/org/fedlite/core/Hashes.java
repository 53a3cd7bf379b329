package org.fedlite.core;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** SHA-256 and lower-case hex, as the protocol writes digests. */
public final class Hashes {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private Hashes() {
    }

    /** The SHA-256 digest of {@code data}. */
    public static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this platform has no SHA-256", e);
        }
    }

    /** The SHA-256 digest of {@code data} as 64 lower-case hex digits. */
    public static String sha256Hex(byte[] data) {
        return hex(sha256(data));
    }

    /** Lower-case hex of {@code data}. */
    public static String hex(byte[] data) {
        char[] out = new char[data.length * 2];
        for (int i = 0; i < data.length; i++) {
            out[2 * i] = HEX[(data[i] >> 4) & 0xf];
            out[2 * i + 1] = HEX[data[i] & 0xf];
        }
        return new String(out);
    }

    /** The bytes of an even-length hex string. */
    public static byte[] unhex(String text) {
        if (text.length() % 2 != 0) {
            throw new IllegalArgumentException("hex text has an odd length");
        }
        byte[] out = new byte[text.length() / 2];
        for (int i = 0; i < out.length; i++) {
            int high = Character.digit(text.charAt(2 * i), 16);
            int low = Character.digit(text.charAt(2 * i + 1), 16);
            if (high < 0 || low < 0) {
                throw new IllegalArgumentException("not a hex digit at offset " + 2 * i);
            }
            out[i] = (byte) (high << 4 | low);
        }
        return out;
    }
}
