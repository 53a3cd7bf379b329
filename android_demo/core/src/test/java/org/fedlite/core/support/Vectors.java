package org.fedlite.core.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.fedlite.core.json.JsonObject;

/** The shared golden vectors in tests/vectors/ (path given as -Dfedlite.vectors). */
public final class Vectors {
    private Vectors() {
    }

    /** The vectors folder; fails loudly when the property is missing. */
    public static Path dir() {
        String dir = System.getProperty("fedlite.vectors");
        if (dir == null) {
            throw new IllegalStateException("run with -Dfedlite.vectors=<repo>/tests/vectors");
        }
        return Paths.get(dir);
    }

    public static byte[] read(String name) throws IOException {
        return Files.readAllBytes(dir().resolve(name));
    }

    public static JsonObject json(String name) throws IOException {
        return JsonObject.parse(name, read(name));
    }
}
