package org.fedlite.demo

import android.content.Context
import androidx.work.CoroutineWorker
import androidx.work.WorkerParameters
import java.io.File
import java.security.SecureRandom
import java.util.Locale
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.fedlite.core.DecodeException
import org.fedlite.core.device.FileCache
import org.fedlite.core.device.RoundRunner
import org.fedlite.core.protocol.FedLiteClient
import org.fedlite.core.protocol.ServerRejection
import org.fedlite.core.transport.TransportException

/**
 * One participation in the background (or on request): check in, and when selected train with
 * LiteRT and upload. Every outcome, including a dead server or a revoked enrolment, ends as a
 * sentence in [DemoSettings.status]; none crashes the app.
 */
class RoundWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    private val settings = DemoSettings(context)

    override suspend fun doWork(): Result = withContext(Dispatchers.IO) {
        if (settings.deviceId == null) {
            settings.status = "Not enrolled: enter the server URL and a token, then tap Enrol."
            return@withContext Result.failure()
        }
        try {
            report(runner().runOnce(DeviceState.eligibility(applicationContext)))
            Result.success()
        } catch (e: TransportException) {
            settings.status = "Server unreachable (${e.message}). Will try again later."
            Result.retry()
        } catch (e: ServerRejection) {
            handleRejection(e)
        } catch (e: DecodeException) {
            settings.status = "The server sent something this app cannot read: ${e.message}"
            Result.failure()
        } catch (e: Exception) {
            settings.status = "The round failed on this phone: ${e.message ?: e.javaClass.simpleName}"
            Result.failure()
        }
    }

    private fun runner(): RoundRunner {
        val client = FedLiteConnection.client(applicationContext, settings)
        val cache = FileCache(File(applicationContext.filesDir, "fedlite-cache"))
        val trainer = LiteRtTrainer { features -> LocalData.load(applicationContext, features) }
        return RoundRunner(client, cache, trainer, FedLiteClient.Sleeper.SYSTEM, SecureRandom())
    }

    private fun report(outcome: RoundRunner.Outcome) {
        settings.status = when (outcome) {
            is RoundRunner.Waited -> "Not selected this time (${outcome.reason()}); next check-in in about ${outcome.delaySeconds()} s."
            is RoundRunner.Uploaded -> "Round ${outcome.ack().round()}: update ${outcome.ack().status()} " +
                "(${outcome.bytes()} bytes, ${outcome.codec()})."
            is RoundRunner.Dropped -> "Update dropped: ${outcome.reason().message}"
            else -> "Finished: $outcome" // Java's sealed interface: Kotlin may not see it as exhaustive
        }
        if (outcome is RoundRunner.Uploaded) {
            val metrics = outcome.metrics()
            settings.accuracy = String.format(
                Locale.ROOT, "Accuracy on this phone's held-out digits: global model %.1f%%, after local training %.1f%%",
                100 * (metrics["global_accuracy"] ?: 0.0), 100 * (metrics["accuracy"] ?: 0.0),
            )
        }
    }

    private fun handleRejection(e: ServerRejection): Result {
        if (e.enrolmentLost()) {
            settings.deviceId = null
            settings.status = "The server no longer accepts this device (${e.code()}): ask the operator for a new token and enrol again."
            return Result.failure()
        }
        settings.status = "The server refused: ${e.message}"
        return if (e.status() == 429 || e.status() >= 500) Result.retry() else Result.failure()
    }
}
