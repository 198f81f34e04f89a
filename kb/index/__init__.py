"""Index backends, each behind the same tiny interface: build, search, save, load."""
