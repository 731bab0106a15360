"""avpipe: audio-visual video understanding, one typed result per video.

Importing the package is cheap: stages import their heavy libraries (PyAV, OpenCV, torch) only
when they run. Start at :func:`avpipe.runner.run_batch` for folders, or
:func:`avpipe.pipeline.process_video` for one file.
"""

import os

__version__ = "0.1.0"

# onnxruntime (Silero VAD, OCR) would otherwise start Microsoft's telemetry when it is imported,
# on Linux too: a device id and an event database under ~/.cache/Microsoft/DeveloperTools and a
# session file in the temporary folder. avpipe runs offline and writes only where it is told; the
# variable must be set before onnxruntime loads, so it is set here, before any stage can import it.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
