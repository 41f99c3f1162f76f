// Compares query results written as CSV (RFC 4180, header row) by dcr,
// DuckDB and SQLite for bench/query.sh.
//
//   node bench/compare_results.mjs A.csv B.csv [C.csv ...]
//
// Rows are sorted (the header is compared by column count only, since the
// engines name columns differently); cells that parse as numbers in both
// files are compared with a relative tolerance of 1e-9 (float sums depend on
// summation order and engines print doubles differently); other cells must
// be equal byte for byte. Prints "MATCH ..." and exits 0, or prints every
// difference (up to 20) and exits 1.
import { readFileSync } from 'node:fs';

function parseCsv(text) {
  const rows = [];
  let row = [], field = '', i = 0, quoted = false, inField = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"') { quoted = true; inField = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; inField = false; i++; continue; }
    if (c === '\r') { i++; continue; }
    if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; inField = false; i++; continue; }
    field += c; inField = true; i++;
  }
  if (inField || row.length > 0) { row.push(field); rows.push(row); }
  return rows;
}

const files = process.argv.slice(2);
if (files.length < 2) {
  console.error('usage: node compare_results.mjs A.csv B.csv [C.csv ...]');
  process.exit(2);
}
const isNum = (s) => /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s);
const key = (r) => r.join('\u0001');
const tables = files.map((f) => {
  const rows = parseCsv(readFileSync(f, 'utf8'));
  const header = rows.shift() ?? [];
  rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return { f, header, rows };
});

const diffs = [];
const ref = tables[0];
for (const t of tables.slice(1)) {
  if (t.header.length !== ref.header.length)
    diffs.push(`${t.f}: ${t.header.length} columns, ${ref.f}: ${ref.header.length}`);
  if (t.rows.length !== ref.rows.length)
    diffs.push(`${t.f}: ${t.rows.length} rows, ${ref.f}: ${ref.rows.length}`);
  const n = Math.min(t.rows.length, ref.rows.length);
  for (let r = 0; r < n; r++) {
    const a = ref.rows[r], b = t.rows[r];
    for (let c = 0; c < Math.max(a.length, b.length); c++) {
      const x = a[c] ?? '<missing>', y = b[c] ?? '<missing>';
      if (x === y) continue;
      if (isNum(x) && isNum(y)) {
        const u = Number(x), v = Number(y);
        if (Math.abs(u - v) <= 1e-9 * Math.max(Math.abs(u), Math.abs(v), 1)) continue;
      }
      diffs.push(`row ${r + 1} column ${c + 1}: ${ref.f} has '${x}', ${t.f} has '${y}'`);
    }
  }
}
if (diffs.length > 0) {
  console.log(`MISMATCH (${diffs.length} differences)`);
  for (const d of diffs.slice(0, 20)) console.log(`  ${d}`);
  process.exit(1);
}
console.log(`MATCH: ${files.length} results, ${ref.rows.length} rows each`);
