# The part of the stage sources that every update runs again: everything but
# the statements that make or change storage (CREATE TABLE, INDEX, SEQUENCE,
# STATISTICS or SCHEMA, ALTER TABLE, COMMENT ON TABLE, COLUMN, INDEX or
# SCHEMA), which run once at install; an update changes those with the ALTERs
# of its own src/updates/<from>--<to>.sql.  Functions, views, triggers and
# aggregates are written CREATE OR REPLACE, shipped rows as upserts, so that
# running them again is harmless.  A storage statement starts at the start of
# a line and ends at the first line that ends with ";".
FNR == 1 { skip = 0 }
/^\\echo / { next }
!skip && /^(CREATE (UNIQUE )?(TABLE|INDEX|SEQUENCE|STATISTICS|SCHEMA)|ALTER TABLE|COMMENT ON (TABLE|COLUMN|INDEX|SCHEMA))[ \t]/ { skip = 1 }
!skip { print }
skip && /;[ \t]*$/ { skip = 0 }
