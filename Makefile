# postern — GNU Makefile. `make run` and `make test` are the two commands.
SHELL := /bin/bash
CC ?= cc
PREFIX ?= /usr/local
CONFIG ?=

RUN_DEPS  := gcc make pkg-config libevent-dev libssl-dev libc-ares-dev libcrypt-dev libpcre2-dev \
             libcurl4-openssl-dev
TEST_DEPS := $(RUN_DEPS) libcmocka-dev python3 python3-pytest python3-aiosmtpd python3-dkim haproxy \
             libmail-dkim-perl opendkim-tools \
             swaks msmtp curl s-nail openssl dnsmasq-base \
             sasl2-bin dovecot-core apache2-utils libnet-ssleay-perl libio-socket-ssl-perl \
             fail2ban bind9-utils groff-base man-db systemd util-linux python3-prometheus-client \
             chromium chromium-driver

# What `make bench` needs besides RUN_DEPS (bench/run installs postfix itself, with debconf's
# "No configuration", and downloads OpenSMTPD without installing it).
BENCH_DEPS := python3 python3-matplotlib python3-pytest

PKG_LIBS  := libevent libevent_openssl openssl libcares libpcre2-8 libcurl
WARN      := -std=c11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2
DEFS      := -pthread -Isrc -D_GNU_SOURCE -DPOSTERN_VERSION=\"$(shell cat VERSION 2>/dev/null || echo 0.1.0)\"
PKG_CFLAGS = $(shell pkg-config --cflags $(PKG_LIBS) 2>/dev/null)
PKG_LDLIBS = $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null) -lcrypt -pthread
CFLAGS    ?= -O2 -g
SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRC       := $(sort $(shell find src -name '*.c'))
LIBSRC    := $(filter-out src/main.c,$(SRC))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))

OBJ       := $(SRC:%.c=build/obj/%.o)
SOBJ      := $(SRC:%.c=build/asan/%.o)
SLIBOBJ   := $(LIBSRC:%.c=build/asan/%.o)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)

.PHONY: all deps test-deps run test unit e2e install clean asan fuzz fuzz-smoke bench bench-deps bench-unit test-container
all: build/postern build/man/postern.cf.5

build/postern: $(OBJ)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(PKG_LDLIBS)

