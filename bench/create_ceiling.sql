-- The transaction of POST /companies as pgbench runs it (bench/run.sh, `pgbench_write_ceilings`):
-- the region lookup, the INSERT of bench/insert_ceiling.sql and the change feed's entry, in one
-- transaction, into copies of `companies` and `changes`, sent in the service's three round trips
-- (BEGIN | lookup and INSERT | entry and COMMIT). PostgreSQL's own rate for what one POST asks
-- of it: the ceiling of `create` on this machine, where the single INSERT is the issue's.
\set n random(1, 1000000000)
BEGIN;
\startpipeline
SELECT id FROM regions WHERE id = ANY(ARRAY[:region]::bigint[]);
INSERT INTO bench_insert (name, name_key, region_id, city_key, employee_count, employee_sort,
    created_at, updated_at, version, created_by, updated_by)
VALUES ('Benchmark-Neugruendung ' || :n, 'benchmark-neugruendung ' || :n, :region, '',
    :n % 200, :n % 200, now(), now(), 1, 'admin', 'admin')
RETURNING *;
\endpipeline
\startpipeline
INSERT INTO bench_changes (seq, resource, resource_id, action, version, at, actor)
VALUES (NULL, 'companies', currval('bench_insert_id_seq'), 'create', 1,
    now(), 'admin');
COMMIT;
\endpipeline
