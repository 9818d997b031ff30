# twinprobe: synthetic user-journey monitor. See README.md.
PKG_CONFIG ?= pkg-config
PYTHON ?= python3
PREFIX ?= /usr/local
BUILD ?= build
VERSION := 0.1.0

PKGS := libcurl jansson libxml-2.0 hiredis libpcre2-8
include mk/warnings.mk
CFLAGS ?= -O2 -g
ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# Evaluated lazily so `make deps` works before the libraries are installed.
PKG_CFLAGS = $(or $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null),\
                  $(error libraries missing: run `make deps` (or: $(PKG_CONFIG) --cflags $(PKGS))))
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

ALL_CPPFLAGS = -Iinclude -D_POSIX_C_SOURCE=200809L -DTP_VERSION='"$(VERSION)"' $(CPPFLAGS)
ALL_CFLAGS = $(WARNINGS) $(PKG_CFLAGS) $(SAN_FLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)
LIBS = $(PKG_LIBS) -lm

LIB_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test check unit asan valgrind fuzz bench install clean deps demo
all: $(BUILD)/twinprobe

$(BUILD)/libtwinprobe.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/twinprobe: $(BUILD)/obj/main.o $(BUILD)/libtwinprobe.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtwinprobe.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -DTP_SOURCE_DIR='"$(CURDIR)"' -MMD -MP \
	    $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libtwinprobe.a $(LIBS) -lcmocka

unit: $(UNIT_BIN)

# `test` installs what is missing, then builds and runs every unit and integration
# test in a sub-make (so pkg-config is asked after the install).
test: deps
	$(MAKE) --no-print-directory check

check: all unit
	$(PYTHON) tests/run.py --build $(BUILD)

asan: deps
	$(MAKE) --no-print-directory BUILD=build/asan SAN=1 CFLAGS='-O1 -g' check

# The unit tests under valgrind memcheck: any error, or a block definitely lost,
# fails that binary. Ends with one line "N passed, N failed" (binaries).
VALGRIND ?= valgrind
VALGRIND_OPTS ?= --quiet --error-exitcode=99 --leak-check=full \
                 --errors-for-leak-kinds=definite --show-leak-kinds=definite
valgrind: deps
	$(MAKE) --no-print-directory unit
	@mkdir -p $(BUILD)/valgrind; passed=0; failed=0; \
	for t in $(UNIT_BIN); do \
	    log=$(BUILD)/valgrind/$$(basename $$t); \
	    if $(VALGRIND) $(VALGRIND_OPTS) --log-file=$$log.log $$t >$$log.out 2>&1; then \
	        passed=$$((passed + 1)); \
	    else \
	        failed=$$((failed + 1)); echo "valgrind: $$t failed"; \
	        tail -40 $$log.log; tail -20 $$log.out; \
	    fi; \
	done; \
	echo "$$passed passed, $$failed failed"; test $$failed -eq 0

fuzz: deps
	$(MAKE) --no-print-directory -f tests/fuzz/fuzz.mk BUILD=build/fuzz

bench: deps
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory -C bench

# Debian's packages, then the benchmark's Newman and Step CI at their pinned
# versions (bench/peers, npm ci; skipped while node_modules matches the lock).
deps:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory -C bench deps

demo: deps
	$(MAKE) --no-print-directory all
	scripts/demo.sh $(BUILD)/twinprobe

install: all
	install -D -m 0755 $(BUILD)/twinprobe $(DESTDIR)$(PREFIX)/bin/twinprobe
	install -D -m 0644 docs/twinprobe.1 $(DESTDIR)$(PREFIX)/share/man/man1/twinprobe.1

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(BUILD)/obj/main.d $(UNIT_BIN:=.d)
