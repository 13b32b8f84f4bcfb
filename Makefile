# ct-monitor: one non-recursive GNU Makefile.
#
#   make            build every program into $(BUILD)/
#   make check      install what is missing (as root), build, run all tests
#   make check-asan unit tests under ASan+UBSan (BUILD=build-asan)
#   make fuzz       libFuzzer harnesses with clang (BUILD=build-fuzz)
#   make bench      benchmarks
#   make lint format install uninstall clean deps demo

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
CFLAGS   ?= -O2 -g
WERROR   ?=
LDFLAGS  ?=
SHELL    := /bin/bash

VERSION  = 0.1.0
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wcast-qual -Wformat=2 -Wvla
PKGS = wolfssl libuv libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
ALL_CFLAGS = -std=gnu11 $(WARN) $(WERROR) $(CFLAGS) -MMD -MP \
             -include wolfssl/options.h -Icommon -Ipoller -Iagent \
             -Itests/unit -DCT_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
LIBS = $(PKG_LIBS) -lm
# ctctl and check_ct run as a new process per request: with wolfSSL and
# libuv linked in statically, each run skips their dynamic loading and
# symbol binding (about 1 ms of CPU a run on this VM; tests/bench/agent.sh).
# STATIC_LIBS=no links them as shared libraries, so that a distribution's
# wolfSSL security update reaches these two without a rebuild (ct-agent,
# the long-running daemon, always links them as shared libraries).
STATIC_LIBS ?= yes
STATIC_A = $(wildcard $(addprefix $(shell pkg-config --variable=libdir wolfssl 2>/dev/null)/,libwolfssl.a libuv_a.a))
ifeq ($(STATIC_LIBS)$(words $(STATIC_A)),yes2)
CLIENT_LIBS = $(filter-out -lcurl -lwolfssl -luv,$(LIBS)) -Wl,-Bstatic \
              -l:libwolfssl.a -l:libuv_a.a -Wl,-Bdynamic -lpthread -ldl
else
CLIENT_LIBS = $(filter-out -lcurl,$(LIBS))
endif

# Debian packages the build and the tests need (make deps).
DEB_BUILD = build-essential pkg-config libwolfssl-dev libcurl4-openssl-dev \
            libjsmn-dev libuv1-dev check
DEB_TEST  = openssl faketime nginx-light curl python3 clang libclang-rt-14-dev \
            icinga2
DEB_PKGS  = $(DEB_BUILD) $(DEB_TEST)
# The peers the benchmarks measure against (make bench-deps).
DEB_BENCH = nagios-nrpe-server nagios-nrpe-plugin monitoring-plugins-basic \
            monitoring-plugins-contrib bind9-host

