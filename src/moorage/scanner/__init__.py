"""moorage.scanner: a standalone image scanner (inventory, SBOM, vulnerabilities, secrets, malware).

It never imports the registry: the registry's jobs call it.
"""
