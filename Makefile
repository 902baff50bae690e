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

# otto-mcp: the MCP server for chat assistants, installed next to the server's programs.
MCP_CFLAGS = -O2 -Wall -Wextra -Wno-unused-parameter $(COPT) -I$(shell $(PG_CONFIG) --includedir) $(shell pkg-config --cflags jansson)
MCP_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lpq $(shell pkg-config --libs jansson)

all: mcp/otto-mcp
mcp/otto-mcp: mcp/otto-mcp.c
	$(CC) $(MCP_CFLAGS) -o $@ $< $(MCP_LIBS)

install: install-mcp
install-mcp: mcp/otto-mcp
	$(INSTALL_PROGRAM) mcp/otto-mcp '$(DESTDIR)$(bindir)/otto-mcp'

clean: clean-mcp
clean-mcp:
	rm -f mcp/otto-mcp
.PHONY: install-mcp clean-mcp
