"""Monitors turn OOM kills into ``OomEvent``s: the local runtime (memory cgroups) and Kubernetes."""

from .cgroups import MemoryCgroup, MemoryLimiter, detect_limiter
from .local_runtime import LocalRuntime, RunObserver

__all__ = ["LocalRuntime", "MemoryCgroup", "MemoryLimiter", "RunObserver", "detect_limiter"]
