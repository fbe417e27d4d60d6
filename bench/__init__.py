"""moorage's benchmarks: scripts that print figures and compare runs side by side (see registry_bench.py)."""
