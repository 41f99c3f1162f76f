#!/usr/bin/env bash
# End-to-end checks of `dcr keygen`: the two files, their modes and format,
# refusal to overwrite, and the usage errors.
source "$(dirname "$0")/lib.sh"

cd "$T"

check "keygen creates alice.key and alice.pub" "$DCR" keygen --out alice
check "alice.key exists" test -f alice.key
check "alice.pub exists" test -f alice.pub
check "alice.key has mode 0600" test "$(stat -c %a alice.key)" = 600
check "alice.pub has mode 0644" test "$(stat -c %a alice.pub)" = 644
check ".pub is one dcr-pub-v1 line" \
  grep -qxE 'dcr-pub-v1:[0-9a-f]{64}:[0-9a-f]{64}' alice.pub
check ".pub is exactly one line" test "$(wc -l <alice.pub)" -eq 1
check ".key is one dcr-key-v1 line" \
  grep -qxE 'dcr-key-v1:[0-9a-f]{64}:[0-9a-f]{64}' alice.key
check "no temporary files left behind" bash -c '! ls -A | grep -q tmp-'

"$DCR" keygen --out bob >bob.stdout 2>bob.stderr
check "keygen prints the public line it wrote" grep -qxF "$(cat bob.pub)" bob.stdout
check "keygen prints both paths" grep -q 'bob.key.*bob.pub' <(tr '\n' ' ' <bob.stdout)
check "keygen prints a key id" grep -qE '^key id: +[0-9a-f]{16}$' bob.stdout
check "two keygens give different keys" \
  test "$(cut -d: -f2- alice.pub)" != "$(cut -d: -f2- bob.pub)"

# The umask must not make the public key unreadable or the private key readable.
check "strict umask still gives a 0644 .pub" \
  bash -c "umask 077 && '$DCR' keygen --out carol && test \"\$(stat -c %a carol.pub)\" = 644"
check "lax umask still gives a 0600 .key" \
  bash -c "umask 000 && '$DCR' keygen --out dave && test \"\$(stat -c %a dave.key)\" = 600"

mkdir -p keys
check "--out may name a directory" "$DCR" keygen --out keys/erin
check "keys/erin.key exists" test -f keys/erin.key

# Never overwrite: an existing .key or .pub refuses, and changes nothing.
before_key=$(cat alice.key)
before_pub=$(cat alice.pub)
expect_exit 3 'alice.key already exists; refusing to overwrite' \
  "existing .key refuses with exit 3" "$DCR" keygen --out alice
check "refused keygen left alice.key alone" test "$(cat alice.key)" = "$before_key"
check "refused keygen left alice.pub alone" test "$(cat alice.pub)" = "$before_pub"
rm bob.key
expect_exit 3 'bob.pub already exists; refusing to overwrite' \
  "existing .pub alone also refuses" "$DCR" keygen --out bob
check "refused keygen did not recreate bob.key" test ! -e bob.key
expect_exit 2 'never overwrites keys' "--force is refused" "$DCR" keygen --out alice --force

# Usage.
check "--help exits 0" "$DCR" keygen --help
check "--help documents --out" bash -c "'$DCR' keygen --help | grep -q -- '--out NAME'"
check "dcr help keygen exits 0" "$DCR" help keygen
expect_exit 2 '--out NAME is required' "missing --out exits 2" "$DCR" keygen
expect_exit 2 "unknown or incomplete option '--bogus'" "unknown option exits 2" \
  "$DCR" keygen --bogus --out x
expect_exit 2 "unknown or incomplete option" "--out without a value exits 2" "$DCR" keygen --out
expect_exit 2 "unexpected argument 'extra'" "stray argument exits 2" \
  "$DCR" keygen --out x extra
expect_exit 2 "without '.key' or '.pub'" "--out NAME.key exits 2" "$DCR" keygen --out x.key
check "usage errors created nothing" test ! -e x.key -a ! -e x.pub
expect_exit 3 'cannot create' "unwritable directory exits 3" \
  "$DCR" keygen --out no/such/dir/alice

finish
