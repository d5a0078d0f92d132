-- Roles and databases Ringmaster expects, created if missing (safe to run on every start).
-- Run by psql as a superuser, in two places:
--   * infra/postgres/postgres.sh, after each start of the local cluster, with
--     -v rm_user=... -v rm_password=... -v rm_db=... -v rm_test_db=...
--   * the postgres:15 container of docker-compose.yml, once, from
--     /docker-entrypoint-initdb.d, without -v: the defaults below apply and the password
--     comes from the environment variable RINGMASTER_DB_PASSWORD (psql 15's \getenv).
-- With rm_secure_password set (postgres.sh does, on stdin) it also makes the role that
-- may log in over TLS only (pg_hba.conf says so), for tests of the clients' TLS.
-- Tables are not made here: TypeORM migrations own the schema (never `synchronize`).

\set ON_ERROR_STOP on
\if :{?rm_user}
\else
  \set rm_user ringmaster
\endif
\if :{?rm_db}
\else
  \set rm_db ringmaster
\endif
\if :{?rm_test_db}
\else
  \set rm_test_db ringmaster_test
\endif

\if :{?rm_password}
\else
  \getenv rm_password RINGMASTER_DB_PASSWORD
\endif

-- Login role, not a superuser (migrations must not need one). CREATEDB so that tests may
-- create throwaway databases of their own.
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'rm_user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'rm_user') \gexec
\if :{?rm_password}
  SELECT format('ALTER ROLE %I PASSWORD %L', :'rm_user', :'rm_password') \gexec
\endif

-- The application database and the one integration tests use (and may wipe).
SELECT format('CREATE DATABASE %I OWNER %I', :'rm_db', :'rm_user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'rm_db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'rm_test_db', :'rm_user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'rm_test_db') \gexec

-- The TLS-only role (postgres.sh): no superuser, may create schemas in the test database.
\if :{?rm_secure_password}
  \if :{?rm_secure_user}
  \else
    \set rm_secure_user ringmaster_secure
  \endif
  SELECT format('CREATE ROLE %I LOGIN', :'rm_secure_user')
   WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'rm_secure_user') \gexec
  SELECT format('ALTER ROLE %I PASSWORD %L', :'rm_secure_user', :'rm_secure_password') \gexec
  SELECT format('GRANT CONNECT, CREATE ON DATABASE %I TO %I', :'rm_test_db', :'rm_secure_user') \gexec
\endif
