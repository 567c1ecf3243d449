# The instructor's entry points. Everything runs inside .venv, made on first use
# from pyproject.toml (the one place dependencies are declared).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install system data release solutions generate slides holes bench lab clean

demo: install system    ## the main job: data, then release, grading, feedback and a score table in demo/<run>/ (tracked files untouched)
	$(PY) -m course demo

test: install system data ## the whole test suite
	$(PY) -m pytest

install: $(STAMP)

# System tools from the distribution: bubblewrap sandboxes autograde, Chromium
# renders slides and runs the browser tests. Installed only when missing.
SYSTEM_TOOLS := bwrap:bubblewrap chromium:chromium node:nodejs npm:npm
system:                 ## install bubblewrap and Chromium (Debian/Ubuntu) if missing
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "error: please install$$missing (e.g. sudo apt-get install$$missing)" >&2; exit 1; fi; \
	fi

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

data: install           ## fetch and verify MNIST and Fashion-MNIST
	$(PY) -m course data

release: install        ## rebuild release/ from source/
	$(PY) -m course release

solutions: install data ## rebuild solutions/ (executes every lab)
	$(PY) -m course solutions

generate: release solutions slides

slides: install         ## build the offline slide decks slides/<Lab>.html (PDFs too: make slides PDF=1)
	$(PY) -m course slides $(if $(PDF),--pdf)

holes: install system data ## grading-hole report for every lab
	$(PY) -m course holes

bench: install system data ## measured run times and quality figures
	$(PY) -m course bench

lab: install            ## JupyterLab with nbgrader's formgrader, for grading written answers by hand
	$(PY) -m course lab

clean:                  ## remove grading output (never source/, release/ or solutions/)
	rm -rf autograded/*/ feedback submitted gradebook.db grades.csv build .pytest_cache
