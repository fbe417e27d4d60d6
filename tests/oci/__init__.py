"""Black-box conformance suite for the OCI distribution-spec v1.1 API, over real HTTP."""
