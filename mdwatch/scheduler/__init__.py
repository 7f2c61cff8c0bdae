"""The application layer and composition root: jobs, CLI, reports, evaluation.

It converts between the packages' types (crawler Capture → analyzers Page → storage records),
so crawler, analyzers and storage never import each other.
"""
