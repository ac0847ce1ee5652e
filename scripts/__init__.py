"""The project's tooling, never shipped: run each as `python -m scripts.NAME` from the root."""
