package org.fedlite.core.protocol;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.fedlite.core.transport.HttpRequest;
import org.fedlite.core.transport.HttpResponse;
import org.fedlite.core.transport.Transport;
import org.fedlite.core.transport.TransportException;

/** The transport seam in tests: records requests and answers from a script (a response or a failure). */
final class ScriptedTransport implements Transport {
    final List<HttpRequest> sent = new ArrayList<>();
    private final Deque<Object> script = new ArrayDeque<>();

    ScriptedTransport answer(int status, String json, Map<String, String> headers) {
        script.add(new HttpResponse(status, headers, json.getBytes(StandardCharsets.UTF_8)));
        return this;
    }

    ScriptedTransport answer(int status, byte[] body, Map<String, String> headers) {
        script.add(new HttpResponse(status, headers, body));
        return this;
    }

    ScriptedTransport fail(String message) {
        script.add(new TransportException(message));
        return this;
    }

    @Override
    public HttpResponse send(HttpRequest request) throws TransportException {
        sent.add(request);
        Object next = script.remove();
        if (next instanceof TransportException e) {
            throw e;
        }
        return (HttpResponse) next;
    }
}
