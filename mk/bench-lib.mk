# Included by the benchmark Makefiles two levels below the top (bench/stats,
# bench/verdict, bench/redis) whose programs link the library the top Makefile
# builds: the flags, where the library is, and how to link one C file with it:
#   prog: prog.c $(LIB)
#   	$(LINK_WITH_LIB)
MK_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
PKG_CONFIG ?= pkg-config
PKGS := libcurl jansson libxml-2.0 libpcre2-8 hiredis
include $(MK_DIR)warnings.mk
CFLAGS ?= -O2 -g
TOP := $(abspath $(MK_DIR)..)
# The top Makefile's $(BUILD), relative to the top directory unless absolute.
BUILD ?= build
LIBDIR := $(if $(filter /%,$(BUILD)),$(BUILD),$(TOP)/$(BUILD))
LIB := $(LIBDIR)/libtwinprobe.a
ALL_CPPFLAGS := -I$(TOP)/include -D_POSIX_C_SOURCE=200809L $(CPPFLAGS)
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS))
LINK_WITH_LIB = $(CC) $(ALL_CPPFLAGS) $(WARNINGS) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
    $(LIB) $(PKG_LIBS) -lm
