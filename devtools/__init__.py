"""Developer tools that a user's install does not run: the corpus evaluation (``make eval``) and
the generated reference docs. Not part of the ``mdwatch`` package (pyproject installs mdwatch*
only); run from the repository root (``python -m devtools.evaluation``)."""
