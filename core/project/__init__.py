"""Project storage: SQLite catalog, masks on disk, status workflow, import, export."""
