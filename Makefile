# The instructor's entry points. Everything runs inside .venv, made on first use
# from pyproject.toml (the one place dependencies are declared).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install data release solutions generate holes bench lab clean

demo: install           ## the main job: data, release, solutions, demo grading, score table
	$(PY) -m course demo

test: install data      ## the whole test suite
	$(PY) -m pytest

install: $(STAMP)

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

generate: release solutions

holes: install data     ## grading-hole report for every lab
	$(PY) -m course holes

bench: install data     ## measured run times and quality figures
	$(PY) -m course bench

lab: install            ## JupyterLab with nbgrader's formgrader, for grading written answers by hand
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(CURDIR) --ServerApp.ip=127.0.0.1

clean:                  ## remove grading output (never source/, release/ or solutions/)
	rm -rf autograded/*/ feedback submitted gradebook.db grades.csv build .pytest_cache
