"""One module per framework cell; bench/cells/main.py runs one cell in its own process."""
