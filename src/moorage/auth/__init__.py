"""Authentication and authorization: keys, passwords, tokens, request signatures, the authorizer."""
