"""End-to-end tests through real registry clients (skopeo, oras)."""
