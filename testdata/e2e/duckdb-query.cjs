#!/usr/bin/env node
// duckdb-query SQL: runs SQL in an in-memory DuckDB (npm @duckdb/node-api)
// and prints the result rows as a JSON array. `make e2e-deps` installs it
// as .cache/duckdb/bin/duckdb-query next to the package, for the audit
// export tests to read Parquet with a real DuckDB.
const path = require('path');
const { DuckDBInstance } = require(path.join(__dirname, '..', 'node_modules', '@duckdb', 'node-api'));

(async () => {
  if (process.argv.length !== 3) {
    console.error('usage: duckdb-query SQL');
    process.exit(2);
  }
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const reader = await conn.runAndReadAll(process.argv[2]);
  const rows = reader.getRowObjectsJS();
  console.log(JSON.stringify(rows, (_, v) => (typeof v === 'bigint' ? Number(v) : v)));
})().catch((err) => {
  console.error('duckdb-query:', err.message);
  process.exit(1);
});
