# Sourced by .ci/run (and usable by hand: `source .ci/prepare-postgres.sh`).
# Starts the machine's PostgreSQL, creates the perch role and test database if missing, and exports
# PERCH_TEST_POSTGRES_URL for the tests marked `postgres`. Idempotent.
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pg_version=$(ls /etc/postgresql | sort -n | tail -n 1)
pg_ctlcluster "$pg_version" main start 2>/dev/null || true
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 && break
    sleep 0.5
done
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='perch'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE perch LOGIN PASSWORD 'perch' SUPERUSER\""
# Under CI, a fresh test database each run: every test makes a schema of its own, and thousands
# left by earlier runs make the catalog (and each migration) slower.
if [ "${CI:-}" = "true" ]; then
    su postgres -c "dropdb --if-exists perch_test"
fi
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='perch_test'\"" | grep -q 1 ||
    su postgres -c "createdb -O perch perch_test"
export PERCH_TEST_POSTGRES_URL="postgresql://perch:perch@127.0.0.1:5432/perch_test"
echo "PostgreSQL $pg_version ready at $PERCH_TEST_POSTGRES_URL"
