package org.fedlite.demo

import android.os.Bundle
import android.widget.Button
import android.widget.CheckBox
import android.widget.EditText
import android.widget.TextView
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import androidx.work.WorkManager
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.fedlite.core.protocol.ServerRejection
import org.fedlite.core.transport.TransportException

/** Enrol with a server URL and token, show status and accuracy, start a round, toggle background work. */
class MainActivity : AppCompatActivity() {
    private lateinit var settings: DemoSettings
    private lateinit var status: TextView
    private lateinit var accuracy: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        settings = DemoSettings(this)
        status = findViewById(R.id.status)
        accuracy = findViewById(R.id.accuracy)
        val url = findViewById<EditText>(R.id.server_url).apply { setText(settings.serverUrl) }
        val token = findViewById<EditText>(R.id.token)
        val pem = findViewById<EditText>(R.id.ca_pem).apply { setText(settings.caPem) }
        findViewById<Button>(R.id.enrol).setOnClickListener {
            enrol(url.text.toString(), token.text.toString(), pem.text.toString())
        }
        findViewById<Button>(R.id.run_round).setOnClickListener {
            settings.status = "Checking in…"
            refresh()
            Scheduling.runNow(this)
        }
        findViewById<CheckBox>(R.id.background).apply {
            isChecked = settings.background
            setOnCheckedChangeListener { _, enabled ->
                settings.background = enabled
                if (enabled) Scheduling.enableBackground(this@MainActivity) else Scheduling.disableBackground(this@MainActivity)
            }
        }
        val work = WorkManager.getInstance(this)
        work.getWorkInfosForUniqueWorkLiveData(Scheduling.NOW).observe(this) { refresh() }
        work.getWorkInfosForUniqueWorkLiveData(Scheduling.PERIODIC).observe(this) { refresh() }
        refresh()
    }

    private fun enrol(url: String, token: String, pem: String) {
        settings.serverUrl = url.trim()
        settings.caPem = pem.trim()
        settings.status = "Enrolling…"
        refresh()
        lifecycleScope.launch {
            settings.status = withContext(Dispatchers.IO) { enrolNow(token.trim()) }
            refresh()
        }
    }

    private fun enrolNow(token: String): String = try {
        settings.deviceId = null
        val enrolled = FedLiteConnection.client(this, settings).enroll(token)
        settings.deviceId = enrolled.deviceId()
        "Enrolled as ${enrolled.deviceId()} (${DeviceKeys.describe(this)})."
    } catch (e: TransportException) {
        "Cannot reach the server: ${e.message}"
    } catch (e: ServerRejection) {
        if (e.code() == "key_in_use") {
            DeviceKeys.forget(this) // this key belongs to a revoked device: the next attempt uses a new one
            "This device's key was revoked by the operator; a new key was made: enrol again with a new token."
        } else {
            "Enrolment refused: ${e.message}"
        }
    } catch (e: IllegalArgumentException) {
        "Check the server URL and certificate: ${e.message}"
    } catch (e: Exception) {
        "Enrolment failed: ${e.message ?: e.javaClass.simpleName}"
    }

    private fun refresh() {
        status.text = settings.status.ifEmpty {
            settings.deviceId?.let { "Enrolled as $it. Tap “Start a round now” or enable background work." }
                ?: getString(R.string.status_not_enrolled)
        }
        accuracy.text = settings.accuracy.ifEmpty { getString(R.string.accuracy_none) }
    }
}
