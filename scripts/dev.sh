#!/usr/bin/env bash
# The demo: the reference origin (login, rotating refresh tokens, logout) on 127.0.0.1:8788 and
# the gate (wrangler dev, local workerd, no Cloudflare account) on 127.0.0.1:8787, sharing a
# generated demo secret. See docs/origin.md for what the origin does and why.
#
#   scripts/dev.sh           run until Ctrl-C; sessions and keys persist in .demo/
#   scripts/dev.sh --smoke   start, log in and walk the lifecycle with curl, stop
#                            (used by scripts/test.sh to keep this command honest)
#
# Knobs (environment): GATE_PORT (8787), ORIGIN_PORT (8788), DEMO_USER (alice),
# DEMO_PASSWORD (wonderland), DEMO_ACCESS_TTL (60 s), DEMO_LEEWAY (the gate's LEEWAY_SECONDS, 5),
# DEMO_REVOCATION_REFRESH (the gate's REVOCATION_REFRESH_SECONDS, 2),
# DEMO_SECURE_COOKIES=1 (keep the Secure attribute: fine for curl and Chrome/Firefox on
# 127.0.0.1/localhost, not for Safari over plain http).
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
DEMO_USER="${DEMO_USER:-alice}"
DEMO_PASSWORD="${DEMO_PASSWORD:-wonderland}"
DEMO_ACCESS_TTL="${DEMO_ACCESS_TTL:-60}"
DEMO_LEEWAY="${DEMO_LEEWAY:-5}"
DEMO_REVOCATION_REFRESH="${DEMO_REVOCATION_REFRESH:-2}"

cargo build -p edgegate-origin --quiet
ORIGIN_BIN=target/debug/edgegate-origin

# Each background service gets its own process group (job control), so stopping it also stops
# what it started (wrangler → workerd): nothing is left listening after Ctrl-C or a failed check.
# Their stdin is /dev/null (a background group must not read the terminal).
set -m
pids=()
tmp=""
cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Refuse to start over something already listening (a leftover gate would answer our checks).
for port in "$GATE_PORT" "$ORIGIN_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port on 127.0.0.1 is already in use (set GATE_PORT / ORIGIN_PORT)" >&2
    exit 1
  fi
done

# State: the shared secret, the SQLite database and the signing keys. The demo keeps them in
# .demo/ (git-ignored) so a restart keeps everyone signed in; the smoke run uses a temp dir.
if [ "$SMOKE" = 1 ]; then
  tmp="$(mktemp -d)"
  STATE="$tmp"
else
  STATE=.demo
fi
mkdir -p "$STATE"
chmod 700 "$STATE"
# secret: the access-token HMAC key; assertion-secret: the key of the gate's x-auth-assertion,
# with which the origin tells requests that passed the gate from ones that did not.
for f in secret assertion-secret; do
  if [ ! -s "$STATE/$f" ]; then
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$STATE/$f")
  fi
done
SECRET="$(cat "$STATE/secret")"
ASSERTION_SECRET="$(cat "$STATE/assertion-secret")"

cookie_flags=(--insecure-cookies)
[ "${DEMO_SECURE_COOKIES:-0}" = 1 ] && cookie_flags=()

# Secret and password go through the environment, not the command line (ps shows argv).
JWT_SECRET="$SECRET" ASSERTION_SECRET="$ASSERTION_SECRET" DEMO_USERS="$DEMO_USER:$DEMO_PASSWORD" \
  "$ORIGIN_BIN" serve --reference --listen "127.0.0.1:$ORIGIN_PORT" \
    --data-dir "$STATE/origin" --access-ttl "$DEMO_ACCESS_TTL" \
    --public-origin "$GATE_URL" --public-origin "http://localhost:$GATE_PORT" \
    "${cookie_flags[@]}" </dev/null >/dev/null &
pids+=($!)
for _ in $(seq 1 80); do
  curl -fsS -m 2 -o /dev/null "$ORIGIN_URL/health" 2>/dev/null && break
  sleep 0.25
