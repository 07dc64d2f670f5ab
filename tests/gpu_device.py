"""Whether a real CUDA device is usable here (CuPy >= 14 with a device), for skip markers."""

from __future__ import annotations


def device_reason() -> str | None:
    """None when a GPU is usable, else why not (the skip reason)."""
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed"
    try:
        if not cupy.is_available():
            return "CuPy found no CUDA device"
    except Exception as e:  # driver errors
        return f"CuPy cannot reach a device: {e}"
    return None
