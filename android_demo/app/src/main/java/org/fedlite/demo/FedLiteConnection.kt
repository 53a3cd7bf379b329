package org.fedlite.demo

import android.content.Context
import android.os.Build
import org.fedlite.core.protocol.FedLiteClient
import org.fedlite.core.transport.HttpsTransport
import org.fedlite.core.transport.TrustedCertificates

/** Wires the core's client to this phone: HTTPS (trusting the pasted certificate), the device key. */
object FedLiteConnection {
    const val SDK_VERSION = "0.1.0"

    fun client(context: Context, settings: DemoSettings): FedLiteClient {
        val pem = settings.caPem.trim()
        val tls = if (pem.isEmpty()) null else TrustedCertificates.socketFactory(pem.toByteArray())
        val transport = HttpsTransport(settings.serverUrl.trim(), tls)
        val info = FedLiteClient.DeviceInfo("android-${Build.VERSION.SDK_INT}-${Build.SUPPORTED_ABIS.first()}", SDK_VERSION, "litert-android")
        return FedLiteClient(transport, DeviceKeys.load(context), info, settings.deviceId)
    }
}
