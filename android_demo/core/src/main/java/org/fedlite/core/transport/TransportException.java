package org.fedlite.core.transport;

import java.io.IOException;

/** The server could not be reached or the exchange broke off (refused, reset, timeout, TLS). */
public final class TransportException extends IOException {
    private static final long serialVersionUID = 1L;

    public TransportException(String message) {
        super(message);
    }

    public TransportException(String message, Throwable cause) {
        super(message, cause);
    }
}
