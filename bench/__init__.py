"""Training-speed benchmark (see bench/README.md)."""
