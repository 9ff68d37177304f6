"""Operations on images and imports, shared by the HTTP API, the Python
client and the CLI: validation, authorization and the atomic DB changes."""
