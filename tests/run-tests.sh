#!/usr/bin/env bash
# Runs unit test binaries (names under BUILD/tests/) and integration
# scripts (paths ending in .sh); exit 77 means skipped. Prints one summary
# line "N passed, N failed, N skipped" and exits non-zero on any failure.
set -u
build=$1
shift
pass=0 fail=0 skip=0 failed=()
for t in "$@"; do
	case $t in
	*.sh) cmd=("$t" "$build") name=$t ;;
	*) cmd=("$build/tests/$t") name=$t ;;
	esac
	echo "=== $name"
	"${cmd[@]}"
	rc=$?
	case $rc in
	0) pass=$((pass + 1)) ;;
	77) skip=$((skip + 1)); echo "--- $name: skipped" ;;
	*) fail=$((fail + 1)); failed+=("$name"); echo "--- $name: FAILED ($rc)" ;;
	esac
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
