#!/bin/sh
# Run one test guest under petrel and check its serial output and exit status.
# Usage: run-guest.sh ENGINE PETREL GUEST EXPECT_STATUS EXPECT_TEXT [PETREL RUN ARGS...]
# EXPECT_TEXT is looked for in the serial output, or in petrel's stderr when
# it starts with "stderr:".
# Exits 77 (meson's "skipped") with the reason when the engine cannot run here.
set -u
engine=$1 petrel=$2 guest=$3 want_status=$4 want_text=$5
shift 5

case $engine in
kvm)
	if [ ! -e /dev/kvm ]; then
		echo "SKIP: /dev/kvm does not exist on this host"
		exit 77
	fi
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		echo "SKIP: /dev/kvm is not accessible to this user"
		exit 77
	fi
	;;
esac

out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
timeout 120 "$petrel" run --accel "$engine" --kernel "$guest" --serial stdio "$@" \
	>"$out" 2>"$err" </dev/null
status=$?

# The engine declined this host or this guest: a skip, not a failure.
if grep -q -e "--accel $engine:" -e "cannot run guests" "$err"; then
	echo "SKIP: $(head -n 1 "$err")"
	exit 77
fi

echo "--- serial output"
cat "$out"
echo "--- stderr"
cat "$err"
echo "--- exit status $status (want $want_status)"
if [ "$status" = 124 ]; then
	echo "FAIL: timed out"
	exit 1
fi
if [ "$status" != "$want_status" ]; then
	echo "FAIL: exit status $status, expected $want_status"
	exit 1
fi
where=$out
case $want_text in
stderr:*)
	want_text=${want_text#stderr:}
	where=$err
	;;
esac
if ! grep -qF -- "$want_text" "$where"; then
	echo "FAIL: output lacks '$want_text'"
	exit 1
fi
echo "PASS"
