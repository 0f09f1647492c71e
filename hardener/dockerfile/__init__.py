"""Dockerfiles: the lossless document, BuildKit's line lexers, the RUN shell splitter, edits inside
instructions and .dockerignore matching."""
