# The part of the stage sources that every update runs again: everything but
# the statements that make or change storage once (CREATE TABLE, INDEX,
# SEQUENCE, STATISTICS or SCHEMA, ALTER TABLE); an update makes those changes
# with the ALTERs of its own src/updates/<from>--<to>.sql.  What runs again is
# written to be harmless the second time: functions, views, triggers and
# aggregates CREATE OR REPLACE, shipped rows as upserts, comments, grants, and
# a table a version adds as CREATE TABLE IF NOT EXISTS (so it is written once,
# in its stage).  A storage statement starts at the start of a line and ends
# at the first line that ends with ";".
FNR == 1 { skip = 0 }
/^\\echo / { next }
!skip && /^(CREATE (UNIQUE )?(TABLE|INDEX|SEQUENCE|STATISTICS|SCHEMA)|ALTER TABLE)[ \t]/ \
      && !/^CREATE (UNIQUE )?(TABLE|INDEX|SEQUENCE|STATISTICS) IF NOT EXISTS[ \t]/ { skip = 1 }
!skip { print }
skip && /;[ \t]*$/ { skip = 0 }
