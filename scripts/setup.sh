#!/bin/sh
# Create .venv/ in the project root (once) and install racer-jax with its test tools into it.
set -e
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