done
curl -fsS -m 5 -o /dev/null "$ORIGIN_URL/health" ||
  { echo "the origin did not start on $ORIGIN_URL (port in use? set ORIGIN_PORT)" >&2; exit 1; }

# wrangler dev (installed by setup.sh; run directly, not through npx, so the signal reaches it)
# runs [build] (scripts/build.sh) itself. The secret is passed as a var: nothing is
# written to .dev.vars. LEEWAY_SECONDS is lowered so a short demo TTL visibly expires. The gate
# pulls the origin's published revocation list, so logout reaches tokens already issued.
node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$GATE_PORT" --log-level warn \
  --var "ORIGIN_URL:$ORIGIN_URL" --var "JWT_SECRET:$SECRET" --var "ASSERTION_SECRET:$ASSERTION_SECRET" \
  --var "LEEWAY_SECONDS:$DEMO_LEEWAY" \
  --var "REVOCATION_URL:$ORIGIN_URL/.well-known/edgegate-revocations" \
  --var "REVOCATION_REFRESH_SECONDS:$DEMO_REVOCATION_REFRESH" </dev/null &
pids+=($!)

for _ in $(seq 1 180); do
  curl -fsS -m 2 -o /dev/null "$GATE_URL/health" 2>/dev/null && break
  sleep 0.5
done
curl -fsS -m 5 -o /dev/null "$GATE_URL/health" || { echo "the gate did not come up on $GATE_URL" >&2; exit 1; }

if [ "$SMOKE" = 1 ]; then
  fail() { echo "smoke: $*" >&2; exit 1; }
  curl() { command curl --max-time 30 "$@"; }
  jar="$tmp/jar"
  code=$(curl -s -o /dev/null -w '%{http_code}' "$GATE_URL/api/me")
  [ "$code" = 401 ] || fail "anonymous request got $code, want 401"
  # A real login through the gate (LOGIN_PATH is public), then the app with the cookies it set.
  code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" \
    --data-urlencode "username=$DEMO_USER" --data-urlencode "password=$DEMO_PASSWORD" \
    --data-urlencode "return_to=/" "$GATE_URL/auth/login")
  [ "$code" = 303 ] || fail "login got $code, want 303"
  body=$(curl -fsS -b "$jar" "$GATE_URL/api/me") || fail "GET /api/me after login failed"
  echo "$body" | grep -q "\"sub\":\"$DEMO_USER\"" || fail "/api/me did not return the user: $body"
  # Around the gate, forged identity headers carry no assertion: refused.
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "x-auth-sub: $DEMO_USER" "$ORIGIN_URL/api/me")
  [ "$code" = 401 ] || fail "the origin accepted a forged x-auth-sub without an assertion ($code)"
  # Rotation, then logout everywhere stops refresh.
  cp "$jar" "$tmp/jar.before"
  code=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" -X POST -H "Origin: $GATE_URL" "$GATE_URL/auth/refresh")
  [ "$code" = 204 ] || fail "refresh got $code, want 204"
  body=$(curl -fsS -H "Cookie: access=$(awk '$6 == "access" { print $7 }' "$tmp/jar.before")" "$GATE_URL/api/me") ||
    fail "the access token before logout-all did not pass the gate"
  body=$(curl -fsS -b "$jar" -c "$jar" -X POST -H "Origin: $GATE_URL" "$GATE_URL/auth/logout-all") ||
    fail "logout-all failed"
  echo "$body" | grep -q '"revoked":1' || fail "logout-all: $body"
  code=$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/jar.before" -X POST -H "Origin: $GATE_URL" "$GATE_URL/auth/refresh")
  [ "$code" = 401 ] || fail "refresh after logout-all got $code, want 401"
  # The access token issued before logout-all is revoked at the gate within seconds, long before
  # its exp (the published revocation list).
  before_access="Cookie: access=$(awk '$6 == "access" { print $7 }' "$tmp/jar.before")"
  revoked=0
  for _ in $(seq 1 60); do
    body=$(curl -s -H "$before_access" "$GATE_URL/api/me")
    case "$body" in *'"error":"token_expired"'*) revoked=1; break ;; esac
    sleep 0.25
  done
  [ "$revoked" = 1 ] || fail "an access token issued before logout-all still passes the gate"
  # An expired token on a navigation is sent to the refresh endpoint.
  EXPIRED="$("$ORIGIN_BIN" mint --secret "$SECRET" --sub "$DEMO_USER" --ttl -3600)"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: access=$EXPIRED" -H 'Sec-Fetch-Mode: navigate' "$GATE_URL/app")
  [ "$code" = 302 ] || fail "expired navigation got $code, want 302"
  echo "dev.sh smoke: ok (login → /api/me → refresh → logout-all → revoked at the gate, through gate $GATE_URL, origin $ORIGIN_URL)"
  exit 0
