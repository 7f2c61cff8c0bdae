"""Alembic migrations of mdwatch's schema (every table of ``storage``: the main store's and the
registry's). Applied by ``storage.database.ensure_schema``; see ``README`` here for adding one."""
