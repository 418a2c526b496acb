# bench/relay.sh — the relay path of bench/run (sourced by it; uses its helpers: pick_port,
# wait_port, cpu_ticks, mem_kib, sample_mem, background_busy, alive, say, now, fmt).
# postern, Postfix and OpenSMTPD each relay to an smtp-sink on loopback (relayhost
# [127.0.0.1]:SINK_PORT, no TLS, no AUTH). Every run starts a fresh instance with an empty queue
# and, when the sink is up, a fresh smtp-sink (its counter starts at 0), so nothing left over from
# one run is counted in the next. Results are records (bench/report.py) appended to $REC.

RELAY_SCENARIOS=${RELAY_SCENARIOS:-down:reuse20,down:reuse100,up:reuse1,up:reuse20,up:reuse100,up:conn20}
RELAY_MSGS=${RELAY_MSGS:-2000}
RELAY_SIZE=${RELAY_SIZE:-2048}
RELAY_IDLE=${RELAY_IDLE:-10000}            # idle connections held open
RELAY_DELIVER_TIMEOUT=${RELAY_DELIVER_TIMEOUT:-30}
RELAY_LOAD_TIMEOUT=${RELAY_LOAD_TIMEOUT:-40}   # per load run: a slow server sends fewer messages
PF_SMTPD_MAXPROC=${BENCH_PF_MAXPROC:-2000} # Postfix: one smtpd process per connection (see README)
CEIL_MSGS=${CEIL_MSGS:-20000}
LOGBATCH_SECS=${LOGBATCH_SECS:-5}
OSMTPD_ROOT=                               # the extracted package, once set up
OSMTPD_WHY=                                # why OpenSMTPD cannot run, when it cannot

rec() {   # rec KIND key=value... (values: no tabs, no newlines)
    local IFS=$'\t'
    printf '%s\n' "$*" >> "$REC"
}

# ---------------------------------------------------------------- tools

build_tools() {
    local t
    for t in smtpload logbatch; do
        cc -std=c11 -O2 -Wall -Wextra -Werror -o "$WORK/$t" "$BENCH/$t.c"
    done
}

