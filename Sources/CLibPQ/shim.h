#ifndef ALGOTRADER_CLIBPQ_SHIM_H
#define ALGOTRADER_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <postgres_ext.h>

/* The PG_DIAG_* macros are character literals ('C', 'M', ...) that Swift cannot import; they are
   re-exported here as typed constants so the wrapper can ask PQresultErrorField for them. */
static const int algotrader_pg_diag_sqlstate = PG_DIAG_SQLSTATE;
static const int algotrader_pg_diag_message_primary = PG_DIAG_MESSAGE_PRIMARY;
static const int algotrader_pg_diag_message_detail = PG_DIAG_MESSAGE_DETAIL;
static const int algotrader_pg_diag_message_hint = PG_DIAG_MESSAGE_HINT;
static const int algotrader_pg_diag_severity = PG_DIAG_SEVERITY_NONLOCALIZED;
static const int algotrader_pg_diag_constraint_name = PG_DIAG_CONSTRAINT_NAME;
#endif
