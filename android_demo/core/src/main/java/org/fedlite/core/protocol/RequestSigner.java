package org.fedlite.core.protocol;

/**
 * The device's Ed25519 key, as the protocol client needs it. On the JVM
 * {@link Ed25519Signer} implements it with the JDK; on Android the app supplies a key kept in
 * (or wrapped by) the Android keystore.
 */
public interface RequestSigner {
    /** The raw 32-byte Ed25519 public key. */
    byte[] publicKey();

    /** The 64-byte Ed25519 signature of {@code message}. */
    byte[] sign(byte[] message);
}