# OpenSMTPD from Debian's package, without installing it (it conflicts with postfix): the .deb is
# downloaded with apt-get download and unpacked with dpkg -x under the work directory. Its
# libraries are installed normally when missing. Sets OSMTPD_ROOT, or OSMTPD_WHY when impossible.
setup_opensmtpd() {
    local d=$WORK/opensmtpd-pkg deb missing=() dep lib
    mkdir -p "$d"
    if ! (cd "$d" && apt-get download opensmtpd >/dev/null 2>&1); then
        (apt-get update >/dev/null 2>&1 && cd "$d" && apt-get download opensmtpd >/dev/null 2>&1) ||
            { OSMTPD_WHY="apt-get download opensmtpd failed"; return 1; }
    fi
    deb=$(ls "$d"/opensmtpd_*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || { OSMTPD_WHY="no opensmtpd .deb downloaded"; return 1; }
    # its Depends that are libraries (lib*), installed normally when missing; the rest
    # (adduser, ed, lsb-base, debconf) are only for its maintainer scripts, which never run here
    for dep in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//' | tr -d ' '); do
        case $dep in lib*|zlib*) dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q "install ok installed" || missing+=("$dep") ;; esac
    done
    if (( ${#missing[@]} )); then
        say "installing OpenSMTPD's libraries: ${missing[*]}"
        "$ROOT/scripts/install-deps" "${missing[@]}" >/dev/null || { OSMTPD_WHY="could not install ${missing[*]}"; return 1; }
    fi
    dpkg -x "$deb" "$d/root"
    lib=$(ldd "$d/root/usr/sbin/smtpd" 2>&1 | grep 'not found' | head -1 || true)
    [ -z "$lib" ] || { OSMTPD_WHY="smtpd: $lib"; return 1; }
    # Debian builds it with the users opensmtpd and opensmtpq (not OpenBSD's _smtpd/_smtpq);
    # it refuses to start without them. Created here as system users without a home or shell.
    for u in opensmtpd opensmtpq; do
        getent passwd "$u" >/dev/null ||
            useradd --system --no-create-home --home-dir /var/lib/opensmtpd/empty \
                --shell /usr/sbin/nologin --user-group "$u" ||
            { OSMTPD_WHY="cannot create user $u"; return 1; }
    done
    # The paths are compiled in: the queue /var/spool/smtpd, the chroot /var/lib/opensmtpd/empty,
    # the control socket and pid file under /var/run. Each instance runs in a private mount
    # namespace (unshare -m) with a work directory bind-mounted over /var/spool/smtpd and another
    # over /run; the two mount points are created (empty) when missing.
    mkdir -p /var/spool/smtpd /var/lib/opensmtpd/empty
    unshare -m --propagation private true 2>/dev/null || { OSMTPD_WHY="unshare -m (a private mount namespace) is not permitted here"; return 1; }
    OSMTPD_ROOT=$d/root
    OSMTPD_VERSION=$(dpkg-deb -f "$deb" Version)
}

# ---------------------------------------------------------------- the sink

SINK_PID=
sink_start() {   # a fresh smtp-sink on $SINK_PORT; its running counters go to $SINK_OUT
    SINK_OUT=$WORK/sink.$1.out
    smtp-sink -u postfix -c -m 1000 "127.0.0.1:$SINK_PORT" 1000 > "$SINK_OUT" 2>&1 &
    SINK_PID=$!
    wait_port "$SINK_PORT" 10 || { echo "bench: smtp-sink did not start" >&2; cat "$SINK_OUT" >&2; return 1; }
}
sink_stop() {
    [ -n "$SINK_PID" ] || return 0
    kill -TERM "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
    SINK_PID=
    for _ in $(seq 50); do [ -z "$(ss -Hltn "sport = :$SINK_PORT")" ] && break; sleep 0.1; done
}
sink_count() {   # messages the sink has received (its last "mesg=N" counter)
    local c
    c=$(tail -c 300 "$SINK_OUT" 2>/dev/null | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -1)
    echo "${c#mesg=}" | grep -E '^[0-9]+$' || echo 0
}

# ---------------------------------------------------------------- the servers

RELAY_N=0
relay_start() {   # relay_start SERVER: a fresh instance; sets SRV_ROOT SRV_PORT SRV_DIR
    RELAY_N=$((RELAY_N + 1))
    SRV_DIR=$WORK/relay-$1-$RELAY_N
    mkdir -p "$SRV_DIR"; chmod 755 "$SRV_DIR"
    SRV_PORT=$(pick_port)
    "relay_start_$1"
}
relay_stop() { "relay_stop_$1"; }

relay_start_postern() {
    local d=$SRV_DIR
    cp "$POSTERN_BIN" "$d/postern"
    cat > "$d/postern.cf" <<EOF
listen = smtp://127.0.0.1:$SRV_PORT
queue_directory = spool
default_transport = smtp
relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = none
mynetworks = 127.0.0.0/8
smtpd_client_connection_count_limit = 0
smtpd_max_connections = 20000
EOF
    (cd "$d" && exec ./postern serve -c postern.cf) >"$d/postern.log" 2>&1 &
    SRV_ROOT=$!
    if ! wait_port "$SRV_PORT" 10 || ! kill -0 "$SRV_ROOT" 2>/dev/null; then
        echo "bench: postern (relay) did not start:" >&2; tail -20 "$d/postern.log" >&2
        relay_stop_postern; return 1
    fi
}
relay_stop_postern() {
    kill -TERM "$SRV_ROOT" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SRV_ROOT" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$SRV_ROOT" 2>/dev/null || true
    wait "$SRV_ROOT" 2>/dev/null || true
}

relay_start_postfix() {
    local d=$SRV_DIR
    mkdir -p "$d/conf"; mkdir -m 755 "$d/spool"; mkdir -m 700 "$d/data"; chown postfix "$d/data"
    cat > "$d/conf/main.cf" <<EOF
# postern bench: a private Postfix instance on 127.0.0.1:$SRV_PORT relaying to smtp-sink
compatibility_level = 3.6
config_directory = $d/conf
queue_directory = $d/spool
data_directory = $d/data
maillog_file = $d/postfix.log
maillog_file_prefixes = $d
myhostname = bench.localdomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_client_connection_count_limit = 0
smtpd_peername_lookup = no
biff = no
alias_maps =
alias_database =
relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = none
EOF
    # master.cf from the package: smtpd on our port with maxproc $PF_SMTPD_MAXPROC, other inet
    # services off, no chroot
    awk -v port="$SRV_PORT" -v maxproc="$PF_SMTPD_MAXPROC" '
        /^[^#[:space:]]/ { off = 0
            if ($2 == "inet") { if ($1 == "smtp") { sub(/^smtp/, "127.0.0.1:" port); $7 = maxproc } else off = 1 } }
        /^[[:space:]]/ && off { print "#" $0; next }
        off { print "#" $0; next }
        { print }' /etc/postfix/master.cf > "$d/conf/master.cf"
    postconf -c "$d/conf" -F '*/*/chroot=n'
    PF_CONF=$d/conf
    postfix -c "$PF_CONF" check >/dev/null 2>&1 || postfix -c "$PF_CONF" set-permissions >/dev/null 2>&1 || true
    if ! postfix -c "$PF_CONF" start >/dev/null 2>&1 || ! wait_port "$SRV_PORT" 10; then
        echo "bench: Postfix (relay) did not start:" >&2; tail -20 "$d/postfix.log" >&2 2>/dev/null
        return 1
    fi
    SRV_ROOT=$(tr -d ' ' < "$d/spool/pid/master.pid")
    sleep 1      # let qmgr and pickup settle
}
relay_stop_postfix() {
    postfix -c "$PF_CONF" stop >/dev/null 2>&1 || true
    for _ in $(seq 100); do alive "$SRV_ROOT" || break; sleep 0.1; done
    alive "$SRV_ROOT" && postfix -c "$PF_CONF" abort >/dev/null 2>&1
    PF_CONF=
}

relay_start_opensmtpd() {
    local d=$SRV_DIR
    mkdir -p "$d/spool" "$d/run"; chmod 711 "$d/spool"
    # OpenSMTPD looks up every client's PTR before it greets (nothing turns that off), and its
    # resolver (libasr) asks DNS before /etc/hosts by default: with this machine's resolver that
    # held greetings for seconds. In its namespace /etc/resolv.conf says "lookup file", so
    # /etc/hosts answers for 127.0.0.1 at once, as smtpd_peername_lookup = no does for Postfix
    # (postern does no lookups). The relay host is an address: no DNS needed.
    printf 'lookup file\n' > "$d/resolv.conf"
    cat > "$d/smtpd.conf" <<EOF
# postern bench: OpenSMTPD on 127.0.0.1:$SRV_PORT relaying everything to smtp-sink
smtp limit max-mails 1000000
listen on 127.0.0.1 port $SRV_PORT
action "relay" relay host smtp://127.0.0.1:$SINK_PORT
match from any for any action "relay"
EOF
    # -d: foreground, log to stderr; the shell execs smtpd, so $! is smtpd's parent process
    unshare -m --propagation private sh -c "mount --bind '$d/spool' /var/spool/smtpd &&
        mount --bind '$d/run' /run && mount --bind '$d/resolv.conf' /etc/resolv.conf && exec '$OSMTPD_ROOT/usr/sbin/smtpd' -d -f '$d/smtpd.conf'" \
        > "$d/smtpd.log" 2>&1 &
    SRV_ROOT=$!
    if ! wait_port "$SRV_PORT" 10 || ! kill -0 "$SRV_ROOT" 2>/dev/null; then
        echo "bench: OpenSMTPD did not start:" >&2; tail -20 "$d/smtpd.log" >&2
        relay_stop_opensmtpd; return 1
    fi
    sleep 0.5
}
relay_stop_opensmtpd() {
    kill -TERM "$SRV_ROOT" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SRV_ROOT" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SRV_ROOT" 2>/dev/null || true
    wait "$SRV_ROOT" 2>/dev/null || true
}

# ---------------------------------------------------------------- measurements

# relay_idle SERVER: idle memory, then RSS/PSS with $RELAY_IDLE idle connections (sink stopped)
relay_idle() {
    local srv=$1 out pid line limit=""
    relay_start "$srv" || return 1
    rec mem "srv=$srv" "idle_rss=$(mem_kib "$SRV_ROOT" VmRSS)" "idle_pss=$(mem_kib "$SRV_ROOT" Pss)"
    out=$WORK/idle.$srv.out
    : > "$out"
    "$WORK/smtpload" -p "$SRV_PORT" -i "$RELAY_IDLE" -t "$IDLE_TIMEOUT" -H $((IDLE_TIMEOUT + 60)) > "$out" 2>&1 &
    pid=$!
    local end=$(( $(date +%s) + IDLE_TIMEOUT + 10 ))
    while ! grep -q '^open=' "$out" && [ "$(date +%s)" -le "$end" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    sleep 1                                    # the server's side of the last accepts settles
    line=$(grep -m1 '^open=' "$out" || echo 'open=0 greeted=0 error="no summary"')
    local rss pss
    rss=$(mem_kib "$SRV_ROOT" VmRSS) pss=$(mem_kib "$SRV_ROOT" Pss)
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    local open greeted err
    open=$(sed -n 's/.*open=\([0-9]*\).*/\1/p' <<<"$line")
    greeted=$(sed -n 's/.*greeted=\([0-9]*\).*/\1/p' <<<"$line")
    err=$(sed -n 's/.*error="\(.*\)"/\1/p' <<<"$line")
    case $srv in
    postern) limit="smtpd_max_connections = 20000, open files $(ulimit -n)" ;;
    postfix) limit="smtpd maxproc $PF_SMTPD_MAXPROC in master.cf (one process per connection)" ;;
    opensmtpd) limit="sessions bounded by its open-files limit $(ulimit -n) (about half of it)" ;;
    esac
    rec idle "srv=$srv" "want=$RELAY_IDLE" "open=${open:-0}" "greeted=${greeted:-0}" "rss=$rss" "pss=$pss" "limit=$limit" "error=$err"
    say "$srv: $RELAY_IDLE idle connections: ${greeted:-0} greeted, RSS $(mib "$rss") MiB, PSS $(mib "$pss") MiB"
    relay_stop "$srv"
}

# relay_run SERVER SINK(up|down) SCENARIO: one load run on a fresh instance
relay_run() {
    local srv=$1 sink=$2 scen=$3 sess conn="" bg flag sample sampler c0 c1 t0 t1 t2 line sent delivered=0
    case $scen in
    reuse*) sess=${scen#reuse} ;;
    conn*) sess=${scen#conn} conn=-c ;;
    esac
    local tag=$srv.$sink.$scen
    if [ "$sink" = up ]; then sink_start "$tag" || return 1; fi
    if ! relay_start "$srv"; then sink_stop; return 1; fi
    sync
    for _ in 1 2 3 4 5; do bg=$(background_busy); (( bg <= 15 )) && break; done
    (( bg > BG_MAX )) && BG_MAX=$bg
    flag=$WORK/$tag.sampling sample=$WORK/$tag.peak
    : > "$flag"; echo "0 0" > "$sample"
    sample_mem "$SRV_ROOT" "$flag" "$sample" &
    sampler=$!
    c0=$(cpu_ticks "$SRV_ROOT")
    t0=$(now)
    # shellcheck disable=SC2086
    line=$("$WORK/smtpload" -p "$SRV_PORT" -s "$sess" $conn -m "$RELAY_MSGS" -l "$RELAY_SIZE" \
        -L "$WORK/$tag.lat" -t "$RELAY_LOAD_TIMEOUT" 2>&1 | tail -1) || true
    t1=$(now)
    sent=$(sed -n 's/^sent=\([0-9]*\).*/\1/p' <<<"$line")
    local err el
    err=$(sed -n 's/.*error="\(.*\)"/\1/p' <<<"$line")
    el=$(sed -n 's/.*elapsed=\([0-9.]*\).*/\1/p' <<<"$line")
    if [ "$sink" = up ]; then
        local end=$(( $(date +%s) + RELAY_DELIVER_TIMEOUT ))
        delivered=$(sink_count)
        while (( delivered < ${sent:-0} )) && [ "$(date +%s)" -le "$end" ] && kill -0 "$SRV_ROOT" 2>/dev/null; do
            sleep 0.05
            delivered=$(sink_count)
        done
    fi
    t2=$(now)
    c1=$(cpu_ticks "$SRV_ROOT")
    rm -f "$flag"; wait "$sampler" 2>/dev/null || true
    local prss ppss
    read -r prss ppss < "$sample"
    rec run "srv=$srv" "scen=$scen" "sink=$sink" "sessions=$sess" "conn=$([ -n "$conn" ] && echo 1 || echo 0)" \
        "msgs=$RELAY_MSGS" "sent=${sent:-0}" "accept_s=${el:-$(fmt '%.3f' "$t1 - $t0")}" "delivered=$delivered" \
        "e2e_s=$(fmt '%.3f' "$t2 - $t0")" "cpu_ticks=$((c1 - c0))" "hz=$HZ" "lat=$WORK/$tag.lat" \
        "peak_rss=$prss" "peak_pss=$ppss" "bg=$bg" "ungreeted=$(sed -n 's/.*ungreeted=\([0-9]*\).*/\1/p' <<<"$line")" "error=$err"
    say "$srv relay, sink $sink, $scen: sent ${sent:-0}/$RELAY_MSGS in ${el:-?} s$([ "$sink" = up ] && echo ", sink counted $delivered after $(fmt '%.2f' "$t2 - $t0") s"), background CPU ${bg}%${err:+, client: $err}"
    relay_stop "$srv"
    sink_stop
}

# The machine's ceilings: the SMTP client straight into smtp-sink (no server, no disk), and the
# disk's group-commit log-append rate in the work directory (the queues' file system).
relay_ceilings() {
    local t0 t1 line
    sink_start ceiling-source || return 1
    t0=$(now)
    timeout "$LOAD_TIMEOUT" smtp-source -s 20 -d -m "$CEIL_MSGS" -l "$RELAY_SIZE" -M bench.localdomain \
        -f bench@example.com -t sink@example.org "127.0.0.1:$SINK_PORT" >/dev/null 2>&1 || true
    t1=$(now)
    rec ceiling "name=smtp-source" "rate=$(fmt '%.0f' "$CEIL_MSGS / ($t1 - $t0)")" "unit=msgs/s" \
        "note=smtp-source -s 20 -d (20 sessions, connection reuse) → smtp-sink, $CEIL_MSGS × $RELAY_SIZE B, no server, no disk"
    sink_stop
    sink_start ceiling-smtpload || return 1
    line=$("$WORK/smtpload" -p "$SINK_PORT" -s 20 -m "$CEIL_MSGS" -l "$RELAY_SIZE" -L "$WORK/ceiling.lat" -t "$LOAD_TIMEOUT" | tail -1) || true
    local el p50 p99
    el=$(sed -n 's/.*elapsed=\([0-9.]*\).*/\1/p' <<<"$line")
    read -r p50 p99 < <(/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import report as r
v = [int(x) for x in open(sys.argv[2]) if x.strip()]
print(r.percentile(v, 50), r.percentile(v, 99))' "$BENCH" "$WORK/ceiling.lat")
    rec ceiling "name=smtpload" "rate=$(fmt '%.0f' "$CEIL_MSGS / ${el:-1}")" "unit=msgs/s" "p50_us=$p50" "p99_us=$p99" \
        "note=bench/smtpload (the relay runs' client) -s 20 → smtp-sink, $CEIL_MSGS × $RELAY_SIZE B"
    sink_stop
    line=$("$WORK/logbatch" "$WORK/logbatch.file" "$LOGBATCH_SECS" 20 2048 256 | tail -1) || true
    rec ceiling "name=logbatch" "rate=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$line")" "unit=records/s" \
        "note=the disk's log-append rate: batches of 20 × 2 KiB records, one write + one fdatasync per batch, to a preallocated zero-filled file in the work directory, ${LOGBATCH_SECS} s (bench/logbatch)"
    say "ceilings: $(grep -c '^ceiling' "$REC") measured"
}

# relay_all SERVERS: everything above, for each server in turn
relay_all() {
    local srv s
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true      # the servers and the idle client inherit it
    build_tools
    SINK_PORT=$(pick_port)
    IDLE_TIMEOUT=${IDLE_TIMEOUT:-30}
    say "relay: ceilings"
    relay_ceilings
    for srv in ${RELAY_SERVERS//,/ }; do
        if [ "$srv" = opensmtpd ] && [ -z "$OSMTPD_ROOT" ] && ! setup_opensmtpd; then
            rec server "srv=opensmtpd" "status=not run: $OSMTPD_WHY"
            say "OpenSMTPD not run: $OSMTPD_WHY"
            continue
        fi
        case $srv in
        postern) rec server "srv=postern" "status=ok" "desc=$POSTERN_DESC; relayhost = [127.0.0.1]:PORT, smtp_tls_security_level = none, smtpd_max_connections = 20000" ;;
        postfix) rec server "srv=postfix" "status=ok" "desc=$(dpkg-query -W -f '${Version}' postfix); relayhost = [127.0.0.1]:PORT, smtp_tls_security_level = none, smtpd maxproc $PF_SMTPD_MAXPROC, otherwise defaults (default_destination_concurrency_limit 20)" ;;
        opensmtpd) rec server "srv=opensmtpd" "status=ok" "desc=$OSMTPD_VERSION (Debian package, extracted with dpkg -x, run in a private mount namespace); action relay host smtp://127.0.0.1:PORT, smtp limit max-mails 1000000, otherwise defaults" ;;
        esac
        say "relay: $srv"
        relay_idle "$srv" || say "$srv: idle-connections run failed"
        for s in ${RELAY_SCENARIOS//,/ }; do
            relay_run "$srv" "${s%%:*}" "${s#*:}" || say "$srv ${s}: run failed"
        done
    done
}
