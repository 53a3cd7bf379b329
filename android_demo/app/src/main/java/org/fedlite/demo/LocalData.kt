package org.fedlite.demo

import android.content.Context

/** Labelled examples that never leave the phone: features row-major, labels as class indices. */
class Examples(val features: List<FloatArray>, val labels: IntArray) {
    val size: Int get() = labels.size
}

/**
 * The demo's local data set: a shard of scikit-learn's 8×8 digits shipped as
 * `assets/digits_local.csv` (`label,p0..p63`, pixels 0–16; made by tools/make_demo_data.py).
 * Every fifth row is held out to measure accuracy on this phone.
 */
class LocalData(val train: Examples, val test: Examples) {
    companion object {
        private const val ASSET = "digits_local.csv"
        private const val PIXEL_MAX = 16f

        fun load(context: Context, featureCount: Int): LocalData {
            val rows = context.assets.open(ASSET).bufferedReader().useLines { lines ->
                lines.drop(1).filter { it.isNotBlank() }.map { parse(it, featureCount) }.toList()
            }
            val (test, train) = rows.withIndex().partition { it.index % 5 == 4 }
            return LocalData(examples(train.map { it.value }), examples(test.map { it.value }))
        }

        private fun parse(line: String, featureCount: Int): Pair<Int, FloatArray> {
            val cells = line.split(',')
            require(cells.size == featureCount + 1) {
                "$ASSET has ${cells.size - 1} features per row, the model expects $featureCount"
            }
            return cells[0].trim().toInt() to FloatArray(featureCount) { cells[it + 1].trim().toFloat() / PIXEL_MAX }
        }

        private fun examples(rows: List<Pair<Int, FloatArray>>) =
            Examples(rows.map { it.second }, rows.map { it.first }.toIntArray())
    }
}
