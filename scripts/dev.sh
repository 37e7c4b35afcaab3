#!/usr/bin/env bash
# The demo: the reference origin on 127.0.0.1:8788 and the gate (wrangler dev, local workerd,
# no Cloudflare account) on 127.0.0.1:8787, sharing a freshly generated demo secret.
#
#   scripts/dev.sh           run until Ctrl-C
#   scripts/dev.sh --smoke   start, check one authenticated and one anonymous request, stop
#                            (used by scripts/test.sh to keep this command honest)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
GATE_PORT="${GATE_PORT:-8787}"
ORIGIN_PORT="${ORIGIN_PORT:-8788}"
ORIGIN_URL="http://127.0.0.1:$ORIGIN_PORT"
GATE_URL="http://127.0.0.1:$GATE_PORT"

cargo build -p edgegate-origin --quiet
ORIGIN_BIN=target/debug/edgegate-origin
SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

"$ORIGIN_BIN" serve --listen "127.0.0.1:$ORIGIN_PORT" &
pids+=($!)
for _ in $(seq 1 40); do
  curl -fsS -o /dev/null "$ORIGIN_URL/__log" 2>/dev/null && break
  sleep 0.25
done
curl -fsS -o /dev/null "$ORIGIN_URL/__log" ||
  { echo "the origin did not start on $ORIGIN_URL (port in use? set ORIGIN_PORT)" >&2; exit 1; }

# wrangler dev runs [build] (scripts/build.sh) itself. The secret is passed as a var: nothing is
# written to .dev.vars, and each run gets a new one.
npx wrangler dev --ip 127.0.0.1 --port "$GATE_PORT" --log-level warn \
  --var "ORIGIN_URL:$ORIGIN_URL" --var "JWT_SECRET:$SECRET" &
pids+=($!)

for _ in $(seq 1 180); do
  curl -fsS -o /dev/null "$GATE_URL/health" 2>/dev/null && break
  sleep 0.5
done
curl -fsS -o /dev/null "$GATE_URL/health" || { echo "the gate did not come up on $GATE_URL" >&2; exit 1; }

TOKEN="$("$ORIGIN_BIN" mint --secret "$SECRET" --sub alice --ttl 600)"
EXPIRED="$("$ORIGIN_BIN" mint --secret "$SECRET" --sub alice --ttl -3600)"

if [ "$SMOKE" = 1 ]; then
  code=$(curl -s -o /dev/null -w '%{http_code}' "$GATE_URL/api/data")
  [ "$code" = 401 ] || { echo "smoke: anonymous request got $code, want 401" >&2; exit 1; }
  body=$(curl -fsS -H "Cookie: access=$TOKEN" "$GATE_URL/api/data")
  echo "$body" | grep -q '"x-auth-sub","alice"' || { echo "smoke: origin did not see x-auth-sub: $body" >&2; exit 1; }
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: access=$EXPIRED" -H 'Sec-Fetch-Mode: navigate' "$GATE_URL/app")
  [ "$code" = 302 ] || { echo "smoke: expired navigation got $code, want 302" >&2; exit 1; }
  echo "dev.sh smoke: ok (gate $GATE_URL in front of origin $ORIGIN_URL)"
  exit 0
fi

cat <<MSG

  edgegate is running (local workerd, no Cloudflare account involved)
    gate    $GATE_URL   (wrangler dev)
    origin  $ORIGIN_URL   (reference origin: echoes what it receives)

  A demo access token for "alice" (HS256, 10 minutes), signed with this run's secret:
    TOKEN=$TOKEN

  Try:
    curl -i $GATE_URL/api/data                                  # 401 {"error":"missing_token"}
    curl -s -H "Cookie: access=\$TOKEN" $GATE_URL/api/data      # origin echo incl. x-auth-sub: alice
    curl -i -H "Cookie: access=\$TOKEN; access=x" $GATE_URL/  # 401 {"error":"ambiguous_token"}
    curl -i -H "Cookie: access=$EXPIRED" \\
         -H "Sec-Fetch-Mode: navigate" $GATE_URL/app           # 302 to /auth/refresh?return_to=%2Fapp

  More tokens: $ORIGIN_BIN mint --secret $SECRET --sub bob --ttl 60
  Ctrl-C stops both.
MSG
wait
