"""The one error of schedule operations."""

from __future__ import annotations


class ScheduleError(Exception):
    """A schedule operation that cannot be done; the message is a Chinese sentence for the user."""