# ---------------------------------------------------------------- sources
COMMON_SRC := $(sort $(wildcard common/*.c))
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIB        := $(BUILD)/libctcommon.a

POLLER_MAINS := poller/ctctl.c poller/check_ct.c
POLLER_SRC   := $(filter-out $(POLLER_MAINS),$(sort $(wildcard poller/*.c)))
POLLER_OBJ   := $(POLLER_SRC:%.c=$(BUILD)/%.o)
AGENT_SRC    := $(sort $(wildcard agent/*.c))
AGENT_OBJ    := $(AGENT_SRC:%.c=$(BUILD)/%.o)

PROGS := $(BUILD)/ctctl
ifneq ($(wildcard poller/check_ct.c),)
PROGS += $(BUILD)/check_ct
endif
ifneq ($(AGENT_SRC),)
PROGS += $(BUILD)/ct-agent
endif

# Unit tests: tests/unit/test_<module>.c. DEPS_<module> names the common
# objects a test links (so one module's test does not need every other
# module to build); without it the test links the whole library.
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DEPS_util    = util
DEPS_der     = der util
DEPS_sig     = sig der util
DEPS_cert    = cert sig der util
DEPS_ct      = ct cert sig der util
DEPS_json    = json util
DEPS_loglist = loglist json sig der util
DEPS_names   = names util
DEPS_store   = store cert sig der util
DEPS_scan    = scan store cert sig der util
DEPS_tls     = tls keys der util
DEPS_keys    = keys util
DEPS_proto   = proto keys der util
DEPS_state   = poller/state util
DEPS_conf    = poller/conf keys util
DEPS_agentconf = agent/conf names util
DEPS_agentc  = poller/agentc poller/agentc_certs proto tls keys json der util
DEPS_probe   = poller/probe poller/probejudge poller/probecheck \
               poller/loglistcache poller/http poller/ratelimit poller/state poller/output \
               poller/opts tls keys loglist json ct cert sig der names util
DEPS_loglistcache = poller/loglistcache poller/http poller/ratelimit poller/state \
               tests/unit/fixture_httpd loglist json sig der util
DEPS_crtsh   = poller/crtsh poller/state poller/http poller/ratelimit tests/unit/fixture_httpd \
               json cert sig der names util
DEPS_certspotter = poller/certspotter poller/state poller/http poller/ratelimit \
               tests/unit/fixture_httpd json cert sig der names util
DEPS_output  = poller/output util
DEPS_http    = poller/http poller/ratelimit poller/state util
DEPS_ratelimit = poller/ratelimit poller/state util

FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

INTEG_TESTS := $(sort $(wildcard tests/integration/test_*.sh))

.PHONY: all check check-asan unit integration fuzz fuzz-bins fuzz-smoke \
        bench bench-deps lint format install uninstall clean deps demo tools

all: $(PROGS)

# ---------------------------------------------------------------- build
$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/ctctl: $(BUILD)/poller/ctctl.o $(POLLER_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS)

$(BUILD)/check_ct: $(BUILD)/poller/check_ct.o $(POLLER_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS)

$(BUILD)/ct-agent: $(AGENT_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# A DEPS_ entry with a slash names an object outside common/ (poller/http).
dep_obj = $(if $(findstring /,$(1)),$(BUILD)/$(1).o,$(BUILD)/common/$(1).o)
unit_objs = $(if $(DEPS_$(1)),$(foreach d,$(DEPS_$(1)),$(call dep_obj,$(d))),$(LIB))

.SECONDEXPANSION:
$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $$(call unit_objs,$$*)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LIBS)

# Test tools (not installed): mkct signs SCTs for test PKIs.
TOOLS = $(BUILD)/tests/mkct $(BUILD)/tests/agentpoke
$(BUILD)/tests/mkct: $(BUILD)/tests/tools/mkct.o $(patsubst %,$(BUILD)/common/%.o,ct cert sig der util)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)
# agentpoke sends forged, replayed and malformed requests to an agent.
$(BUILD)/tests/agentpoke: $(BUILD)/tests/tools/agentpoke.o $(patsubst %,$(BUILD)/common/%.o,proto tls keys der util)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# ---------------------------------------------------------------- tests
unit: $(UNIT_BINS) $(TOOLS)

check: deps
	$(MAKE) all unit
	tests/run-tests.sh $(BUILD) $(UNIT_BINS:$(BUILD)/tests/%=%) \
	    $(INTEG_TESTS)

ASAN_FLAGS = -O1 -g -fno-omit-frame-pointer \
             -fsanitize=address,undefined -fno-sanitize-recover=all
# The unit tests, and the integration tests of check_ct and inspect (whose
# programs run under the sanitizers too; the agent's tests use faketime,
# which cannot preload beside ASan, and measure RSS).
ASAN_INTEG = tests/integration/test_inspect.sh \
             tests/integration/test_check_ct.sh \
             tests/integration/test_check_ct_agent.sh
check-asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" \
	    LDFLAGS="-fsanitize=address,undefined" all unit
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    tests/run-tests.sh build-asan $(UNIT_BINS:$(BUILD)/tests/%=%) \
	    $(ASAN_INTEG)

# libFuzzer: clang, the common objects built with fuzzer instrumentation.
FUZZ_FLAGS = -O1 -g -fsanitize=fuzzer-no-link,address,undefined
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="$(FUZZ_FLAGS)" fuzz-bins

# FDEPS_<harness> names the modules a harness links, as DEPS_ for tests.
FDEPS_der     = der util
FDEPS_cert    = cert sig der util
FDEPS_sct     = ct cert sig der util
FDEPS_json    = json util
FDEPS_loglist = loglist json sig der util
FDEPS_names   = names util
FDEPS_frame   = proto keys der util
FDEPS_authkeys = keys util
FDEPS_crtsh   = poller/crtsh poller/state poller/http poller/ratelimit json cert sig der names util
FDEPS_certspotter = poller/certspotter poller/state poller/http poller/ratelimit json cert sig \
                names util der
fuzz_objs = $(if $(FDEPS_$(1)),$(foreach d,$(FDEPS_$(1)),$(call dep_obj,$(d))),$(LIB))

$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $$(call fuzz_objs,$$*)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

fuzz-bins: $(FUZZ_BINS)

# A short run of every harness over its seed corpus.
FUZZ_SECONDS ?= 10
fuzz-smoke: fuzz
	tests/fuzz/smoke.sh build-fuzz $(FUZZ_SECONDS)

bench: all $(TOOLS) bench-deps
	@for b in $(sort $(wildcard tests/bench/*.sh)); do \
	    echo "== $$b"; $$b $(BUILD) || exit 1; done

# ---------------------------------------------------------------- tools
lint:
	cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
	    --suppress=missingIncludeSystem -Icommon common poller agent

format:
	clang-format -i $(wildcard common/*.[ch] poller/*.[ch] agent/*.[ch] \
	    tests/unit/*.[ch] tests/fuzz/*.[ch])

bench-deps:
	$(MAKE) deps DEB_PKGS="$(DEB_BENCH)"

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	        grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all installed"; \
	elif [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $$missing; \
	else echo "deps: missing$$missing; run as root:"; \
	    echo "    apt-get update && apt-get install -y$$missing"; fi

# ---------------------------------------------------------------- install
# make install PREFIX=/usr DESTDIR=...: the programs, their man pages, the
# agent's systemd unit (not enabled), the Icinga config as examples under
# ICINGADIR (not enabled: see README.md) and two sample configs, installed
# only where none exists yet. Nothing else: no users, no keys, no state
# directories. make uninstall removes what install put there except the
# configs under SYSCONFDIR, which the operator may have edited.
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
PLUGINDIR  ?= /usr/lib/nagios/plugins
ICINGADIR  ?= $(PREFIX)/share/icinga2-ct
UNITDIR    ?= /lib/systemd/system
SYSCONFDIR ?= /etc

ICINGA_FILES = icinga/command-ct.conf icinga/templates-ct.conf \
               icinga/example-services.conf icinga/example-zones.conf
# Installed files (mode 0755 for programs, 0644 for the rest) ...
INSTALL_FILES = $(PLUGINDIR)/check_ct $(BINDIR)/ctctl $(SBINDIR)/ct-agent \
                $(MANDIR)/man1/check_ct.1 $(MANDIR)/man1/ctctl.1 \
                $(MANDIR)/man8/ct-agent.8 $(UNITDIR)/ct-agent.service \
                $(addprefix $(ICINGADIR)/,$(notdir $(ICINGA_FILES)))
# ... and configs (0640; SOURCE:DESTINATION), kept when present.
INSTALL_CONFIGS = agent/ct-agent.conf:$(SYSCONFDIR)/ct-agent/ct-agent.conf \
                  poller/ct.conf.sample:$(SYSCONFDIR)/ct/ct.conf

install: all
	install -d $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(ICINGADIR)
	install -m 0755 $(BUILD)/check_ct $(DESTDIR)$(PLUGINDIR)/check_ct
	install -m 0755 $(BUILD)/ctctl $(DESTDIR)$(BINDIR)/ctctl
	install -m 0755 $(BUILD)/ct-agent $(DESTDIR)$(SBINDIR)/ct-agent
	install -m 0644 man/check_ct.1 man/ctctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 agent/ct-agent.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|/usr/sbin/ct-agent|$(SBINDIR)/ct-agent|g' agent/ct-agent.service \
	    >$(DESTDIR)$(UNITDIR)/ct-agent.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/ct-agent.service
	install -m 0644 $(ICINGA_FILES) $(DESTDIR)$(ICINGADIR)/
	@for c in $(INSTALL_CONFIGS); do \
	    src=$${c%%:*}; dst=$(DESTDIR)$${c#*:}; \
	    if [ -e "$$dst" ]; then echo "install: keeping $$dst"; continue; fi; \
	    [ -d "$${dst%/*}" ] || install -d -m 0755 "$${dst%/*}" || exit 1; \
	    echo "install -m 0640 $$src $$dst"; \
	    install -m 0640 "$$src" "$$dst" || exit 1; \
	done

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALL_FILES))
	[ ! -d $(DESTDIR)$(ICINGADIR) ] || \
	    rmdir --ignore-fail-on-non-empty $(DESTDIR)$(ICINGADIR)
	@echo "uninstall: kept $(foreach c,$(INSTALL_CONFIGS),$(DESTDIR)$(lastword $(subst :, ,$(c)))) (configuration)"

tools: $(TOOLS)

# Like check, demo installs what it needs first (nginx, openssl, python3).
demo: deps
	$(MAKE) all tools
	tests/demo.sh $(BUILD)

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
