package org.fedlite.core;

/**
 * Bytes or text received from a peer do not follow the format: the message names what was wrong.
 *
 * <p>The Java counterpart of the Python side's {@code ValueError} subclasses. Every decoder in the
 * core reports malformed input with this exception, never with an index or memory error.
 */
public class DecodeException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public DecodeException(String message) {
        super(message);
    }

    public DecodeException(String message, Throwable cause) {
        super(message, cause);
    }
}
