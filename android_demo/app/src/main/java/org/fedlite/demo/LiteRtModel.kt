package org.fedlite.demo

import java.io.Closeable
import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.random.Random
import org.fedlite.core.model.Manifest
import org.fedlite.core.wire.Tensor
import org.tensorflow.lite.Interpreter

/**
 * A converted FedLite model on the LiteRT interpreter, driven through its signatures
 * (docs/model-contract.md): `train`, `evaluate`, `get_weights`, `set_weights`, `set_learning_rate`,
 * `reset_optimizer`.
 * Builtin ops only: no Flex delegate is needed.
 */
class LiteRtModel(model: ByteArray, private val manifest: Manifest, threads: Int = 2) : Closeable {
    private val interpreter = Interpreter(direct(model), Interpreter.Options().setNumThreads(threads))
    private val batch = manifest.batchSize()
    private val featureCount = manifest.input().size() / batch
    private val intLabels = manifest.label().dtype() == "int32"

    init {
        val missing = REQUIRED.filterNot { it in interpreter.signatureKeys }
        require(missing.isEmpty()) { "the model lacks the signatures $missing: convert it with fedlite convert" }
    }

    /** Loads weights by name into the interpreter's variables. */
    fun setWeights(weights: List<Tensor>) {
        val accepted = interpreter.getSignatureInputs("set_weights").toSet()
        val inputs = HashMap<String, Any>()
        for (tensor in weights) {
            if (tensor.name() in accepted) inputs[tensor.name()] = floats(tensor.values())
        }
        interpreter.runSignature(inputs, HashMap(), "set_weights")
    }

    /** Every weight of the manifest, read back by name. */
    fun weights(): List<Tensor> {
        val outputs = manifest.weights().associate { it.name() to direct(4 * it.size()) }
        runWithoutData("get_weights", HashMap<String, Any>(outputs))
        return manifest.weights().map { spec ->
            val values = FloatArray(spec.size())
            (outputs.getValue(spec.name()).rewind() as ByteBuffer).asFloatBuffer().get(values)
            Tensor(spec.name(), spec.shape(), values)
        }
    }

    /** Zeros the optimizer state (momentum, Adam moments) before a round, where the optimizer has one. */
    fun resetOptimizer() {
        if ("reset_optimizer" in interpreter.signatureKeys) runWithoutData("reset_optimizer", HashMap())
    }

    fun setLearningRate(rate: Float) {
        if ("set_learning_rate" in interpreter.signatureKeys) {
            interpreter.runSignature(mapOf("learning_rate" to floats(floatArrayOf(rate))), HashMap(), "set_learning_rate")
        }
    }

    /** One pass over [data] in shuffled full batches (the last padded, masked out); the mean loss. */
    fun fitEpoch(data: Examples, seed: Int): Float {
        val order = (0 until data.size).shuffled(Random(seed))
        var total = 0f
        val batches = order.chunked(batch)
        for (rows in batches) {
            val loss = direct(4)
            interpreter.runSignature(batchInputs(data, rows), mapOf<String, Any>("loss" to loss), "train")
            total += (loss.rewind() as ByteBuffer).float
        }
        return total / batches.size.coerceAtLeast(1)
    }

    /** (mean loss, accuracy) over [data]; the model is unchanged. */
    fun evaluate(data: Examples): Pair<Float, Double> {
        var loss = 0.0
        var correct = 0.0
        for (rows in (0 until data.size).chunked(batch)) {
            val outputs = mapOf<String, Any>("loss" to direct(4), "correct" to direct(4))
            interpreter.runSignature(batchInputs(data, rows), outputs, "evaluate")
            loss += (outputs.getValue("loss") as ByteBuffer).getFloat(0) * rows.size
            correct += (outputs.getValue("correct") as ByteBuffer).getFloat(0)
        }
        val n = data.size.coerceAtLeast(1)
        return (loss / n).toFloat() to correct / n
    }

    private fun batchInputs(data: Examples, rows: List<Int>): Map<String, Any> {
        val x = direct(4 * batch * featureCount)
        val y = direct(4 * batch)
        val mask = direct(4 * batch)
        for (slot in 0 until batch) {
            val row = rows.getOrNull(slot)
            for (f in 0 until featureCount) x.putFloat(if (row == null) 0f else data.features[row][f])
            val label = if (row == null) 0 else data.labels[row]
            if (intLabels) y.putInt(label) else y.putFloat(label.toFloat())
            mask.putFloat(if (row == null) 0f else 1f)
        }
        return mapOf("x" to x.rewind(), "y" to y.rewind(), "mask" to mask.rewind())
    }

    /**
     * Runs a signature that needs no data. LiteRT's Java `runSignature` refuses an empty input map,
     * so such signatures take one placeholder input, float32 [1], whose value is ignored
     * (docs/model-contract.md); [Manifest.fromModel] has already refused models without it.
     */
    private fun runWithoutData(signature: String, outputs: Map<String, Any>) {
        interpreter.runSignature(mapOf(Manifest.PLACEHOLDER_INPUT to floats(floatArrayOf(0f))), outputs, signature)
    }

    override fun close() = interpreter.close()

    private companion object {
        val REQUIRED = listOf("train", "evaluate", "get_weights", "set_weights")

        fun direct(bytes: Int): ByteBuffer = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder())

        fun direct(data: ByteArray): ByteBuffer = direct(data.size).put(data).rewind() as ByteBuffer

        fun floats(values: FloatArray): ByteBuffer =
            direct(4 * values.size).also { it.asFloatBuffer().put(values) }
    }
}
