#!/usr/bin/env bash
# Crash safety of the clean room through the real server: many trials of
# "start dcr serve, re-grant, fire uploads and queries from several clients
# at once, kill -9 the server after a random delay". After each crash the
# server restarts on the same state and the test checks that
#   - every acknowledged upload (client exit 0) is the committed dataset, or
#     was replaced by the upload in flight at the kill (never by an older
#     one); its data key re-grants and every chunk decrypts (a query counts
#     exactly its rows);
#   - no half-written upload is visible: no pending catalog row, no stray
#     temp file in DIR/datasets, one file per dataset;
#   - every acknowledged query and refusal has its audit record, and the
#     ledger holds at least the epsilon of every acknowledged answer (DP is
#     off here: the records are what a charge writes);
#   - the audit chain verifies and extends the head the client saw before.
# DCR_CRASH_TRIALS (default 50; 12 for a sanitizer build, which is several
# times slower) and DCR_CRASH_SEED (default random, printed) steer it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/service_lib.sh"
cd "$T"
WORKERS=()
cleanup() {
  local p
  for p in "${WORKERS[@]}"; do kill "$p" 2>/dev/null; done
  [[ -n "$SERVER_PID" ]] && kill -9 "$SERVER_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

if [[ "$DCR" == */asan/* ]]; then TRIALS=${DCR_CRASH_TRIALS:-12}; else TRIALS=${DCR_CRASH_TRIALS:-50}; fi
SEED=${DCR_CRASH_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$SEED
echo "# $TRIALS trials, seed $SEED (DCR_CRASH_SEED=$SEED to repeat)"

check "keys and a three-party contract" make_contract
# Two variants of each dataset with different row counts: a committed file
# is then identified by its rows as well as by its hash. Their sets of
# people differ by far more than k, so the differencing defence never
# withholds a count after a re-upload.
make_data 20000 5000 1 && mv imp.csv impA.csv && mv pur.csv purA.csv
make_data 19000 4500 7 2000 3000 && mv imp.csv impB.csv && mv pur.csv purB.csv
declare -A ROWS=([impA.csv]=20000 [impB.csv]=19000 [purA.csv]=5000 [purB.csv]=4500)
mkdir -m 700 st

client() { timeout 60 "$DCR" "$1" --server "$URL" --contract c.json --quiet "${@:2}"; }

# The first uploads, on a server that stops cleanly. book.json remembers,
# across trials, what the clients were told.
check "the server starts" start_server st --rate 1000000
client upload --key pub.key --dataset impressions impA.csv > u1.out 2>&1 &&
  client upload --key adv.key --dataset purchases purA.csv > u2.out 2>&1
check "the first uploads" test $? -eq 0
python3 - <<'PY'
import json, re
book = {'acked': {}, 'last': {}, 'head_checked': 0}
for ds, f, out in (('impressions', 'impA.csv', 'u1.out'), ('purchases', 'purA.csv', 'u2.out')):
    sha = re.search(r'sha256 ([0-9a-f]{64})', open(out).read()).group(1)
    book['acked'][sha] = ds
    book['last'][ds] = [sha, f]
json.dump(book, open('book.json', 'w'))
PY
check "the first audit verifies" client audit --key pub.key --head pub.head
stop_server

# upload_worker KEY DATASET FILE1 FILE2 LOG: uploads, alternating the files,
# until a request fails (the server is gone).
upload_worker() {
  local i=0 f out rc
  while :; do
    f=$3
    ((i % 2)) && f=$4
    echo "start $f" >> "$5"
    out=$(client upload --key "$1" --dataset "$2" "$f" 2>> "$5.err")
    rc=$?
    if [[ $rc -ne 0 ]]; then echo "fail $rc" >> "$5"; return; fi
    echo "ack $f $(sed -n 's/.*sha256 \([0-9a-f]*\).*/\1/p' <<< "$out")" >> "$5"
    i=$((i + 1))
  done
}

# query_worker NAME LOG: answered and refused queries, each with a unique
# alias (so its audit record can be found), until the server is gone.
query_worker() {
  local i=0 tag sql rc eps
  while :; do
    tag="q_${TRIAL}_$1_$i"
    case $((i % 4)) in
    0) sql="SELECT COUNT(*) AS $tag FROM impressions" ;;
    1) sql="SELECT i.campaign, COUNT(DISTINCT p.email) AS $tag, SUM(p.amount) AS revenue FROM impressions i JOIN purchases p ON i.email = p.email GROUP BY i.campaign" ;;
    2) sql="SELECT email AS $tag FROM purchases" ;;
    3) sql="SELECT product, COUNT(DISTINCT email) AS $tag FROM purchases GROUP BY product" ;;
    esac
    printf 'start\t%s\n' "$sql" >> "$2"
    client query --key ana.key --format json "$sql" > "$2.json" 2> "$2.qerr"
    rc=$?
    if [[ $rc -eq 0 ]]; then
      eps=$(jq -r .privacy.epsilon "$2.json")
      printf 'ack\t%s\t%s\n' "$eps" "$sql" >> "$2"
    elif [[ $rc -eq 3 ]] && grep -q 'HTTP 422 refused' "$2.qerr"; then
      printf 'refused\t0\t%s\n' "$sql" >> "$2"
    else
      printf 'fail\t%s\t%s\n' "$rc" "$(tr '\n' ' ' < "$2.qerr")" >> "$2"
      return
    fi
    i=$((i + 1))
  done
}

