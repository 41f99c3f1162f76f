// Reference timing for bench/run.sh: DuckDB's CSV reader on the same file
// dcr seals, in its own process.
//
//   node bench/duckdb_read_csv.mjs FILE [MODE] [RUNS] [THREADS]
//
// MODE
//   table  CREATE TABLE t AS SELECT * FROM read_csv(...): parse, type-convert
//          and store every column (the headline comparison with dcr seal).
//   agg    SELECT count(*), sum(amount) FROM read_csv(...): tokenises every
//          row but, thanks to projection pushdown, converts only `amount`
//          (a lower bound on DuckDB's CSV parsing cost).
//
// Each run uses a fresh in-memory database; only the query is timed (not
// process or database start-up). Prints one line per run to stderr and a
// final machine-readable line to stdout:
//   best_seconds=S rows=N
import { DuckDBInstance } from '@duckdb/node-api';

const [file, mode = 'table', runsArg = '3', threadsArg = '2'] = process.argv.slice(2);
if (!file || !['table', 'agg'].includes(mode)) {
  console.error('usage: node duckdb_read_csv.mjs FILE [table|agg] [RUNS] [THREADS]');
  process.exit(2);
}
const runs = Number.parseInt(runsArg, 10);
const threads = Number.parseInt(threadsArg, 10);

const quoted = `'${file.replaceAll("'", "''")}'`;
const readCsv =
  `read_csv(${quoted}, header = true, delim = ',', quote = '"', escape = '"', ` +
  `auto_detect = false, timestampformat = '%Y-%m-%d %H:%M:%S', ` +
  `columns = {'email': 'VARCHAR', 'campaign': 'VARCHAR', 'ts': 'TIMESTAMP', 'amount': 'DOUBLE'})`;
const query =
  mode === 'table'
    ? `CREATE TABLE t AS SELECT * FROM ${readCsv}`
    : `SELECT count(*) AS n, sum(amount) AS s FROM ${readCsv}`;

let best = Infinity;
let rows = 0;
for (let i = 0; i < runs; i++) {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run(`SET threads = ${threads}`);
  const t0 = performance.now();
  await conn.run(query);
  const secs = (performance.now() - t0) / 1000;
  // Row count check, outside the timed part.
  const reader = await conn.runAndReadAll(
    mode === 'table' ? 'SELECT count(*) FROM t' : query,
  );
  rows = Number(reader.getRows()[0][0]);
  console.error(`duckdb ${mode} run ${i + 1}: ${secs.toFixed(3)} s, ${rows} rows`);
  best = Math.min(best, secs);
  conn.closeSync();
  instance.closeSync?.();
}
console.log(`best_seconds=${best.toFixed(3)} rows=${rows}`);
