# Sourced by the benchmark scripts (bench/run.sh, bench/many/run.sh): a private
# nginx in a temporary directory on free ports of 127.0.0.1, stopped and the
# directory removed on exit, also on a failure, ^C or SIGTERM. The sourcing
# script defines die().
#
#   nginx_start NAME TEMPLATE WWW PORT...
#       makes $dir (mktemp, prefix NAME), fills TEMPLATE's @DIR@, @WWW@, @USER@
#       and @PORT@ (the first port), @PORT_A@ and @PORT_B@ (the first two)
#       into $dir/nginx.conf, starts nginx and waits until every port answers.
#       Workers run as the current user (as root they would run as nobody).
#   free_port
#       prints a port of 127.0.0.1 that is free now.

dir=
nginx_pid=
nginx_cleanup() {
    if [ -n "$nginx_pid" ]; then
        kill "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    [ -z "$dir" ] || rm -rf "$dir"
}
trap nginx_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

nginx_start() { # NAME TEMPLATE WWW PORT...
    name=$1
    template=$2
    www=$3
    shift 3
    dir=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
    user_line=
    if [ "$(id -u)" = 0 ]; then
        user_line="user $(id -un) $(id -gn);"
    fi
    sed -e "s|@DIR@|$dir|g" -e "s|@WWW@|$www|g" -e "s|@USER@|$user_line|" \
        -e "s|@PORT@|$1|g" -e "s|@PORT_A@|$1|g" -e "s|@PORT_B@|${2:-$1}|g" \
        "$template" >"$dir/nginx.conf"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
    nginx_pid=$!
    python3 - "$@" <<'PY' || { cat "$dir/error.log" >&2 2>/dev/null; die "nginx did not start"; }
import socket, sys, time
for port in sys.argv[1:]:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", int(port)), 0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        sys.exit(1)
PY
}
