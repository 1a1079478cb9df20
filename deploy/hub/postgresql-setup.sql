-- Yizhan hub: the PostgreSQL role and database (run once as the postgres superuser:
--   sudo -u postgres psql -f deploy/hub/postgresql-setup.sql
-- ). The hub creates and upgrades its own tables at start (versioned migrations).
-- Standard PostgreSQL only: the same works on openGauss / KingbaseES with their own clients.
CREATE ROLE yizhan LOGIN;
-- With a password instead of local peer/trust authentication:
--   ALTER ROLE yizhan PASSWORD '...';   and put it in ~yizhan/.pgpass, not in hub.toml
CREATE DATABASE yizhan_hub OWNER yizhan ENCODING 'UTF8' TEMPLATE template0;
\connect yizhan_hub
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT ALL ON SCHEMA public TO yizhan;
