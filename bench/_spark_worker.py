"""One Spark MF fit in a fresh process, with the peak memory of its process tree.

Run by :mod:`bench.spark` as ``python -m bench._spark_worker DATA_DIR --driver-memory 8g``;
``DATA_DIR`` holds the ``train_*.npy`` / ``test_*.npy`` of bench.compare_surprise. Prints
one JSON line: ``session_s`` (starting Spark), ``snapshot_s`` (the Parquet snapshot),
``fit_s`` (``spark_als.fit_mf``: biases, Spark's ALS, the collect and the local user
step), ``spark_s`` (its Spark part), holdout ``rmse``, and peak RSS in MB of the Python
driver, of the JVM and of both at once (``peak_tree_mb``), sampled every 0.1 s with psutil.

In ``local[*]`` the JVM is the driver and the executors in one; its heap is capped by
``--driver-memory``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from bench._fit_worker import _frame


class TreeSampler(threading.Thread):
    """Peak RSS of this process, of its children (the JVM) and of their sum."""

    def __init__(self, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.peak_self = self.peak_children = self.peak_tree = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._done.wait(self.every):
            try:
                own = me.memory_info().rss
                kids = sum(c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                continue
            self.peak_self = max(self.peak_self, own / 2**20)
            self.peak_children = max(self.peak_children, kids / 2**20)
            self.peak_tree = max(self.peak_tree, (own + kids) / 2**20)

    def stop(self) -> None:
        self._done.set()
        self.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--shuffle-partitions", default="16")
    args = parser.parse_args(argv)

    sampler = TreeSampler()
    sampler.start()
    from pyspark.sql import SparkSession

    from recsys_core import spark_als
    from recsys_core.evaluation import rmse

    t0 = time.perf_counter()
    spark = (
        SparkSession.builder.master(args.master).appName("recsys-bench")
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.sql.shuffle.partitions", args.shuffle_partitions)
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    session_s = time.perf_counter() - t0
    train, test = _frame(args.data_dir, "train"), _frame(args.data_dir, "test")
    scale = (float(train["rating"].min()), float(train["rating"].max()))
    with tempfile.TemporaryDirectory(prefix="recsys-spark-bench-", dir=args.data_dir) as tmp:
        spark.sparkContext.setCheckpointDir(f"{tmp}/checkpoints")
        t0 = time.perf_counter()
        url = spark_als.write_snapshot(train, f"{tmp}/train")
        snapshot_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = spark_als.fit_mf(spark, url, train, rating_scale=scale)
        fit_s = time.perf_counter() - t0
    pred = model.predict(test["user_id"].to_numpy(), test["item_id"].to_numpy())
    sampler.stop()
    result = {
        "session_s": session_s,
        "snapshot_s": snapshot_s,
        "fit_s": fit_s,
        "spark_s": model.fit_info["spark_seconds"],
        "reg_param": model.fit_info["reg_param"],
        "rmse": rmse(test["rating"].to_numpy(), np.asarray(pred)),
        "peak_python_mb": sampler.peak_self,
        "peak_jvm_mb": sampler.peak_children,
        "peak_tree_mb": sampler.peak_tree,
        "driver_memory": args.driver_memory,
    }
    spark.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
