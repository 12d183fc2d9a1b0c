"""spisync test suite; mirrors the packages."""
