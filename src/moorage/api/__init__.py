"""The HTTP edge: routers per dialect (OCI, SWR, HSS, IAM), error rendering, access decisions."""
