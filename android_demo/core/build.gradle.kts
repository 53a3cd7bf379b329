// The protocol and wire-format core: plain Java 17, no dependencies beyond the JDK, so the same
// classes run in the app and on any JVM. `make test` in this folder builds and tests it without
// Gradle; this file lets Android Studio build it as part of the app.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

dependencies {
    testImplementation(libs.junit)
}

tasks.test {
    // The golden vectors shared with the Python tests.
    systemProperty("fedlite.vectors", rootProject.file("../tests/vectors").absolutePath)
    // These need the live server and converted model that tools/live_server.py provides (make test).
    exclude("**/interop/**", "**/model/ManifestTest*")
}