build/obj/%.o: %.c $(shell find src -name '*.h')
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(WARN) $(DEFS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/asan/%.o: %.c $(shell find src -name '*.h')
	@mkdir -p $(dir $@)
	@echo "  CC asan $<"
	@$(CC) $(WARN) $(DEFS) -O1 -g $(SAN) $(PKG_CFLAGS) -c -o $@ $<

build/asan/postern: $(SOBJ)
	@echo "  LD asan $@"
	@$(CC) $(SAN) -o $@ $^ $(PKG_LDLIBS)

# Unit tests link by layer: a test links the objects of its module and of
# the modules that module may use (docs/architecture.md), never all of src/,
# so a call against the layering fails to link. LAYER_m: what m may link.
LAYER_util    := util
LAYER_config  := config $(LAYER_util)
LAYER_net     := net $(LAYER_config)
LAYER_policy  := policy $(LAYER_net)
LAYER_auth    := auth $(LAYER_net)
LAYER_dkim    := dkim $(LAYER_net)
LAYER_deliver := deliver dkim $(LAYER_policy)
LAYER_queue   := queue $(LAYER_deliver)
LAYER_smtp    := smtp auth $(LAYER_queue)
LAYER_http    := http $(LAYER_net)
LAYER_notify  := notify $(LAYER_net)
LAYER_daemon  := daemon http notify $(LAYER_smtp)
LAYER_cli     := cli $(LAYER_daemon)
# The table: module -> its tests (tests/unit/test_NAME.c).
UNIT_util     := base64 fbundle fs log metrics sbuf term utf8 workq
UNIT_config   := cidr config config_man maps
UNIT_net      := authrec dns dnsrec spf
UNIT_policy   := anvil policy restrict
UNIT_auth     := auth dovecot sasl saslauthd users \
                 advice # config/advice.c checked against auth/sasl.c's mechanisms
UNIT_dkim     := canon dkim_key dkim_sign
UNIT_deliver  := capture deadhop mime7bit rewrite route smtp_client smtp_reply transport
UNIT_queue    := admin attempt bounce envelope outcome pending qid queue quota scheduler spool
UNIT_smtp     := addrlist address command data proxy reply server session trace
UNIT_daemon   := control queue_view
UNIT_cli      := dkimkey
UNIT_http     := http
UNIT_notify   := notify
UNIT_MODULES  := util config net policy auth dkim deliver queue smtp http notify daemon cli
# Helpers under tests/unit/ a test links besides its module's objects:
# a configuration snapshot built without daemon/runtime.c.
UNIT_HELPERS_session := fixture_runtime
UNIT_HELPERS_attempt := fixture_runtime

unit_module = $(strip $(foreach m,$(UNIT_MODULES),$(if $(filter $(1),$(UNIT_$(m))),$(m))))
unit_objs   = $(foreach d,$(LAYER_$(call unit_module,$(1))),$(filter build/asan/src/$(d)/%,$(SLIBOBJ))) \
              $(UNIT_HELPERS_$(1):%=build/asan/tests/%.o)

build/asan/tests/%.o: tests/unit/%.c $(wildcard tests/unit/*.h) $(shell find src -name '*.h')
	@mkdir -p $(dir $@)
	@echo "  CC test $<"
	@$(CC) $(WARN) $(DEFS) -O1 -g $(SAN) $(PKG_CFLAGS) -c -o $@ $<

.SECONDARY: $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%.o) build/asan/tests/fixture_runtime.o
.SECONDEXPANSION:
build/asan/tests/test_%: build/asan/tests/test_%.o $$(call unit_objs,$$*)
	@$(if $(call unit_module,$*),true,echo "tests/unit/test_$*.c: add $* to one UNIT_<module>" \
	    "list in the Makefile (the module it tests)" >&2; false)
	@echo "  LD test $@ ($(call unit_module,$*))"
	@$(CC) $(SAN) -o $@ $^ $(PKG_LDLIBS) -lcmocka

asan: build/asan/postern

# Install the Debian packages that are missing (apt-get update only if needed).
deps:
	@./scripts/install-deps $(RUN_DEPS)
	@./scripts/add-mail-owner postern
test-deps:
	@./scripts/install-deps $(TEST_DEPS)
	@./scripts/add-mail-owner postern

run: deps build/postern
	./build/postern serve $(if $(CONFIG),-c $(CONFIG))

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# PYTEST_ARGS: e.g. --durations=30 (where the time goes), -x, -k NAME
e2e: build/asan/postern
	POSTERN_BIN=$(CURDIR)/build/asan/postern /usr/bin/python3 -m pytest -q $(PYTEST_ARGS) tests/e2e

test: test-deps
	$(MAKE) build/postern
	$(MAKE) unit
	$(MAKE) bench-unit
	$(MAKE) fuzz-smoke
	$(MAKE) e2e

# make install: Debian's layout under PREFIX (/usr/local by default, as for
# software built from source; PREFIX=/usr for a package or the container).
# The configuration and the spool are the system's: /etc/postern and
# /var/spool/postern whatever PREFIX is. An existing postern.cf is never
# replaced. sendmail and mailq become links to postern only where no other
# mail system has them (INSTALL_SENDMAIL=yes replaces theirs, =no never
# links). With DESTDIR (packaging, the Dockerfile) nothing is done to the
# running system: no user, no ownership; scripts/add-mail-owner does that
# at install time. docs/install.md says what each step is for.
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
CONFDIR    ?= /etc/postern
SPOOLDIR   ?= /var/spool/postern
# the sample's capture_directory: under ProtectSystem=strict the daemon
# cannot make it in /var/mail itself
CAPTUREDIR ?= /var/mail/postern
INSTALL_SENDMAIL ?= auto
MANPAGES   := build/man/postern.8 build/man/postern.cf.5

build/man/postern.cf.5: build/postern
	@mkdir -p $(dir $@)
	@echo "  MAN     $@"
	@build/postern check -m > $@.tmp && mv $@.tmp $@
build/man/postern.8: docs/postern.8
	@mkdir -p $(dir $@)
	@cp $< $@

install: build/postern $(MANPAGES)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(CONFDIR) \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(UNITDIR)
	install -d -m 0700 $(DESTDIR)$(SPOOLDIR) $(DESTDIR)$(CAPTUREDIR)
	install -m 0755 build/postern $(DESTDIR)$(SBINDIR)/postern
	install -m 0644 build/man/postern.8 $(DESTDIR)$(MANDIR)/man8/postern.8
	install -m 0644 build/man/postern.cf.5 $(DESTDIR)$(MANDIR)/man5/postern.cf.5
	@# the unit names the binary, files and directories where this install puts them
	sed -e 's|/usr/sbin/postern|$(SBINDIR)/postern|g' -e 's|/var/spool/postern|$(SPOOLDIR)|g' \
	    -e 's|/var/mail/postern|$(CAPTUREDIR)|g' -e 's|/etc/postern|$(CONFDIR)|g' \
	    docs/postern.service > $(DESTDIR)$(UNITDIR)/postern.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/postern.service
	@if [ -e $(DESTDIR)$(CONFDIR)/postern.cf ]; then \
	    echo "keeping $(DESTDIR)$(CONFDIR)/postern.cf (the new sample: docs/postern.cf.sample)"; \
	else install -m 0644 docs/postern.cf.sample $(DESTDIR)$(CONFDIR)/postern.cf; fi
	@./scripts/install-sendmail-links "$(DESTDIR)" "$(SBINDIR)" "$(BINDIR)" "$(INSTALL_SENDMAIL)"
	@if [ -z "$(DESTDIR)" ]; then \
	    ./scripts/add-mail-owner postern && \
	    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	    echo "installed; start it with: systemctl enable --now postern"; \
	else echo "DESTDIR install: at install time, create the user (scripts/add-mail-owner postern)"; fi

# The container image, built with podman from the Dockerfile and run (the
# seed-000 relay, non-root, volume, HEALTHCHECK): tests/e2e/test_container.py.
# Over a minute (the image build), so not part of `make test`; skips, saying
# why, where this machine cannot run containers.
CONTAINER_DEPS := podman runc debootstrap
test-container: test-deps
	@./scripts/install-deps $(CONTAINER_DEPS)
	POSTERN_CONTAINER_TEST=1 /usr/bin/python3 -m pytest -q -rs $(PYTEST_ARGS) tests/e2e/test_container.py

# Coverage-guided fuzzing of the parsers of untrusted input (needs clang;
# fuzz/README.md). src/ is built once with the fuzzer's coverage into an
# archive: each harness links from it only the objects its parser needs.
FUZZ_CC       ?= clang
FUZZ_CFLAGS   := -std=c11 $(DEFS) -g -O1 -fno-sanitize-recover=undefined $(PKG_CFLAGS)
FUZZ_NAMES    := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_TARGETS  := $(FUZZ_NAMES:%=build/fuzz/%)
FUZZ_LIB      := build/fuzz/libpostern.a
FUZZ_SECONDS  ?= 60
FUZZ_SMOKE_SECONDS ?= 5

build/fuzz/obj/%.o: %.c $(shell find src -name '*.h')
	@mkdir -p $(dir $@)
	@echo "  CC fuzz $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

$(FUZZ_LIB): $(LIBSRC:%.c=build/fuzz/obj/%.o)
	@rm -f $@
	@ar rcs $@ $^

build/fuzz/%: fuzz/%.c $(FUZZ_LIB)
	@echo "  LD fuzz $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIB) \
	    $(PKG_LDLIBS)

# Each harness in turn, FUZZ_SECONDS each, seeded from fuzz/seeds/<name>/;
# what it finds is kept in build/fuzz/corpus-<name>/.
fuzz: $(FUZZ_TARGETS)
	@set -e; for n in $(FUZZ_NAMES); do echo "== $$n"; mkdir -p build/fuzz/corpus-$$n; \
	    build/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        build/fuzz/corpus-$$n $$(ls -d fuzz/seeds/$$n 2>/dev/null); done

# The smoke run of `make test`: every harness for FUZZ_SMOKE_SECONDS; a
# crash, a leak, a slow input (-timeout) or a broken invariant fails it.
# Skipped, saying so, where clang is not installed.
fuzz-smoke:
	@if ! command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	    echo "fuzz-smoke: SKIPPED: $(FUZZ_CC) not found (apt-get install clang)"; exit 0; fi; \
	$(MAKE) --no-print-directory $(FUZZ_TARGETS) && \
	for n in $(FUZZ_NAMES); do mkdir -p build/fuzz/smoke-$$n; \
	    if ! build/fuzz/$$n -max_total_time=$(FUZZ_SMOKE_SECONDS) -timeout=5 \
	            -artifact_prefix=build/fuzz/$$n- build/fuzz/smoke-$$n \
	            $$(ls -d fuzz/seeds/$$n 2>/dev/null) >build/fuzz/$$n.log 2>&1; then \
	        tail -40 build/fuzz/$$n.log; echo "fuzz-smoke: $$n FAILED (log: build/fuzz/$$n.log)"; \
	        exit 1; fi; \
	    echo "fuzz-smoke: $$n ok: $$(grep -o 'Done [0-9]* runs' build/fuzz/$$n.log | tail -1)"; \
	done

# Side-by-side intake + delivery benchmark against Postfix (root; installs
# postfix if missing). BENCH_ARGS: see bench/README.md.
bench: deps bench-deps
	./bench/run $(BENCH_ARGS)
bench-deps:
	@./scripts/install-deps $(BENCH_DEPS)

# The bench scripts' own tests (no timing, a few seconds): load generator, report arithmetic.
bench-unit:
	/usr/bin/python3 -m pytest -q -p no:cacheprovider bench/tests

clean:
	rm -rf build
