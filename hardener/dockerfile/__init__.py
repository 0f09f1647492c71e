"""Dockerfiles: the lossless document, BuildKit's line lexers, the RUN shell splitter and edits inside instructions, .dockerignore matching."""
