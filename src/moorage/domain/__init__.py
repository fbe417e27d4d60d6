"""Pure domain code, no I/O: digests, names and references, media types, manifest parsing, errors."""
