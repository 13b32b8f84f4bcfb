#!/usr/bin/env bash
# make install / make uninstall into a DESTDIR: every file where README.md
# says, with its mode (programs 0755, man pages, unit and Icinga files
# 0644, configs 0640, keys made by the installed ctctl 0600), nothing
# else; a second install keeps an edited config; uninstall removes
# everything but the configs and keys.
set -u
build=${1:-build}
. tests/integration/lib.sh

d=$T/root
# listing DIR: "MODE TYPE PATH" for everything but directories, sorted.
listing() {
	(cd "$1" && find . ! -type d -printf '%m %y %P\n' | sort -k3)
}
check() {
	if [ "$2" = "$3" ]; then ok; else
		fails=$((fails + 1)); echo "FAIL: $1"
		diff <(echo "$3") <(echo "$2") | sed 's/^/  /'; fi
}

run make -s install BUILD="$build" DESTDIR="$d" PREFIX=/usr
expect_status 0
[ "$last_status" -eq 0 ] || { finish; exit 1; }
want_files="755 f usr/lib/nagios/plugins/check_ct
755 f usr/bin/ctctl
755 f usr/sbin/ct-agent
644 f usr/share/man/man1/check_ct.1
644 f usr/share/man/man1/ctctl.1
644 f usr/share/man/man8/ct-agent.8
644 f lib/systemd/system/ct-agent.service
644 f usr/share/icinga2-ct/command-ct.conf
644 f usr/share/icinga2-ct/example-services.conf
644 f usr/share/icinga2-ct/example-zones.conf
644 f usr/share/icinga2-ct/templates-ct.conf
640 f etc/ct-agent/ct-agent.conf
640 f etc/ct/ct.conf"
check "installed files and modes" "$(listing "$d")" \
    "$(sort -k3 <<<"$want_files")"

# What was installed is what was built and written.
for p in "$build/check_ct:usr/lib/nagios/plugins/check_ct" \
    "$build/ctctl:usr/bin/ctctl" "$build/ct-agent:usr/sbin/ct-agent" \
    man/check_ct.1:usr/share/man/man1/check_ct.1 \
    man/ctctl.1:usr/share/man/man1/ctctl.1 \
    agent/ct-agent.8:usr/share/man/man8/ct-agent.8 \
    agent/ct-agent.conf:etc/ct-agent/ct-agent.conf \
    poller/ct.conf.sample:etc/ct/ct.conf \
    icinga/command-ct.conf:usr/share/icinga2-ct/command-ct.conf; do
	if cmp -s "${p%%:*}" "$d/${p#*:}"; then ok; else
		fails=$((fails + 1)); echo "FAIL: $d/${p#*:} differs from ${p%%:*}"; fi
done
# The unit starts the installed agent (PREFIX=/usr: the path as written).
check "unit as shipped for PREFIX=/usr" \
    "$(cmp -s agent/ct-agent.service "$d/lib/systemd/system/ct-agent.service" && echo same)" same
if grep -q '^ExecStart=/usr/sbin/ct-agent' "$d/lib/systemd/system/ct-agent.service"
then ok; else fails=$((fails + 1)); echo "FAIL: the unit's ExecStart is not /usr/sbin/ct-agent"; fi

# The installed programs run.
run "$d/usr/lib/nagios/plugins/check_ct" --version
expect_status 3
expect_out "check_ct "
run "$d/usr/bin/ctctl" --version
expect_status 0
# The sample poller config parses (every line a comment).
run "$d/usr/bin/ctctl" agent web1.example.org info --config "$d/etc/ct/ct.conf"
expect_status 1
expect_err "is not in $d/etc/ct/ct.conf"
# The man pages render without warnings.
if command -v man >/dev/null; then
	for m in usr/share/man/man1/check_ct.1 usr/share/man/man1/ctctl.1 \
	    usr/share/man/man8/ct-agent.8; do
		w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$d/$m" 2>&1 >/dev/null)
		check "man $m: no warnings" "$w" ""
	done
fi

# Keys, as README.md makes them, with the installed ctctl: 0600 and 0644.
run "$d/usr/bin/ctctl" keygen -o "$d/etc/ct/poller.key"
expect_status 0
check "key modes" "$(listing "$d/etc/ct")" "640 f ct.conf
600 f poller.key
644 f poller.key.pub"

# A second install keeps an edited config, and its mode.
echo "key = /etc/ct/poller.key # edited" >>"$d/etc/ct/ct.conf"
chmod 0600 "$d/etc/ct-agent/ct-agent.conf"
cp "$d/etc/ct/ct.conf" "$T/edited.conf"
run make -s install BUILD="$build" DESTDIR="$d" PREFIX=/usr
expect_status 0
expect_out "keeping $d/etc/ct/ct.conf"
expect_out "keeping $d/etc/ct-agent/ct-agent.conf"
check "edited config kept" "$(cmp -s "$T/edited.conf" "$d/etc/ct/ct.conf" && echo kept)" kept
check "edited config's mode kept" "$(stat -c %a "$d/etc/ct-agent/ct-agent.conf")" 600

# Uninstall: only the configs and the keys are left, and no directory
# of our own.
run make -s uninstall BUILD="$build" DESTDIR="$d" PREFIX=/usr
expect_status 0
expect_out "kept"
check "left after uninstall" "$(listing "$d")" "600 f etc/ct-agent/ct-agent.conf
640 f etc/ct/ct.conf
600 f etc/ct/poller.key
644 f etc/ct/poller.key.pub"
check "share/icinga2-ct removed" "$([ -e "$d/usr/share/icinga2-ct" ] && echo left || echo gone)" gone
# A second uninstall is harmless.
run make -s uninstall BUILD="$build" DESTDIR="$d" PREFIX=/usr
expect_status 0

# PREFIX=/usr/local: programs and man pages move, the plugin stays in the
# ITL's PluginDir, the unit starts the agent where it now is.
d2=$T/local
run make -s install BUILD="$build" DESTDIR="$d2" PREFIX=/usr/local
expect_status 0
check "PREFIX=/usr/local" "$(listing "$d2" | awk '{print $3}')" "$(sort <<EOF
etc/ct-agent/ct-agent.conf
etc/ct/ct.conf
lib/systemd/system/ct-agent.service
usr/lib/nagios/plugins/check_ct
usr/local/bin/ctctl
usr/local/sbin/ct-agent
usr/local/share/icinga2-ct/command-ct.conf
usr/local/share/icinga2-ct/example-services.conf
usr/local/share/icinga2-ct/example-zones.conf
usr/local/share/icinga2-ct/templates-ct.conf
usr/local/share/man/man1/check_ct.1
usr/local/share/man/man1/ctctl.1
usr/local/share/man/man8/ct-agent.8
EOF
)"
if grep -q '^ExecStart=/usr/local/sbin/ct-agent' "$d2/lib/systemd/system/ct-agent.service" &&
    ! grep -q '/usr/sbin/ct-agent' "$d2/lib/systemd/system/ct-agent.service"
then ok; else fails=$((fails + 1)); echo "FAIL: PREFIX=/usr/local: the unit does not start /usr/local/sbin/ct-agent"; fi
run make -s uninstall BUILD="$build" DESTDIR="$d2" PREFIX=/usr/local
expect_status 0
check "PREFIX=/usr/local: left after uninstall" "$(listing "$d2" | awk '{print $3}')" \
    "etc/ct-agent/ct-agent.conf
etc/ct/ct.conf"
finish
