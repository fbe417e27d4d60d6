"""The HSS image API (``/v5/{project_id}/image/...``): image lists, synchronisation, connected
registries, scans and tasks, scan policies, and moorage's organization policies. Errors leave in
HSS's dialect (``error_code`` / ``error_msg``, see ``api/errors.py``)."""
