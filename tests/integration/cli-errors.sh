#!/bin/sh
# petrel's command-line errors: every bad value gives a non-zero status and a
# message naming it. Needs no /dev/kvm.
set -u
petrel=$1
fails=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# expect STATUS TEXT ARGS... — STATUS "nz" means any non-zero status.
expect() {
	want=$1 text=$2
	shift 2
	timeout 30 "$petrel" "$@" >"$tmp" 2>&1 </dev/null
	got=$?
	ok=1
	if [ "$want" = nz ]; then
		[ "$got" != 0 ] || ok=0
	else
		[ "$got" = "$want" ] || ok=0
	fi
	grep -qF -- "$text" "$tmp" || ok=0
	if [ $ok = 1 ]; then
		echo "ok:   petrel $* -> $got"
	else
		echo "FAIL: petrel $* -> status $got (want $want), output:"
		sed 's/^/      /' "$tmp"
		echo "      (expected to contain: $text)"
		fails=$((fails + 1))
	fi
}

expect 0 "Usage: petrel" --help
expect 0 "petrel 0." --version
expect 0 "--kernel-format" run --help
expect 2 "unknown command 'frobnicate'" frobnicate
expect 2 "Usage: petrel"
expect 2 "unknown option '--bogus'" run --bogus
expect 2 "--mem: missing value" run --mem
expect 2 "--mem 0:" run --mem 0
expect 2 "--mem abc: not a number" run --mem abc
expect 2 "--mem -1" run --mem -1
expect 1 "the host has" run --mem 1000000
expect 2 "--cpus 0: must be 1 to 64" run --cpus 0
expect 2 "--cpus 65: must be 1 to 64" run --cpus 65
expect 2 "--cpus x: not a number" run --cpus x
expect 2 "--accel tcg: unknown engine" run --accel tcg
expect 2 "--serial telnet:" run --serial telnet
expect 2 "--kernel-format pe: unknown format" run --kernel-format pe
expect 2 "--load-addr 0x1234:" run --load-addr 0x1234
expect 2 "unexpected argument 'extra'" run extra
expect 1 "--kernel /nonexistent/kernel: No such file or directory" \
	run --kernel /nonexistent/kernel
expect 1 "--initrd /nonexistent/initrd: No such file or directory" \
	run --kernel /dev/null --initrd /nonexistent/initrd
if [ ! -e /dev/kvm ]; then
	expect 1 "--accel kvm: /dev/kvm: No such file or directory" run --accel kvm
fi

# Without --kernel and without a built Debian default guest: the demo guest
# under auto greets us, or petrel says why no engine can run it. (The Debian
# guest, when <build>/guest exists, is the linux suite's business.)
PETREL_GUEST_DIR=/nonexistent timeout 60 "$petrel" run --serial stdio >"$tmp" 2>&1 </dev/null
st=$?
if [ $st = 0 ] && grep -q "Hello from the Petrel demo guest" "$tmp" &&
	grep -q "no Debian default guest in /nonexistent" "$tmp"; then
	echo "ok:   petrel run (demo guest ran)"
elif [ $st != 0 ] && grep -q "no engine can run this guest here" "$tmp"; then
	echo "ok:   petrel run -> $st: $(cat "$tmp")"
else
	echo "FAIL: petrel run -> $st:"
	cat "$tmp"
	fails=$((fails + 1))
fi

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo PASS
