// Reference timing for bench/query.sh: DuckDB runs the attribution queries
// on the same plaintext CSVs that dcr sealed, in its own process.
//
//   node bench/duckdb_query.mjs IMPRESSIONS.csv PURCHASES.csv OUTDIR [RUNS] [THREADS]
//
// 1. Loads both CSVs into in-memory tables (timed separately as the load):
//    every column converted, email trimmed and lower-cased as dcr seal's
//    schema does, so the join matches the same rows.
// 2. Runs each query in QUERIES RUNS times; only the query is timed
//    (best run reported). DuckDB has no result cache.
// 3. Writes each query's result to OUTDIR/duckdb-NAME.csv (outside timing)
//    and prints machine-readable lines to stdout:
//      load_seconds=S impressions=N purchases=M
//      query NAME best_seconds=S rows=R
//      overlap distinct_purchasers=D in_impressions=K
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';

const [imp, pur, outdir, runsArg = '3', threadsArg = '2'] = process.argv.slice(2);
if (!imp || !pur || !outdir) {
  console.error('usage: node duckdb_query.mjs IMPRESSIONS.csv PURCHASES.csv OUTDIR [RUNS] [THREADS]');
  process.exit(2);
}
const runs = Number.parseInt(runsArg, 10);
const threads = Number.parseInt(threadsArg, 10);
const q = (s) => `'${s.replaceAll("'", "''")}'`;
const opts =
  `header = true, delim = ',', quote = '"', escape = '"', auto_detect = false, ` +
  `timestampformat = '%Y-%m-%d %H:%M:%S'`;

// The queries, one per line "NAME<TAB>SQL", shared with query.sh.
const queries = readFileSync(new URL('./queries.tsv', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'))
  .map((l) => {
    const tab = l.indexOf('\t');
    return { name: l.slice(0, tab), sql: l.slice(tab + 1) };
  });

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
await conn.run(`SET threads = ${threads}`);
await conn.run(`SET preserve_insertion_order = false`);

let t0 = performance.now();
await conn.run(
  `CREATE TABLE impressions AS SELECT lower(trim(email)) AS email, campaign, ts, amount FROM read_csv(${q(imp)}, ${opts}, ` +
    `columns = {'email': 'VARCHAR', 'campaign': 'VARCHAR', 'ts': 'TIMESTAMP', 'amount': 'DOUBLE'})`,
);
await conn.run(
  `CREATE TABLE purchases AS SELECT lower(trim(email)) AS email, amount, ts FROM read_csv(${q(pur)}, ${opts}, ` +
    `columns = {'email': 'VARCHAR', 'amount': 'DOUBLE', 'ts': 'TIMESTAMP'})`,
);
const load = (performance.now() - t0) / 1000;
const count = async (sql) => Number((await conn.runAndReadAll(sql)).getRows()[0][0]);
const ni = await count('SELECT count(*) FROM impressions');
const np = await count('SELECT count(*) FROM purchases');
console.error(`duckdb load: ${load.toFixed(3)} s (${ni} impressions, ${np} purchases)`);
console.log(`load_seconds=${load.toFixed(3)} impressions=${ni} purchases=${np}`);

for (const { name, sql } of queries) {
  let best = Infinity;
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    t0 = performance.now();
    const reader = await conn.runAndReadAll(sql);
    const secs = (performance.now() - t0) / 1000;
    rows = reader.currentRowCount;
    console.error(`duckdb ${name} run ${i + 1}: ${secs.toFixed(3)} s, ${rows} rows`);
    best = Math.min(best, secs);
  }
  await conn.run(`COPY (${sql}) TO ${q(`${outdir}/duckdb-${name}.csv`)} (HEADER, DELIMITER ',')`);
  console.log(`query ${name} best_seconds=${best.toFixed(3)} rows=${rows}`);
}

const dp = await count('SELECT count(DISTINCT email) FROM purchases');
const dk = await count(
  'SELECT count(*) FROM (SELECT DISTINCT email FROM purchases) p WHERE p.email IN (SELECT email FROM impressions)',
);
console.log(`overlap distinct_purchasers=${dp} in_impressions=${dk}`);
conn.closeSync();