fi

secure_note="cookies without Secure (demo; DEMO_SECURE_COOKIES=1 keeps it)"
[ "${#cookie_flags[@]}" = 0 ] && secure_note="Secure cookies"
wait_s=$((DEMO_ACCESS_TTL + DEMO_LEEWAY + 1))
cat <<MSG

  edgegate demo is running (local workerd, no Cloudflare account involved)
    gate    $GATE_URL    ← open this
    origin  $ORIGIN_URL    (reference origin; state in $STATE/origin, $secure_note;
                                    identity only with the gate's x-auth-assertion)
    user    $DEMO_USER / $DEMO_PASSWORD
    access tokens live ${DEMO_ACCESS_TTL}s (DEMO_ACCESS_TTL), the gate allows ${DEMO_LEEWAY}s leeway

  In a browser: open $GATE_URL/ → the gate sends you to the login page → sign in → the app
  page shows who you are and counts down to expiry. Untick "refresh automatically", wait until
  the token has expired, reload: the gate redirects to /auth/refresh, which rotates your refresh
  token and sends you back. "Log out everywhere" ends every session of the user: sign in in a
  second browser (or a private window) too, press it in one, and the other is signed out within
  a few seconds — its access token has not expired, the gate refuses it from the origin's
  published revocation list ($ORIGIN_URL/.well-known/edgegate-revocations, pulled every
  ${DEMO_REVOCATION_REFRESH}s: DEMO_REVOCATION_REFRESH).

  With curl (J is a cookie jar):
    J=\$(mktemp)
    curl -i $GATE_URL/api/me                                  # 401 missing_token
    curl -si -c \$J -d username=$DEMO_USER -d password=$DEMO_PASSWORD $GATE_URL/auth/login   # 303 + 2 cookies
    curl -s -b \$J $GATE_URL/api/me                           # {"sub":"$DEMO_USER","claims":{…},"expires_in":…}
    sleep $wait_s; curl -si -b \$J $GATE_URL/api/me           # 401 token_expired (an API call)
    curl -si -b \$J -H 'Accept: text/html' $GATE_URL/api/me   # 302 → /auth/refresh?return_to=%2Fapi%2Fme (a navigation)
    curl -sL -b \$J -c \$J -H 'Accept: text/html' $GATE_URL/api/me   # follows: refresh (rotates) → back → 200
    curl -si -b \$J -c \$J -X POST -H "Origin: $GATE_URL" $GATE_URL/auth/refresh       # 204, new cookies
    curl -s  -b \$J -c \$J -X POST -H "Origin: $GATE_URL" $GATE_URL/auth/logout-all    # {"revoked":N}
  Force expiry instead of waiting (swap in an expired access token signed with the demo secret):
    sed -i "s/\taccess\t.*/\taccess\t\$($ORIGIN_BIN mint --secret \$(cat $STATE/secret) --sub $DEMO_USER --ttl -60)/" \$J

  JWKS (ES256 + Ed25519 keys generated at first start): $ORIGIN_URL/.well-known/jwks.json
  The origin logs one JSON line per auth event below (login, refresh, refresh_token_reuse, …).
  Ctrl-C stops both.
MSG
wait
