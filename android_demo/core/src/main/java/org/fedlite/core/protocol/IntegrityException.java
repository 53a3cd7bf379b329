package org.fedlite.core.protocol;

import org.fedlite.core.DecodeException;
import org.fedlite.core.Hashes;

/** A download's bytes do not match the sha256 (or size) the server announced. */
public final class IntegrityException extends DecodeException {
    private static final long serialVersionUID = 1L;

    public IntegrityException(String message) {
        super(message);
    }

    /** Checks {@code bytes} against {@code sha256} and, unless negative, {@code size}. */
    static void check(String what, byte[] bytes, String sha256, long size) {
        if (size >= 0 && bytes.length != size) {
            throw new IntegrityException(what + ": expected " + size + " bytes, got " + bytes.length);
        }
        String actual = Hashes.sha256Hex(bytes);
        if (!actual.equals(sha256)) {
            throw new IntegrityException(what + ": sha256 is " + actual + ", expected " + sha256);
        }
    }
}
