package org.fedlite.core.wire;

import java.util.Arrays;

/** A named float32 tensor: row-major {@code values} of the given {@code shape}. */
public record Tensor(String name, int[] shape, float[] values) {
    public Tensor {
        long n = 1;
        for (int dim : shape) {
            if (dim < 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has a negative dimension");
            }
            n *= dim;
        }
        if (n != values.length) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + values.length + " values for shape "
                    + Arrays.toString(shape));
        }
        shape = shape.clone();
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Tensor t && name.equals(t.name) && Arrays.equals(shape, t.shape)
                && Arrays.equals(values, t.values);
    }

    @Override
    public int hashCode() {
        return 31 * name.hashCode() + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return "Tensor(" + name + ", " + Arrays.toString(shape) + ")";
    }
}
