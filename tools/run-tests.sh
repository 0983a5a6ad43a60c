#!/usr/bin/env bash
# Run every test: the normal build (unit, integration, CPU differential
# tester), then the unit tests again under ASan+UBSan, then each fuzz target
# briefly. Long fuzzing and soak runs are opt-in (see README).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh

[ -d build ] || meson setup build
ninja -C build
meson test -C build --print-errorlogs --num-processes 2

[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
ninja -C build-asan
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --suite unit --print-errorlogs --num-processes 2

[ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false \
	-Db_sanitize=address,undefined -Db_lundef=false
ninja -C build-fuzz
shopt -s nullglob
for f in build-fuzz/tests/fuzz/fuzz_*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	echo "fuzz: $(basename "$f") for 10 s"
	"$f" -max_total_time=10 -print_final_stats=0 >/dev/null 2>build-fuzz/"$(basename "$f")".log ||
		{ tail -40 build-fuzz/"$(basename "$f")".log; exit 1; }
done
echo "all test stages passed"
