# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of torch; a bare `torch` can pull a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: demo test venv venv-train bench clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

venv: $(VENV)/bin/activate
	$(PIP) install -q -e .

venv-train: $(VENV)/bin/activate
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[train,plot,test]'

demo: venv
	@echo "== next-word prediction with the bundled ptb-lm (int8) =="
	echo "the company said it expects to report" | $(VENV)/bin/edge-rnn stream --top-k 3
	@echo "== the bundled fsdd-kws spotting digits in a WAV =="
	$(VENV)/bin/edge-rnn stream --model fsdd-kws --input docs/digits.wav

test: venv-train
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: venv-train
	$(VENV)/bin/edge-rnn bench

clean:
	rm -rf $(VENV) build *.egg-info
