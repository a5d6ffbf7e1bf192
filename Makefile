# Two commands do everything on a fresh machine (see README):
#   make sim    set up, then run the recorder on simulated hardware
#   make test   set up (Python and system packages), then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# the default suite in processes side by side (pytest-xdist), one test file per worker at a time
TEST_WORKERS ?= 2

.PHONY: sim test test-slow setup system-deps lint-imports

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

system-deps:
	bash .ci/system-deps.sh

# With a screen: the recorder window on simulated devices. Without one: a headless recording of 3 episodes.
sim: setup
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(VENV)/bin/dexumi record --sim --out recordings; \
	else \
		echo "no display: recording 3 simulated episodes headless into recordings/"; \
		$(VENV)/bin/dexumi record --headless --sim --out recordings --episodes 3 --duration 5 && \
		$(VENV)/bin/dexumi info recordings/$$(ls recordings | grep '\.h5$$' | tail -1); \
	fi

# the import contracts of pyproject.toml ([tool.importlinter]): layers and no import cycles
lint-imports: setup
	$(VENV)/bin/lint-imports

test: setup system-deps
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m "not slow and not hardware" -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-slow: setup system-deps
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m "slow and not hardware" $(PYTEST_ARGS) || [ $$? -eq 5 ]
