"""avpipe: audio-visual video understanding, one typed result per video.

Importing the package is cheap: stages import their heavy libraries (PyAV, OpenCV, torch) only
when they run. Start at :func:`avpipe.runner.run_batch` for folders, or
:func:`avpipe.pipeline.process_video` for one file.
"""

__version__ = "0.1.0"
