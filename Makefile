# MAM on nginx.  `make` builds, `make run` starts the whole stack,
# `make test` runs the suite (see README.md).

# SANITIZE=1: ASan + UBSan builds in their own folder
BUILDDIR ?= $(if $(SANITIZE),build-asan,build)
, := ,
-include $(BUILDDIR)/config.mk

PORT ?= 8080
DATA_DIR ?= .run
PROVE_JOBS ?= 2

MODULE = $(BUILDDIR)/modules/ngx_mam_module.so
MODULE_SRCS = $(wildcard ngx_mam_module/*.c ngx_mam_module/*.h \
                         ngx_mam_module/config libmam/*.h libmam/*.def)

# libmam: each object compiled once, position-independent (the module's .so
# links the same archive as transcoderd, the unit tests and the tools), with
# the flags ./configure gave nginx's tree; one function family per object,
# so a program pulls only what it calls and links only those libraries
LIBMAM = $(BUILDDIR)/libmam.a
LIBMAM_SRCS = $(wildcard libmam/*.c)
LIBMAM_OBJS = $(patsubst libmam/%.c,$(BUILDDIR)/libmam/%.o,$(LIBMAM_SRCS))
LIBMAM_CFLAGS_ALL = $(MAM_CFLAGS) -Werror $(LIBMAM_CFLAGS)

UNIT_TESTS = $(patsubst t/unit/%.c,$(BUILDDIR)/t/unit/%,$(wildcard t/unit/*.c))
UNIT_CFLAGS = -g -O1 -Wall -Wextra -Werror -Ilibmam -It/unit \
              $(if $(SANITIZE),-fno-omit-frame-pointer -fsanitize=address$(,)undefined)
UNIT_LIBS = -ljwt -largon2 -ljansson -lcrypto -lcurl

.PHONY: all deps libmam module unit transcoderd webhookd spa tools run test test-slow test-all bench fuzz install uninstall deb dist clean distclean

all: libmam module unit transcoderd webhookd spa tools

libmam: $(LIBMAM)

$(BUILDDIR)/libmam/%.o: libmam/%.c libmam/*.h libmam/*.def $(BUILDDIR)/config.mk
	mkdir -p $(dir $@)
	$(CC) $(LIBMAM_CFLAGS_ALL) -c -o $@ $<

$(LIBMAM): $(LIBMAM_OBJS)
	rm -f $@.tmp
	$(AR) rcs $@.tmp $^
	mv -f $@.tmp $@

# mam-edge-key: the edge key of a signing key, for an edge-only host;
# mam-password-hash: a password's Argon2id encoding (mam-admin)
TOOLS = $(BUILDDIR)/mam-edge-key $(BUILDDIR)/mam-password-hash

tools: $(TOOLS)

$(BUILDDIR)/mam-%: tools/mam-%.c $(LIBMAM) libmam/*.h libmam/*.def
	$(CC) $(UNIT_CFLAGS) -O2 $(EXTRA_CFLAGS) $(EXTRA_LDFLAGS) -o $@ $< $(LIBMAM) $(UNIT_LIBS)

# the SPA's packages from the lock file; hls.js and tus-js-client are
# served from html/vendor.  scripts/vendor-spa copies them from node_modules
# once it holds the locked versions (here running `npm ci` when it does
# not; make install and the Debian build never do: MAM_NPM_CI=0)
MAM_NPM_CI ?= 1
SPA_VENDOR = html/vendor/hls.min.js html/vendor/tus.min.js

spa: $(SPA_VENDOR)

$(SPA_VENDOR): package.json package-lock.json scripts/vendor-spa \
               $(wildcard node_modules/hls.js/package.json node_modules/tus-js-client/package.json)
	MAM_NPM_CI=$(MAM_NPM_CI) scripts/vendor-spa

deps:
	@scripts/install-deps

$(BUILDDIR)/config.mk: configure ngx_mam_module/config
	./configure --builddir=$(abspath $(BUILDDIR)) $(if $(SANITIZE),--sanitize)

module: $(MODULE)

# the newest migration the module needs (/api/health): remade when schema/
# changes, replaced only when its text does, so nothing rebuilds needlessly
SCHEMA_H = $(BUILDDIR)/include/mam_schema.h

$(SCHEMA_H): schema $(wildcard schema/[0-9]*.sql) scripts/schema-header
	mkdir -p $(dir $@)
	scripts/schema-header schema > $@.tmp
	if cmp -s $@.tmp $@; then rm -f $@.tmp; touch $@; else mv -f $@.tmp $@; fi

# nginx's Makefile relinks the .so only for its own objects: a newer
# libmam.a removes the old .so first
$(MODULE): $(BUILDDIR)/config.mk $(MODULE_SRCS) $(LIBMAM) $(SCHEMA_H)
	[ $(BUILDDIR)/nginx/objs/ngx_mam_module.so -nt $(LIBMAM) ] || \
	    rm -f $(BUILDDIR)/nginx/objs/ngx_mam_module.so
	$(MAKE) -C $(BUILDDIR)/nginx -f objs/Makefile modules
	mkdir -p $(dir $@)
	cp $(BUILDDIR)/nginx/objs/ngx_mam_module.so $@.tmp && mv -f $@.tmp $@

unit: $(UNIT_TESTS)

TD_SRCS = $(wildcard transcoderd/*.c)
TD_BIN = $(BUILDDIR)/transcoderd
TD_CFLAGS_ALL = -g -O2 -Wall -Wextra -Werror -Wno-format-truncation -pthread -Ilibmam -Itranscoderd \
                $(TD_CFLAGS) $(EXTRA_CFLAGS) $(if $(SANITIZE),-O1 -fno-omit-frame-pointer -fsanitize=address$(,)undefined)

transcoderd: $(TD_BIN)

# libmam.a before the libraries its objects call (TD_LIBS: only those
# transcoderd's own code and the objects it pulls need; t/62 checks that
# libjwt and libargon2 stay out)
$(TD_BIN): $(BUILDDIR)/config.mk $(TD_SRCS) transcoderd/*.h $(LIBMAM) libmam/*.h libmam/*.def
	$(CC) $(TD_CFLAGS_ALL) $(EXTRA_LDFLAGS) -o $@ $(TD_SRCS) $(LIBMAM) $(TD_LIBS) -lm -pthread

# webhookd (webhookd/): the webhooks' deliveries, a process of its own
WH_SRCS = $(wildcard webhookd/*.c)
WH_BIN = $(BUILDDIR)/webhookd
WH_CFLAGS_ALL = -g -O2 -Wall -Wextra -Werror -pthread -Ilibmam -Iwebhookd \
                $(WH_CFLAGS) $(EXTRA_CFLAGS) $(if $(SANITIZE),-O1 -fno-omit-frame-pointer -fsanitize=address$(,)undefined)

webhookd: $(WH_BIN)

$(WH_BIN): $(BUILDDIR)/config.mk $(WH_SRCS) webhookd/*.h $(LIBMAM) libmam/*.h libmam/*.def
	$(CC) $(WH_CFLAGS_ALL) $(EXTRA_LDFLAGS) -o $@ $(WH_SRCS) $(LIBMAM) $(WH_LIBS) -pthread

# the renderer's confinement, from transcoderd's own source
$(BUILDDIR)/t/unit/sandbox: t/unit/sandbox.c t/unit/tap.h transcoderd/sandbox.c transcoderd/sandbox.h
	mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -Itranscoderd -o $@ $< transcoderd/sandbox.c -lseccomp -pthread

$(BUILDDIR)/t/unit/%: t/unit/%.c t/unit/tap.h t/unit/helpers.h $(LIBMAM) libmam/*.h libmam/*.def
	mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(LIBMAM) $(UNIT_LIBS)

run: deps
	$(MAKE) all
	DATA_DIR="$(DATA_DIR)" PORT="$(PORT)" exec scripts/mam-run

# The suite.  A test whose header has the line `# mam-test: slow` (over
# ~20 s alone: browsers, several stacks, waits that are the point of the
# test) is left out of `make test`, which stays under 15 minutes on 2
# cores; `make test-slow` runs those, `make test-all` everything in one
# prove.  CI (.ci/run) runs all of them, plain and sanitized.
SLOW_TESTS = $(shell grep -l '^\# mam-test: slow' t/*.t 2>/dev/null)
FAST_TESTS = $(filter-out $(SLOW_TESTS),$(wildcard t/*.t))
PROVE = MAM_BUILD=$(abspath $(BUILDDIR)) MAM_SANITIZE=$(SANITIZE) \
        prove -I t/lib -j $(PROVE_JOBS)

test: deps
	$(MAKE) all
	$(PROVE) $(FAST_TESTS)

test-slow: deps
	$(MAKE) all
	$(PROVE) $(SLOW_TESTS)

test-all: deps
	$(MAKE) all
	$(PROVE) t/

bench: deps
	$(MAKE) all
	bench/run

# libFuzzer targets (t/fuzz/*.c) with ASan and UBSan; each runs FUZZ_SECONDS
# from its corpus in t/fuzz/corpus/NAME (kept in the repo; new inputs go to
# the build folder).  They compile libmam's sources themselves, not
# libmam.a: coverage must instrument the code under test
FUZZ_SECONDS ?= 30
FUZZ_TARGETS = $(patsubst t/fuzz/%.c,$(BUILDDIR)/fuzz/%,$(wildcard t/fuzz/*.c))

$(BUILDDIR)/fuzz/%: t/fuzz/%.c $(LIBMAM_SRCS) libmam/*.h libmam/*.def
	mkdir -p $(dir $@)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -Ilibmam -o $@ $< $(LIBMAM_SRCS) $(UNIT_LIBS)

# the renderer's opening of a master, from transcoderd's own source, with
# the system's libav* (not instrumented: coverage guides only through
# input.c, and ASan sees libav* only at malloc/free, libc calls and SEGVs)
$(BUILDDIR)/fuzz/probe: t/fuzz/probe.c transcoderd/input.c transcoderd/input.h
	mkdir -p $(dir $@)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -Itranscoderd $$(pkg-config --cflags libavformat libavcodec libavutil) \
	    -o $@ $< transcoderd/input.c \
	    $$(pkg-config --libs libavformat libavcodec libavutil)

fuzz:
	@scripts/install-deps deps/debian-packages-fuzz.txt
	$(MAKE) $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	    name=$$(basename $$t); \
	    mkdir -p $(BUILDDIR)/fuzz/new/$$name; \
	    echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        $(BUILDDIR)/fuzz/new/$$name t/fuzz/corpus/$$name || exit 1; \
	done

# make install: for systems without the Debian packages (debian/rules uses
# it too, into debian/tmp).  Honours DESTDIR and PREFIX (./configure
# --prefix, default /usr/local); needs no network (the SPA's scripts come
# from node_modules at the locked versions, or a `make dist` tarball);
# never replaces a configuration file that exists (the new one goes next
# to it as FILE.dist).  make uninstall removes what it installed but the
# configuration.
SYSCONFDIR ?= /etc
NGINX_MODULES_DIR = $(PREFIX)/lib/nginx/modules
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
SHARE = $(PREFIX)/share/mam
CONF_FILES = nginx/conf.d/mam.conf:conf/conf.d/mam.conf \
             nginx/sites-available/mam:conf/sites-available/mam \
             nginx/modules-enabled/60-mam-thread-pools.conf:conf/modules-enabled/60-mam-thread-pools.conf \
             mam/transcoderd.conf:conf/transcoderd.conf \
             mam/webhookd.conf:conf/webhookd.conf
EXAMPLES = conf/edge.conf conf/mam-s3.conf conf/redis-acl.conf conf/s3-cors.xml \
           conf/s3-lifecycle.json conf/postgresql/pg_hba.conf conf/postgresql/pg_ident.conf \
           conf/redis/redis-mam.conf

install: module transcoderd webhookd tools
	$(MAKE) MAM_NPM_CI=0 spa
	install -d $(DESTDIR)$(NGINX_MODULES_DIR) $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
	    $(DESTDIR)$(PREFIX)/lib/mam $(DESTDIR)$(SHARE)/schema/functions $(DESTDIR)$(SHARE)/libmam \
	    $(DESTDIR)$(SHARE)/examples $(DESTDIR)$(PREFIX)/share/nginx/modules-available \
	    $(DESTDIR)$(SYSTEMD_UNIT_DIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
	install -m 0644 $(MODULE) $(DESTDIR)$(NGINX_MODULES_DIR)/
	sed 's|modules/ngx_mam_module.so|$(NGINX_MODULES_DIR)/ngx_mam_module.so|' \
	    conf/modules-available/mod-http-mam.conf > $(DESTDIR)$(PREFIX)/share/nginx/modules-available/mod-http-mam.conf
	chmod 0644 $(DESTDIR)$(PREFIX)/share/nginx/modules-available/mod-http-mam.conf
	install -m 0755 $(TD_BIN) $(DESTDIR)$(PREFIX)/sbin/transcoderd
	install -m 0755 $(WH_BIN) $(DESTDIR)$(PREFIX)/sbin/webhookd
	install -m 0755 $(BUILDDIR)/mam-edge-key $(DESTDIR)$(PREFIX)/bin/mam-edge-key
	install -m 0755 $(BUILDDIR)/mam-password-hash $(DESTDIR)$(PREFIX)/lib/mam/mam-password-hash
	sed 's|/usr/lib/mam/mam-password-hash|$(PREFIX)/lib/mam/mam-password-hash|' scripts/mam-admin \
	    > $(DESTDIR)$(PREFIX)/sbin/mam-admin && chmod 0755 $(DESTDIR)$(PREFIX)/sbin/mam-admin
	printf '#!/bin/sh\n# the migration runner of %s/schema\nexec %s/schema/migrate "$$@"\n' \
	    $(SHARE) $(SHARE) > $(DESTDIR)$(PREFIX)/bin/mam-migrate && chmod 0755 $(DESTDIR)$(PREFIX)/bin/mam-migrate
	install -m 0755 schema/migrate $(DESTDIR)$(SHARE)/schema/
	install -m 0644 schema/[0-9]*.sql $(DESTDIR)$(SHARE)/schema/
	install -m 0644 schema/functions/*.sql $(DESTDIR)$(SHARE)/schema/functions/
	install -m 0644 libmam/mam_outcomes.def $(DESTDIR)$(SHARE)/libmam/
	rm -rf $(DESTDIR)$(SHARE)/html && cp -R html $(DESTDIR)$(SHARE)/html
	chmod -R u=rwX,go=rX $(DESTDIR)$(SHARE)/html
	install -m 0644 $(EXAMPLES) $(DESTDIR)$(SHARE)/examples/
	sed 's|/usr/sbin/|$(PREFIX)/sbin/|g' conf/mam-transcoderd.service \
	    > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/mam-transcoderd.service
	sed 's|/usr/sbin/|$(PREFIX)/sbin/|g' conf/mam-webhookd.service \
	    > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/mam-webhookd.service
	install -m 0644 conf/sysusers.d/mam-transcoderd.conf conf/sysusers.d/mam-webhookd.conf \
	    $(DESTDIR)$(PREFIX)/lib/sysusers.d/
	install -m 0644 conf/tmpfiles.d/mam-transcoderd.conf conf/tmpfiles.d/mam-web.conf \
	    $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/
	@for pair in $(CONF_FILES); do \
	    dest=$(DESTDIR)$(SYSCONFDIR)/$${pair%%:*}; src=$${pair#*:}; \
	    install -d $$(dirname $$dest); \
	    if [ -e $$dest ]; then \
	        echo "install: keeping $$dest (the new one is $$dest.dist)"; \
	        install -m 0644 $$src $$dest.dist; \
	    else \
	        install -m 0644 $$src $$dest; \
	    fi; \
	done

uninstall:
	rm -f $(DESTDIR)$(NGINX_MODULES_DIR)/ngx_mam_module.so \
	    $(DESTDIR)$(PREFIX)/share/nginx/modules-available/mod-http-mam.conf \
	    $(DESTDIR)$(PREFIX)/sbin/transcoderd $(DESTDIR)$(PREFIX)/sbin/mam-admin \
	    $(DESTDIR)$(PREFIX)/sbin/webhookd \
	    $(DESTDIR)$(SYSTEMD_UNIT_DIR)/mam-webhookd.service \
	    $(DESTDIR)$(PREFIX)/lib/sysusers.d/mam-webhookd.conf \
	    $(DESTDIR)$(PREFIX)/bin/mam-migrate $(DESTDIR)$(PREFIX)/bin/mam-edge-key \
	    $(DESTDIR)$(PREFIX)/lib/mam/mam-password-hash \
	    $(DESTDIR)$(SYSTEMD_UNIT_DIR)/mam-transcoderd.service \
	    $(DESTDIR)$(PREFIX)/lib/sysusers.d/mam-transcoderd.conf \
	    $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/mam-transcoderd.conf \
	    $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/mam-web.conf
	rm -rf $(DESTDIR)$(SHARE)
	-rmdir $(DESTDIR)$(PREFIX)/lib/mam 2>/dev/null
	@echo "uninstall: configuration kept: $(foreach p,$(CONF_FILES),$(SYSCONFDIR)/$(firstword $(subst :, ,$(p))))"

# the Debian packages (debian/): libnginx-mod-http-mam, mam-transcoderd,
# mam-web, into ../ (dpkg-buildpackage's place), then lintian
deb:
	dpkg-buildpackage -us -uc -b
	lintian --fail-on error ../mam-nginx_$$(dpkg-parsechangelog -S Version)_$$(dpkg --print-architecture).changes

# a source tarball with the SPA's vendored scripts, so building from it
# needs neither npm nor the network
dist: spa
	@v=$$(dpkg-parsechangelog -S Version 2>/dev/null || echo 0); \
	git archive --prefix=mam-nginx-$$v/ -o mam-nginx-$$v.tar HEAD && \
	tar --transform "s|^|mam-nginx-$$v/|" -rf mam-nginx-$$v.tar html/vendor && \
	gzip -f mam-nginx-$$v.tar && echo "dist: mam-nginx-$$v.tar.gz"

clean:
	rm -rf $(BUILDDIR)/modules $(BUILDDIR)/t $(BUILDDIR)/libmam $(LIBMAM)
	-[ -d $(BUILDDIR)/nginx/objs ] && $(MAKE) -C $(BUILDDIR)/nginx -f objs/Makefile clean >/dev/null

distclean:
	rm -rf $(BUILDDIR)
