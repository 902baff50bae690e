# Otto: PostgreSQL extension, built with PGXS.
#   make && make install        build and install into the server found by PG_CONFIG
#   make COPT=-Werror           what CI does: any warning fails the build
#   scripts/test                the whole test suite on a throwaway cluster

EXTENSION = otto
EXTVERSION = 1.6
MODULE_big = otto
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*/*.c)))

# The install script is built from one source per stage, in this order (a
# stage may use what the stages before it made).  Each holds its tables, its
# functions and, at its end, its dump rules, row-level security and grants.
SQL_SOURCES = src/core/schema.sql src/sites/sites.sql src/parse/parse.sql src/ingest/ingest.sql \
	src/crawl/crawl.sql src/market/stream.sql src/market/price_model.sql src/market/analytics.sql src/buyers/search.sql \
	src/buyers/users.sql src/buyers/alerts.sql src/buyers/reviews.sql src/buyers/recommend.sql \
	src/chat/ask.sql src/chat/tools.sql src/ops/metrics.sql src/core/privileges.sql
# Update scripts, one per earlier version straight to this one
# (otto--<from>--$(EXTVERSION).sql): the storage changes of every step since
# <from> (src/updates/<a>--<b>.sql, in STEPS order), what every update re-runs
# from the sources (src/updates/rerun.awk), then the steps' changes of data
# that need the new functions (<a>--<b>.after.sql).  otto--1.0.sql is 1.0's
# install script, kept for installs of 1.0 and the upgrade tests.
STEPS = 1.0--1.1 1.1--1.2 1.2--1.3 1.3--1.4 1.4--1.5 1.5--1.6
UPDATES = $(foreach s,$(STEPS),otto--$(firstword $(subst --, ,$(s)))--$(EXTVERSION).sql)
DATA = otto--1.0.sql
DATA_built = otto--$(EXTVERSION).sql $(UPDATES)
EXTRA_CLEAN = $(DATA_built)
PGFILEDESC = "otto - car-market intelligence engine"

REGRESS = $(sort $(patsubst sql/%.sql,%,$(wildcard sql/*.sql)))

PG_CONFIG ?= pg_config
CURL_CONFIG ?= curl-config

PG_CPPFLAGS = -I$(srcdir)/src $(shell $(CURL_CONFIG) --cflags) -DOTTO_VERSION='"$(EXTVERSION)"'
SHLIB_LINK = $(shell $(CURL_CONFIG) --libs) -lxgboost

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# (otto.build_info() reports EXTVERSION, compiled in)
src/core/otto.o: Makefile

otto--$(EXTVERSION).sql: $(SQL_SOURCES) Makefile
	cat $(SQL_SOURCES) > $@
# cat_steps(from, suffix): the steps' files from version <from> on, in order
cat_steps = on=; for s in $(STEPS); do case $$s in $(1)--*) on=1;; esac; [ -z "$$on" ] || cat src/updates/$$s$(2); done
$(UPDATES): otto--%--$(EXTVERSION).sql: src/updates/rerun.awk $(SQL_SOURCES) $(wildcard src/updates/*.sql) Makefile
	{ $(call cat_steps,$*,.sql); awk -f src/updates/rerun.awk $(SQL_SOURCES); $(call cat_steps,$*,.after.sql); } > $@

# otto-mcp: the MCP server for chat assistants, installed next to the server's programs.
MCP_CFLAGS = -O2 -Wall -Wextra -Wno-unused-parameter $(COPT) -I$(shell $(PG_CONFIG) --includedir) $(shell pkg-config --cflags jansson)
MCP_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lpq $(shell pkg-config --libs jansson)

all: mcp/otto-mcp web/otto-web
mcp/otto-mcp: mcp/otto-mcp.c mcp/protocol.c mcp/protocol.h
	$(CC) $(MCP_CFLAGS) -o $@ mcp/otto-mcp.c mcp/protocol.c $(MCP_LIBS)

# otto-web: the web app and MCP over HTTP; its pages' files go to $(datadir)/otto-web.
WEB_FILES = $(wildcard web/static/*)
web/otto-web: web/otto-web.c mcp/protocol.c mcp/protocol.h
	$(CC) $(MCP_CFLAGS) -pthread $(shell pkg-config --cflags libmicrohttpd) -DOTTO_WEB_ROOT='"$(datadir)/otto-web"' \
		-o $@ web/otto-web.c mcp/protocol.c $(MCP_LIBS) $(shell pkg-config --libs libmicrohttpd) -lm

install: install-mcp
install-mcp: mcp/otto-mcp web/otto-web
	$(INSTALL_PROGRAM) mcp/otto-mcp '$(DESTDIR)$(bindir)/otto-mcp'
	$(INSTALL_PROGRAM) web/otto-web '$(DESTDIR)$(bindir)/otto-web'
	$(MKDIR_P) '$(DESTDIR)$(datadir)/otto-web'
	$(INSTALL_DATA) $(WEB_FILES) '$(DESTDIR)$(datadir)/otto-web/'

clean: clean-mcp
clean-mcp:
	rm -f mcp/otto-mcp web/otto-web
.PHONY: install-mcp clean-mcp
