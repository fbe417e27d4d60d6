"""Use cases. Services know nothing of HTTP: they take keyword arguments, run transactions and
storage operations, and return domain value types or raise domain errors."""
