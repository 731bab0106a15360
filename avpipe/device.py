"""Which device a model stage runs on."""

from __future__ import annotations


def resolve_device(device: str, backend: str) -> str:
    """``auto`` becomes ``cuda`` where the backend's runtime sees a GPU, else ``cpu``.

    faster-whisper asks CTranslate2 (which may see a GPU that this torch build cannot use, and
    the other way round); every other backend asks torch."""
    if device != "auto":
        return device
    if backend == "faster-whisper":
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
