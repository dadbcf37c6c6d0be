"""imagelock: lock every layer of a GPU machine image, generate its build, and prove it matches."""

__version__ = "0.1.0"
