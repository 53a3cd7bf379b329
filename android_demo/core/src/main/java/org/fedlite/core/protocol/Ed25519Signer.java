package org.fedlite.core.protocol;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.util.Arrays;

/**
 * A {@link RequestSigner} on the platform's {@code java.security} "Ed25519" provider (JDK 15+,
 * and Android releases whose Conscrypt provides it). The key is defined by its 32-byte private
 * seed (RFC 8032), the form the Python SDK's {@code DeviceKey.from_seed} takes.
 */
public final class Ed25519Signer implements RequestSigner {
    /** Length of a DER SubjectPublicKeyInfo for Ed25519; the raw key is its last 32 bytes. */
    private static final int SPKI_LENGTH = 44;

    private final byte[] seed;
    private final PrivateKey privateKey;
    private final byte[] publicKey;

    private Ed25519Signer(byte[] seed, KeyPair pair) throws GeneralSecurityException {
        byte[] spki = pair.getPublic().getEncoded();
        if (spki.length != SPKI_LENGTH) {
            throw new GeneralSecurityException("unexpected Ed25519 public key encoding");
        }
        this.seed = seed.clone();
        this.privateKey = pair.getPrivate();
        this.publicKey = Arrays.copyOfRange(spki, SPKI_LENGTH - 32, SPKI_LENGTH);
    }

    /** A fresh random key. */
    public static Ed25519Signer generate() {
        byte[] seed = new byte[32];
        new SecureRandom().nextBytes(seed);
        return fromSeed(seed);
    }

    /** The key whose 32-byte private seed is {@code seed}. */
    public static Ed25519Signer fromSeed(byte[] seed) {
        if (seed.length != 32) {
            throw new IllegalArgumentException("an Ed25519 seed has 32 bytes, got " + seed.length);
        }
        try {
            // The JDK's generator draws exactly the 32-byte seed from its random source.
            KeyPairGenerator generator = KeyPairGenerator.getInstance("Ed25519");
            generator.initialize(255, new FixedSeed(seed));
            return new Ed25519Signer(seed, generator.generateKeyPair());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this platform provides no Ed25519: " + e.getMessage(), e);
        }
    }

    /** The 32-byte private seed, for storage (encrypt it at rest). */
    public byte[] seed() {
        return seed.clone();
    }

    @Override
    public byte[] publicKey() {
        return publicKey.clone();
    }

    @Override
    public byte[] sign(byte[] message) {
        try {
            Signature signature = Signature.getInstance("Ed25519");
            signature.initSign(privateKey);
            signature.update(message);
            return signature.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed", e);
        }
    }

    /** A random source that yields the seed: how the JDK derives a key pair from a seed. */
    private static final class FixedSeed extends SecureRandom {
        private static final long serialVersionUID = 1L;
        private final byte[] seed;

        FixedSeed(byte[] seed) {
            this.seed = seed.clone();
        }

        @Override
        public void nextBytes(byte[] bytes) {
            if (bytes.length != seed.length) {
                throw new IllegalStateException("the Ed25519 generator asked for " + bytes.length + " bytes");
            }
            System.arraycopy(seed, 0, bytes, 0, bytes.length);
        }
    }
}
