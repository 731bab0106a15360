"""Which device a model stage runs on, and whether the one a pipeline asks for is here."""

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


def _driver_sees_gpu() -> bool:
    """Whether any CUDA GPU is visible, asked of CTranslate2 (a tenth of a second, where torch
    takes seconds to import): without a GPU and driver no runtime can use one."""
    try:
        import ctranslate2
    except ImportError:  # not installed: ask torch
        import torch

        return torch.cuda.is_available()
    return ctranslate2.get_cuda_device_count() > 0


def check_device(device: str, runtimes: set[str]) -> str | None:
    """Before the first video, for a pipeline whose models run on ``runtimes`` ("torch",
    "ctranslate2"; :func:`avpipe.config.model_runtimes`): raise
    :class:`~avpipe.errors.PipelineConfigError` when ``device`` is ``cuda`` and no runtime can use a
    CUDA GPU here (otherwise every video would lose its model stages); for ``auto`` without a GPU,
    the line that tells the user model stages run on the CPU. None when there is nothing to say."""
    from .errors import PipelineConfigError

    if device == "cpu":
        return None
    if not _driver_sees_gpu():
        if device == "cuda":
            raise PipelineConfigError("device = 'cuda': no CUDA GPU is visible on this machine; "
                                      "use --device cpu or auto")
        return "device = 'auto': no CUDA GPU is visible, so model stages run on the CPU" if runtimes else None
    if device == "cuda" and "torch" in runtimes:
        import torch

        if not torch.cuda.is_available():
            raise PipelineConfigError("device = 'cuda': a GPU is visible but this torch build cannot use it "
                                      f"(torch {torch.__version__}); install a CUDA build of torch or use --device cpu")
    return None
