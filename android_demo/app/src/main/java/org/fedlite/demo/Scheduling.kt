package org.fedlite.demo

import android.content.Context
import androidx.work.Constraints
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import java.util.concurrent.TimeUnit

/** Background participation through WorkManager: only while charging, on an unmetered network, idle. */
object Scheduling {
    const val PERIODIC = "fedlite-periodic-round"
    const val NOW = "fedlite-round-now"

    fun enableBackground(context: Context) {
        val constraints = Constraints.Builder()
            .setRequiresCharging(true)
            .setRequiredNetworkType(NetworkType.UNMETERED)
            .setRequiresDeviceIdle(true)
            .build()
        val request = PeriodicWorkRequestBuilder<RoundWorker>(30, TimeUnit.MINUTES)
            .setConstraints(constraints) // WorkManager refuses back-off criteria on idle-mode jobs
            .build()
        WorkManager.getInstance(context).enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.UPDATE, request)
    }

    fun disableBackground(context: Context) {
        WorkManager.getInstance(context).cancelUniqueWork(PERIODIC)
    }

    /** A round right now, at the user's request: needs only a network. */
    fun runNow(context: Context) {
        val request = OneTimeWorkRequestBuilder<RoundWorker>()
            .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
            .build()
        WorkManager.getInstance(context).enqueueUniqueWork(NOW, ExistingWorkPolicy.KEEP, request)
    }
}
