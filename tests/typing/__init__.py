"""Typing tests: modules that mypy --strict checks in `make test` and pytest never runs (their
names do not start with `test_`). Each states a public type with `assert_type`, and each misuse
it must refuse with a `# type: ignore[code]` that mypy would report as unused were it allowed."""
