package org.fedlite.core.wire;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.fedlite.core.json.JsonObject;

/** A decoded bundle: its kind, its meta JSON bytes and its tensors in record order. */
public record Bundle(int kind, byte[] meta, List<Tensor> tensors) {
    /** {@code kind} of a weights bundle (model downloads). */
    public static final int KIND_WEIGHTS = 1;
    /** {@code kind} of an update bundle (uploads). */
    public static final int KIND_UPDATE = 2;

    public Bundle {
        meta = meta.clone();
        tensors = Collections.unmodifiableList(new ArrayList<>(tensors));
    }

    @Override
    public byte[] meta() {
        return meta.clone();
    }

    /** The meta object, parsed. */
    public JsonObject metaJson() {
        return JsonObject.parse("bundle meta", meta);
    }

    /** The tensor called {@code name}, or null. */
    public Tensor tensor(String name) {
        for (Tensor tensor : tensors) {
            if (tensor.name().equals(name)) {
                return tensor;
            }
        }
        return null;
    }
}
