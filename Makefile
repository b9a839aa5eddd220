# Accord: `make run` serves the embedded demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# Links in e-mail (and the issuer named in signed payloads) follow the address `make run` serves on,
# unless PUBLIC_URL is set.
run: export PUBLIC_URL ?= http://$(HOST):$(PORT)

.PHONY: run test lint demo upgrade clean-instance translations translations-extract translations-update screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

upgrade: $(VENV)/.runtime translations
	$(FLASK) db upgrade

# The interface's languages (signing/i18n.py): extract the messages, merge them into every catalog, compile.
translations-extract: $(VENV)/.runtime
	$(BIN)/pybabel --quiet extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k N_ -k t \
		--no-location --sort-output -o signing/translations/messages.pot .

translations-update: translations-extract
	$(BIN)/pybabel --quiet update --no-fuzzy-matching --ignore-obsolete \
		-i signing/translations/messages.pot -d signing/translations

translations: $(VENV)/.runtime
	@if ls signing/translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel --quiet compile -d signing/translations; fi

run: upgrade
	$(FLASK) demo --if-empty
	@echo "Serving Accord on http://$(HOST):$(PORT) (Ctrl-C to stop)"
	$(FLASK) run --host $(HOST) --port $(PORT)

test: $(VENV)/.dev translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The README's screenshots (docs/screenshots/*.png): a throw-away demo instance driven by Chromium at 1280 and 390 px.
screenshots: $(VENV)/.dev translations
	$(BIN)/python docs/screenshots/make_screenshots.py

clean-instance:
	rm -rf instance
