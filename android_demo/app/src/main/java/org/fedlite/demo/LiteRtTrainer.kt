package org.fedlite.demo

import org.fedlite.core.device.RoundRunner
import org.fedlite.core.model.Manifest
import org.fedlite.core.protocol.Task
import org.fedlite.core.wire.Tensor

/**
 * Local training for [RoundRunner]: the task's epochs on this phone's data with LiteRT, and the
 * accuracy of the global model (before) and the local one (after) on the held-out rows.
 */
class LiteRtTrainer(private val data: (featureCount: Int) -> LocalData) : RoundRunner.LocalTrainer {
    override fun train(model: ByteArray, manifest: Manifest, base: List<Tensor>, params: Task.TrainParams): RoundRunner.Training {
        val local = data(manifest.input().size() / manifest.batchSize())
        return LiteRtModel(model, manifest).use { litert ->
            litert.setWeights(base)
            litert.resetOptimizer()
            params.learningRate()?.let { litert.setLearningRate(it.toFloat()) }
            val (_, globalAccuracy) = litert.evaluate(local.test)
            repeat(params.epochs().toInt()) { epoch -> litert.fitEpoch(local.train, seed = epoch) }
            val (loss, accuracy) = litert.evaluate(local.test)
            val metrics = mapOf("loss" to loss.toDouble(), "accuracy" to accuracy, "global_accuracy" to globalAccuracy)
            RoundRunner.Training(litert.weights(), local.train.size.toLong(), metrics)
        }
    }
}
