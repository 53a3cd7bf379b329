package org.fedlite.demo

import android.content.Context
import android.net.ConnectivityManager
import android.net.NetworkCapabilities
import android.os.BatteryManager
import android.os.PowerManager
import org.fedlite.core.protocol.Eligibility

/** The eligibility a device reports at check-in, read from the phone's current state. */
object DeviceState {
    fun eligibility(context: Context): Eligibility {
        val battery = context.getSystemService(BatteryManager::class.java)
        val connectivity = context.getSystemService(ConnectivityManager::class.java)
        val power = context.getSystemService(PowerManager::class.java)
        val capabilities = connectivity.getNetworkCapabilities(connectivity.activeNetwork)
        val unmetered = capabilities?.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED) == true
        return Eligibility(battery.isCharging, unmetered, power.isDeviceIdleMode || !power.isInteractive)
    }
}
