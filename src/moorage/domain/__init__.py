"""Pure domain code, no I/O and no framework imports: digests, names and references, errors, and the
one OCI vocabulary (media types, descriptors, manifests and indexes, platforms, image configs, the
finding severity scale, the bounded JSON loader).

The registry (api, services, metadata), the registry client (``moorage.clients``) and the scanner
(``moorage.scanner``) all import the vocabulary from here, so a fix to a parser or a media type
reaches all three. Because this package imports nothing but the standard library and itself, the
scanner stays a standalone library: importing ``moorage.domain`` never pulls in the registry's
services, API or metadata, and the scanner must not import those either.
"""