# The checks after a restart; a failed check prints FAIL lines (python
# below), which the trial loop counts.
cat > check.py <<'PY'
import json, re, sys
trial, rows_by_file = sys.argv[1], json.loads(sys.argv[2])
book = json.load(open('book.json'))
fails = []
def fail(m): fails.append(f'trial {trial}: {m}')

status = {d['name']: d for d in json.load(open('status.json'))['datasets']}
counts = json.load(open('counts.json'))
# Uploads: the committed file is the last acknowledged one, or the one in
# flight when the server died (a new hash), never an older one.
for ds, log in (('impressions', 'up_pub.log'), ('purchases', 'up_adv.log')):
    inflight = None
    for line in open(log).read().splitlines():
        w = line.split()
        if w[0] == 'start': inflight = w[1]
        elif w[0] == 'ack':
            book['acked'][w[2]] = ds; book['last'][ds] = [w[2], w[1]]; inflight = None
        elif w[0] == 'fail' and w[1] not in ('3', '4', '5'):
            fail(f'{ds} upload client exit {w[1]}')
    err = open(log + '.err').read() if __import__('os').path.exists(log + '.err') else ''
    if re.search(r'HTTP [0-9]', err):
        fail(f'{ds} upload failed with an HTTP error while the server ran: {err.strip()}')
    d = status.get(ds)
    if not d or not d.get('uploaded') or not d.get('granted'):
        fail(f'{ds} not uploaded and granted after the restart: {d}'); continue
    last_sha, last_file = book['last'][ds]
    if d['sha256'] == last_sha:
        want = rows_by_file[last_file]
    elif inflight and d['sha256'] not in book['acked']:
        want = rows_by_file[inflight]
        book['acked'][d['sha256']] = ds; book['last'][ds] = [d['sha256'], inflight]
        book.setdefault('unacked_commits', 0); book['unacked_commits'] += 1
    else:
        fail(f'{ds} is {d["sha256"]}, not the last acknowledged upload {last_sha} '
             f'(in flight: {inflight})'); continue
    if d['rows'] != want or counts[ds] != want:
        fail(f'{ds}: status says {d["rows"]} rows, a query counts {counts[ds]}, want {want}')

# Queries: every answer and refusal the analyst got is in the audit log.
recs = [json.loads(l) for l in open('audit.jsonl') if l.strip()]
accepted = {r.get('sql') for r in recs if r.get('type') == 'query' and r.get('decision') == 'accepted'}
refused = {r.get('sql') for r in recs if r.get('type') == 'query' and r.get('decision') == 'refused'}
uploads = ' '.join(r.get('reason', '') for r in recs if r.get('type') == 'upload' and r.get('decision') == 'accepted')
eps_acked, nq = 0.0, 0
for log in ('q1.log', 'q2.log'):
    for line in open(log).read().splitlines():
        w = line.split('\t')
        if w[0] == 'ack':
            nq += 1; eps_acked += float(w[1])
            if w[2] not in accepted: fail(f'answered query has no accepted audit record: {w[2]}')
        elif w[0] == 'refused':
            nq += 1
            if w[2] not in refused: fail(f'refused query has no refused audit record: {w[2]}')
        elif w[0] == 'fail' and re.search(r'HTTP [0-9]', w[2]):
            fail(f'a query failed with an HTTP error while the server ran: {w[2]}')
for line in open('up_pub.log').read().splitlines() + open('up_adv.log').read().splitlines():
    w = line.split()
    if w[0] == 'ack' and w[2] not in uploads: fail(f'acknowledged upload {w[2]} has no audit record')
book['eps_acked'] = book.get('eps_acked', 0.0) + eps_acked
budget = json.load(open('budget.json'))
if budget['epsilon_spent'] + 1e-9 < book['eps_acked']:
    fail(f'ledger has epsilon {budget["epsilon_spent"]}, clients were answered {book["eps_acked"]}')
book['queries_acked'] = book.get('queries_acked', 0) + nq
json.dump(book, open('book.json', 'w'))
for f in fails: print('FAIL', f)
PY

