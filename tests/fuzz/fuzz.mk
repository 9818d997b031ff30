# libFuzzer harnesses for the parsers that take hostile input (tests/fuzz/fuzz_*.c).
# Builds each with clang + ASan/UBSan into $(BUILD), then runs each for FUZZ_SECONDS
# on a scratch copy of its seed corpus (tests/fuzz/corpus/NAME/). A crash, sanitizer
# report, leak or hang fails the make; the input is left in $(BUILD)/crashes/.
#   make fuzz [FUZZ_SECONDS=60]                         every harness, from the top
#   make -f tests/fuzz/fuzz.mk fuzz-build               build only
#   make -f tests/fuzz/fuzz.mk run-jsonpath             one harness
#   build/fuzz/fuzz_jsonpath build/fuzz/crashes/jsonpath-crash-...   replay one input
include mk/warnings.mk
PKG_CONFIG ?= pkg-config
BUILD ?= build/fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
FUZZ_OPTS ?= -max_len=65536 -timeout=10 -print_final_stats=1

PKGS := libcurl jansson libxml-2.0 libpcre2-8 hiredis
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS))

# UBSan findings abort (-fno-sanitize-recover) so that they fail the run too.
SAN := address,undefined
BASE_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude $(PKG_CFLAGS) -g -O1 \
               -fno-omit-frame-pointer -fno-sanitize-recover=all
LIB_CFLAGS := $(BASE_CFLAGS) -fsanitize=fuzzer-no-link,$(SAN)
HARNESS_CFLAGS := $(BASE_CFLAGS) $(WARNINGS) -fsanitize=fuzzer,$(SAN)

# The library modules the harnesses reach (none does I/O). They go into one archive
# and the linker takes what each harness needs. A new dependency shows up as an
# undefined tp_* symbol at link time: add its module here.
LIB_MODULES := check compare diag diff doctree error escape evaluate extract fileio iregexp journey jsonpath mask strbuf probe redis_url rematch response result schema spool stats streams template utf8 vars verdict
LIB_OBJ := $(LIB_MODULES:%=$(BUILD)/obj/%.o)
NAMES := journey probe jsonpath template extract diff_json diff_html spool regex
BINS := $(NAMES:%=$(BUILD)/fuzz_%)

.PHONY: fuzz fuzz-build $(NAMES:%=run-%)
fuzz: $(NAMES:%=run-%)
fuzz-build: $(BINS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(LIB_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libtwinprobe-fuzz.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/libtwinprobe-fuzz.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(HARNESS_CFLAGS) -MMD -MP -o $@ $< $(BUILD)/libtwinprobe-fuzz.a \
	    $(PKG_LIBS) -lm

# New inputs go to the scratch dir (kept between runs), never to the seeds.
$(NAMES:%=run-%): run-%: $(BUILD)/fuzz_%
	@mkdir -p $(BUILD)/corpus/$* $(BUILD)/crashes
	cp tests/fuzz/corpus/$*/* $(BUILD)/corpus/$*/
	$< -max_total_time=$(FUZZ_SECONDS) $(FUZZ_OPTS) \
	    -artifact_prefix=$(BUILD)/crashes/$*- $(BUILD)/corpus/$*

-include $(LIB_OBJ:.o=.d) $(BINS:=.d)
