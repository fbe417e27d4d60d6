"""Registry metadata: SQLAlchemy Core tables, the database handle, one query module per aggregate,
and Alembic migrations. SQLite (WAL) embedded; PostgreSQL for scale-out."""
