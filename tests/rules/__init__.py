"""Cross-layer compatibility, lock diff, lock why and image version tests (a package, so its conftest stays its own)."""
