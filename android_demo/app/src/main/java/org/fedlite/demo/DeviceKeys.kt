package org.fedlite.demo

import android.content.Context
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import java.security.GeneralSecurityException
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.ProviderException
import java.security.SecureRandom
import java.security.Signature
import java.security.spec.ECGenParameterSpec
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters
import org.fedlite.core.protocol.RequestSigner
import org.bouncycastle.crypto.signers.Ed25519Signer as BcEd25519Signer

/**
 * The device's Ed25519 identity key, kept as safely as the phone allows.
 *
 * 1. Android 13+ whose keystore (KeyMint) supports Curve 25519: the key is generated inside the
 *    Android keystore and never leaves it (`EC` + `ECGenParameterSpec("ed25519")`, signature
 *    algorithm "Ed25519"). A probe signature at creation detects devices that accept the
 *    parameters but cannot sign.
 * 2. Otherwise: a software Ed25519 key (Bouncy Castle), whose 32-byte seed is stored only
 *    encrypted with AES-256-GCM under a non-exportable keystore key.
 *
 * The choice is recorded once: the server knows the device by its public key, so a device keeps
 * whichever backend it enrolled with until [forget] (which requires enrolling again).
 */
object DeviceKeys {
    private const val KEYSTORE = "AndroidKeyStore"
    private const val SIGNING_ALIAS = "fedlite-device-ed25519"
    private const val WRAPPING_ALIAS = "fedlite-device-seed-wrap"
    private const val PREFS = "fedlite-device-key"
    private const val BACKEND = "backend"
    private const val WRAPPED_SEED = "wrapped_seed"

    /** The device's signer, creating the key on first use. */
    @Synchronized
    fun load(context: Context): RequestSigner {
        val prefs = context.getSharedPreferences(PREFS, Context.MODE_PRIVATE)
        return when (prefs.getString(BACKEND, null)) {
            "keystore" -> keystoreSigner() ?: error("the keystore Ed25519 key is gone: enrol again")
            "software" -> wrappedSoftwareSigner(context)
            else -> createKeystoreSigner()?.also { prefs.edit().putString(BACKEND, "keystore").apply() }
                ?: wrappedSoftwareSigner(context).also { prefs.edit().putString(BACKEND, "software").apply() }
        }
    }

    /** Which backend holds the key, for the status screen. */
    fun describe(context: Context): String =
        when (context.getSharedPreferences(PREFS, Context.MODE_PRIVATE).getString(BACKEND, null)) {
            "keystore" -> "Ed25519 key inside the Android keystore"
            "software" -> "software Ed25519 key, seed encrypted by an Android keystore AES key"
            else -> "no device key yet"
        }

    /** Deletes the key (the device must enrol again with a new token). */
    @Synchronized
    fun forget(context: Context) {
        val store = KeyStore.getInstance(KEYSTORE).apply { load(null) }
        store.deleteEntry(SIGNING_ALIAS)
        store.deleteEntry(WRAPPING_ALIAS)
        context.getSharedPreferences(PREFS, Context.MODE_PRIVATE).edit().clear().apply()
    }

    private fun createKeystoreSigner(): RequestSigner? {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU) return null
        return try {
            val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, KEYSTORE)
            generator.initialize(
                KeyGenParameterSpec.Builder(SIGNING_ALIAS, KeyProperties.PURPOSE_SIGN)
                    .setAlgorithmParameterSpec(ECGenParameterSpec("ed25519"))
                    .setDigests(KeyProperties.DIGEST_NONE)
                    .build(),
            )
            generator.generateKeyPair()
            keystoreSigner()?.also { it.sign(ByteArray(1)) } // probe: some KeyMint versions cannot
        } catch (e: GeneralSecurityException) {
            discardKeystoreKey()
        } catch (e: ProviderException) {
            discardKeystoreKey()
        } catch (e: UnsupportedOperationException) {
            discardKeystoreKey()
        }
    }

    private fun discardKeystoreKey(): RequestSigner? {
        KeyStore.getInstance(KEYSTORE).apply { load(null) }.deleteEntry(SIGNING_ALIAS)
        return null
    }

    private fun keystoreSigner(): RequestSigner? {
        val store = KeyStore.getInstance(KEYSTORE).apply { load(null) }
        val entry = store.getEntry(SIGNING_ALIAS, null) as? KeyStore.PrivateKeyEntry ?: return null
        val spki = entry.certificate.publicKey.encoded
        return KeystoreSigner(entry.privateKey, spki.copyOfRange(spki.size - 32, spki.size))
    }

    private class KeystoreSigner(private val key: PrivateKey, private val rawPublicKey: ByteArray) : RequestSigner {
        override fun publicKey(): ByteArray = rawPublicKey.clone()

        override fun sign(message: ByteArray): ByteArray =
            Signature.getInstance("Ed25519").run {
                initSign(key)
                update(message)
                sign()
            }
    }

    private fun wrappedSoftwareSigner(context: Context): RequestSigner {
        val prefs = context.getSharedPreferences(PREFS, Context.MODE_PRIVATE)
        val wrapped = prefs.getString(WRAPPED_SEED, null)
        val seed = if (wrapped != null) {
            unwrap(Base64.decode(wrapped, Base64.NO_WRAP))
        } else {
            ByteArray(32).also { SecureRandom().nextBytes(it) }.also {
                prefs.edit().putString(WRAPPED_SEED, Base64.encodeToString(wrap(it), Base64.NO_WRAP)).commit()
            }
        }
        return SoftwareSigner(Ed25519PrivateKeyParameters(seed, 0))
    }

    private class SoftwareSigner(private val key: Ed25519PrivateKeyParameters) : RequestSigner {
        override fun publicKey(): ByteArray = key.generatePublicKey().encoded

        override fun sign(message: ByteArray): ByteArray =
            BcEd25519Signer().run {
                init(true, key)
                update(message, 0, message.size)
                generateSignature()
            }
    }

    /** AES-256-GCM under the keystore wrapping key: 12-byte IV, then ciphertext and tag. */
    private fun wrap(seed: ByteArray): ByteArray {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, wrappingKey())
        return cipher.iv + cipher.doFinal(seed)
    }

    private fun unwrap(blob: ByteArray): ByteArray {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, wrappingKey(), GCMParameterSpec(128, blob, 0, 12))
        return cipher.doFinal(blob, 12, blob.size - 12)
    }

    private fun wrappingKey(): SecretKey {
        val store = KeyStore.getInstance(KEYSTORE).apply { load(null) }
        (store.getKey(WRAPPING_ALIAS, null) as? SecretKey)?.let { return it }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, KEYSTORE)
        generator.init(
            KeyGenParameterSpec.Builder(WRAPPING_ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return generator.generateKey()
    }
}
