package org.fedlite.demo

import android.content.Context

/** What the app remembers: the server, its certificate, the enrolment, and the last round's result. */
class DemoSettings(context: Context) {
    private val prefs = context.getSharedPreferences("fedlite-demo", Context.MODE_PRIVATE)

    var serverUrl: String
        get() = prefs.getString("server_url", "") ?: ""
        set(value) = prefs.edit().putString("server_url", value).apply()

    /** PEM of the server's (self-signed) certificate or CA; empty to use the system trust store. */
    var caPem: String
        get() = prefs.getString("ca_pem", "") ?: ""
        set(value) = prefs.edit().putString("ca_pem", value).apply()

    var deviceId: String?
        get() = prefs.getString("device_id", null)
        set(value) = prefs.edit().putString("device_id", value).apply()

    var status: String
        get() = prefs.getString("status", "") ?: ""
        set(value) = prefs.edit().putString("status", value).apply()

    var accuracy: String
        get() = prefs.getString("accuracy", "") ?: ""
        set(value) = prefs.edit().putString("accuracy", value).apply()

    var background: Boolean
        get() = prefs.getBoolean("background", false)
        set(value) = prefs.edit().putBoolean("background", value).apply()
}
