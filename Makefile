# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of torch; a bare `torch` can pull a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: demo test venv venv-train js-deps chromium bench clean

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

test: venv-train js-deps chromium
	$(PY) -m pytest -q -p no:cacheprovider tests

# The JavaScript client's packages, from its lock file. onnxruntime-node's post-install would
# fetch CUDA files from outside the npm registry: skipped. Without npm the client's tests skip.
JS := clients/js
js-deps:
	@if ! command -v npm >/dev/null; then echo "npm not found: the JavaScript client's tests will skip (install Node.js 18+ and npm)"; \
	elif [ ! -f $(JS)/node_modules/.package-lock.json ] || [ $(JS)/package-lock.json -nt $(JS)/node_modules/.package-lock.json ]; then \
	  cd $(JS) && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error; fi

# Debian's Chromium for the browser test (a test framework's own browser download cannot work
# without the network): installed when missing, as root with apt-get; otherwise that test skips
# and says why.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser test"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; \
	else echo "no /usr/bin/chromium and no root to install it: the browser test will skip (apt-get install chromium)"; fi

bench: venv-train
	$(VENV)/bin/edge-rnn bench

clean:
	rm -rf $(VENV) build *.egg-info $(JS)/node_modules $(JS)/web/assets
