package org.fedlite.core.model;

import java.util.List;
import org.fedlite.core.DecodeException;
import org.fedlite.core.json.JsonObject;

/** A named tensor of the manifest: shape, dtype ("float32" or "int32") and, for weights, trainability. */
public record TensorSpec(String name, int[] shape, String dtype, boolean trainable) {
    public TensorSpec {
        shape = shape.clone();
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public int size() {
        long count = 1;
        for (int dim : shape) {
            count *= dim;
        }
        return (int) count;
    }

    static TensorSpec fromJson(JsonObject json) {
        List<Object> dims = json.list("shape");
        int[] shape = new int[dims.size()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            if (!(dims.get(i) instanceof Long) || (Long) dims.get(i) <= 0 || (Long) dims.get(i) > Integer.MAX_VALUE) {
                throw new DecodeException("manifest: tensor '" + json.string("name") + "' has a bad shape " + dims);
            }
            shape[i] = (int) (long) (Long) dims.get(i);
            count *= shape[i];
            if (count > Integer.MAX_VALUE) {
                throw new DecodeException("manifest: tensor '" + json.string("name") + "' is too large");
            }
        }
        boolean trainable = !json.has("trainable") || json.bool("trainable");
        return new TensorSpec(json.string("name"), shape, json.string("dtype"), trainable);
    }
}
