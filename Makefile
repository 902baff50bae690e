# Otto: PostgreSQL extension, built with PGXS.
#   make && make install        build and install into the server found by PG_CONFIG
#   make COPT=-Werror           what CI does: any warning fails the build
#   scripts/test                the whole test suite on a throwaway cluster

EXTENSION = otto
MODULE_big = otto
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA = otto--1.0.sql
PGFILEDESC = "otto - car-market intelligence engine"

REGRESS = $(sort $(patsubst sql/%.sql,%,$(wildcard sql/*.sql)))

PG_CONFIG ?= pg_config
CURL_CONFIG ?= curl-config
XML2_CONFIG ?= xml2-config

PG_CPPFLAGS = -I$(srcdir)/src $(shell $(CURL_CONFIG) --cflags) $(shell $(XML2_CONFIG) --cflags)
SHLIB_LINK = $(shell $(CURL_CONFIG) --libs) $(shell $(XML2_CONFIG) --libs)

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
