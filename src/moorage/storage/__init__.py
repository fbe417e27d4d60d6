"""Blob storage: a tiny driver contract, the on-disk layout, and the content-addressed blob store."""
