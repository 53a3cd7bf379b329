package org.fedlite.core.transport;

/**
 * The core's one seam to the network: sends a request to the server and returns its response,
 * whatever the status code. Network failures (refused, reset, timed out, TLS) are reported as
 * {@link TransportException}; no other I/O exception escapes an implementation.
 */
public interface Transport {
    /** Sends {@code request} and returns the complete response. */
    HttpResponse send(HttpRequest request) throws TransportException;
}
