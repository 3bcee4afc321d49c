"""A migration operation that makes the database itself refuse to change or remove a table's rows, whatever
the application does (incident timelines, SLO breaches).

The trigger function lives in each client's schema (created through its search path), so client schemas never
race to replace one shared function while they migrate in parallel.
"""

from __future__ import annotations

from django.db import migrations


def append_only(table: str, name: str, what: str) -> migrations.RunSQL:
    """`name` names the trigger (`<name>_append_only`) and its function (`keel_<name>_refuse_change`); `what`
    opens the error message ("SLO breaches")."""
    function, trigger = f"keel_{name}_refuse_change", f"{name}_append_only"
    forward = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{what} are append-only: % refused on %.%', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER IF EXISTS {trigger} ON {table};
CREATE TRIGGER {trigger}
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    backward = f"""
DROP TRIGGER IF EXISTS {trigger} ON {table};
DROP FUNCTION IF EXISTS {function}();
"""
    return migrations.RunSQL(forward, backward)
