"""Image security in the registry (HSS's image part): connected registries and their
synchronisation, the image table and its lists, scans by manifest digest run as jobs, scan and sync
tasks, scheduled scans, re-matching when the advisory database changes, scan-on-push, and the
organization policy that refuses pulls of images with findings at or above a severity.

Modules: ``failures`` (scan failure codes), ``sources`` (moorage's own images as scanner
sources), ``engine`` (the one call into the scanner), ``layer_cache`` (the scanner's layer cache
in the database), ``scanning`` (scan one digest, exactly once at a time), ``results`` (a result
into the image rows of every account), ``catalogs/`` (listing external registries),
``synchronize`` (image rows from moorage and from external registries), ``registries``,
``images``, ``tasks``, ``policies``, ``pull_gate``, ``push_listener``, ``rematch``, ``schedule``.
"""
