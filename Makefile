# Everything a fresh clone needs, from nothing but python3.
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_DB := baoxiu.db

.PHONY: test console lint i18n triage faults clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(INSTALLED)

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n auto --dist loadfile

lint: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

console: $(INSTALLED)
	$(BIN)/baoxiu directory load bot/demo_estate.toml
	$(BIN)/baoxiu console

# The fault run: residents report while baoxiu is killed and PostgreSQL stopped; what every promise came to.
faults: $(INSTALLED)
	$(BIN)/python bench/faults.py

# How well triage spots emergencies, on the labelled reports it was and was not tuned on.
triage: $(INSTALLED)
	$(BIN)/python -m tests.triage_figures

# After changing texts: refresh the template and merge it into each language's catalog.
i18n: $(INSTALLED)
	$(BIN)/pybabel extract -k t -k N_ -k plural:1,2 --no-location --omit-header --sort-output -o bot/locale/baoxiu.pot core bot
	$(BIN)/pybabel update -i bot/locale/baoxiu.pot -d bot/locale -D baoxiu --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
