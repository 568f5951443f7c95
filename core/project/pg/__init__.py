"""Team projects: the catalog in PostgreSQL (psycopg 3, imported only when used).

See docs/team.md. :class:`~core.project.pg.database.PostgresDatabase` implements the
storage interface of :mod:`core.project.db`; :mod:`core.project.pg.schema` holds the
numbered SQL migrations, roles and grants.
"""
