"""What the benchmark ran on: CPU, memory, library versions and the BLAS numpy uses."""

from __future__ import annotations

import ctypes
import datetime as dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import psutil

__all__ = ["load_average", "machine_info"]

_BLAS_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _blas_threads() -> str:
    """Threads of the BLAS numpy loaded: threadpoolctl if installed, else OpenBLAS's own getter."""
    try:
        from threadpoolctl import threadpool_info  # optional, not a dependency
    except ImportError:
        pass
    else:
        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            return ", ".join(f"{i['internal_api']} {i['num_threads']}" for i in infos)
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        maps = []
    libs = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    for lib in libs:
        try:
            handle = ctypes.CDLL(lib)
        except OSError:
            continue
        for symbol in (
            "scipy_openblas_get_num_threads64_",
            "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_",
            "openblas_get_num_threads",
        ):
            getter = getattr(handle, symbol, None)
            if getter is not None:
                return f"{getter()} ({Path(lib).name})"
    env = {k: os.environ[k] for k in _BLAS_THREAD_ENV if k in os.environ}
    return f"unknown; env {env}" if env else "unknown (no thread variables set)"


def _blas() -> str:
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except (KeyError, TypeError, ValueError):
        return "unknown"
    config = deps.get("openblas configuration", "")
    return f"{deps.get('name', '?')} {deps.get('version', '?')}" + (
        f" ({config})" if config else ""
    )


def _git_revision(repo: Path) -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "recsys_core", "bench"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" (recsys_core/bench with uncommitted changes)" if dirty else "")


def load_average() -> str:
    """1/5/15-minute load averages: other work on the machine skews the timings."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"
    except OSError:
        return "unknown"


def machine_info(repo: Path) -> dict[str, str]:
    """Ordered ``{label: value}`` describing this machine and software."""
    import pandas as pd
    import scipy

    vm = psutil.virtual_memory()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "Date (UTC)": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "CPU": _cpu_model(),
        "Cores": (
            f"{psutil.cpu_count(logical=False)} physical, {psutil.cpu_count(logical=True)} "
            f"logical, {usable} usable by this process"
        ),
        "RAM": f"{vm.total / 2**30:.1f} GiB ({vm.available / 2**30:.1f} GiB available at start)",
        "Load average at start": load_average(),
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "scikit-surprise": _version("scikit-surprise"),
        "BLAS (numpy)": _blas(),
        "BLAS threads": _blas_threads(),
        "recsys commit": _git_revision(repo),
    }
