"""mdwatch: a monitoring crawler and NLP scanner for online listings of medical devices in China."""

__version__ = "0.1.0"