# verify TRIAL: after a restart, re-grants and checks everything above.
verify() {
  local ds f n bad=0
  for ds in impressions purchases; do
    f=pub.key
    [[ $ds == purchases ]] && f=adv.key
    client grant --key $f --dataset $ds > grant.out 2>&1 || { echo "FAIL trial $1: grant $ds: $(cat grant.out)"; bad=1; }
  done
  for f in st/datasets/* st/datasets/.[!.]*; do
    [[ -e "$f" ]] || continue
    [[ $(basename "$f") =~ ^[0-9a-f]{16}\.sealed$ ]] || { echo "FAIL trial $1: stray file $f"; bad=1; }
  done
  n=$(ls -A st/datasets | wc -l)
  [[ $n -eq 2 ]] || { echo "FAIL trial $1: $n files in st/datasets, want 2"; bad=1; }
  n=$(sqlite3 -readonly st/state.db "SELECT COUNT(*) FROM datasets WHERE state = 'pending'")
  [[ $n -eq 0 ]] || { echo "FAIL trial $1: $n pending uploads in the catalog"; bad=1; }
  client status --key pub.key > status.json 2> status.err || { echo "FAIL trial $1: status: $(cat status.err)"; bad=1; }
  client budget --key ana.key > budget.json 2> budget.err || { echo "FAIL trial $1: budget: $(cat budget.err)"; bad=1; }
  local ci cp
  ci=$(client query --key ana.key --format csv "SELECT COUNT(*) AS n FROM impressions" 2> q.err | tail -1)
  cp=$(client query --key ana.key --format csv "SELECT COUNT(*) AS n FROM purchases" 2>> q.err | tail -1)
  echo "{\"impressions\": ${ci:-null}, \"purchases\": ${cp:-null}}" > counts.json
  client audit --key pub.key --head pub.head --json > audit.jsonl 2> audit.err ||
    { echo "FAIL trial $1: audit: $(cat audit.err)"; bad=1; }
  [[ $bad -eq 0 ]] || return 1
  python3 check.py "$1" '{"impA.csv": 20000, "impB.csv": 19000, "purA.csv": 5000, "purB.csv": 4500}' 
}

fails=0 starts=0 up_inflight=0 q_inflight=0 t0=$SECONDS
for TRIAL in $(seq "$TRIALS"); do
  if ! start_server st --rate 1000000; then
    echo "FAIL trial $TRIAL: the server does not start after the crash"; tail -5 "$SERVER_LOG"
    fails=$((fails + 1)); break
  fi
  starts=$((starts + 1))
  if [[ $TRIAL -gt 1 ]]; then
    # What the previous trial's clients were told, checked now.
    out=$(verify $((TRIAL - 1)) 2>&1)
    if [[ -n "$out" ]]; then echo "$out"; fails=$((fails + 1)); fi
  else
    client grant --key pub.key --dataset impressions > /dev/null 2>&1
    client grant --key adv.key --dataset purchases > /dev/null 2>&1
  fi
  rm -f up_pub.log* up_adv.log* q1.log* q2.log*
  touch up_pub.log up_adv.log q1.log q2.log
  WORKERS=()
  upload_worker pub.key impressions impA.csv impB.csv up_pub.log & WORKERS+=($!)
  upload_worker adv.key purchases purA.csv purB.csv up_adv.log & WORKERS+=($!)
  query_worker 1 q1.log & WORKERS+=($!)
  query_worker 2 q2.log & WORKERS+=($!)
  # 10..900 ms: early (TLS, headers), mid-stream, at commit and audit.
  sleep "$(printf '0.%03d' $((10 + RANDOM % 890)))"
  kill -9 "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
  # What was in flight at the kill (from the clients' side).
  [[ $(tail -1 up_pub.log) == start* || $(tail -1 up_adv.log) == start* ]] && up_inflight=$((up_inflight + 1))
  [[ $(tail -1 q1.log) == start* || $(tail -1 q2.log) == start* ]] && q_inflight=$((q_inflight + 1))
  wait "${WORKERS[@]}"
  WORKERS=()
done
# The last trial's crash, checked after one more restart.
if start_server st --rate 1000000; then
  out=$(verify "$TRIALS" 2>&1)
  if [[ -n "$out" ]]; then echo "$out"; fails=$((fails + 1)); fi
  stop_server
else
  echo "FAIL: the server does not start after the last crash"; fails=$((fails + 1))
fi
read -r acked_q unacked < <(python3 -c "import json; b = json.load(open('book.json')); print(b.get('queries_acked', 0), b.get('unacked_commits', 0))")
echo "# $TRIALS kill -9 trials in $((SECONDS - t0)) s: an upload in flight at $up_inflight kills, a query at $q_inflight;" \
  "$acked_q acknowledged queries checked; $unacked uploads committed but unacknowledged"
check "the server restarted on the crashed state every time ($starts of $TRIALS)" test "$starts" -eq "$TRIALS"
check "after every crash: acknowledged uploads intact and queryable, nothing half-written, every answer audited, the chain verifies" \
  test "$fails" -eq 0
check "the kills hit uploads and queries in flight (each in at least a fifth of the trials)" \
  test $((up_inflight * 5)) -ge "$TRIALS" -a $((q_inflight * 5)) -ge "$TRIALS"
finish
