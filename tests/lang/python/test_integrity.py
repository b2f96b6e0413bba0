"""es_integrity_check and re-entry from Python's standard sqlite3 module (Debian's python3).

What a Python user sees: the report as rows (kind, object, problem) on a sound database and after
damage made through a second connection without the extension; es_protect() repairing the guards
but not the lost event, which the report and the next command keep naming; and a Python function
called from a SQL decider that submits another command on the same connection: refused with
sqlite3.InterfaceError (SQLITE_MISUSE), the outer command then failing or completing as the
function chooses, never half-done. Run through tests/lang/python/run.py.
"""
import sqlite3
import unittest

from test_submit import BANK, ES, EsCase

NESTED = ("es: misuse: es_submit cannot run while es_submit is running on this connection (a decider, an evolver"
          " or a view handler called it): run it after es_submit returns")


class IntegrityCheck(EsCase):
    def report(self, c, mode=None):
        sql = "SELECT kind, object, problem FROM es_integrity_check" + ("(?)" if mode else "")
        return c.execute(sql, (mode,) if mode else ()).fetchall()

    def test_sound_database_is_ok(self):
        c = self.connect(isolation_level=None)
        self.assertEqual(self.report(c), [("ok", None, "ok")])
        self.open_with_100(c)
        c.execute("SELECT es_create_consumer('mailer')")
        self.assertEqual(self.report(c), [("ok", None, "ok")])
        self.assertEqual(self.report(c, "quick"), [("ok", None, "ok")])
        with self.assertRaises(sqlite3.OperationalError) as cm:
            self.report(c, "deep")
        self.assertEqual(str(cm.exception), "es: invalid_argument: es_integrity_check takes 'full' (the default) or 'quick'")

    def test_damage_is_named_and_protect_restores_only_guards(self):
        c = self.connect(isolation_level=None)
        self.open_with_100(c)
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 5}), 3)
        c.execute("SELECT es_create_consumer('mailer')")
        plain = self.observer()
        plain.execute("DROP TRIGGER es_events_no_delete")
        plain.execute("DELETE FROM es_events WHERE position = 3")
        plain.execute("DROP TRIGGER es_checkpoints_update_guard")
        plain.execute("UPDATE es_checkpoints SET position = 50")
        plain.close()
        self.conns.remove(plain)
        self.assertEqual(self.report(c), [
            ("guard_missing", "es_events_no_delete", "trigger es_events_no_delete is missing, so the log is not"
             " protected; restore it with SELECT es_protect()"),
            ("guard_missing", "es_checkpoints_update_guard", "trigger es_checkpoints_update_guard is missing, so"
             " es_checkpoints is not protected; restore it with SELECT es_protect()"),
            ("positions", "es_events", "position 3 was given, but es_events ends at position 2: events at the end of"
             " the log were deleted"),
            ("checkpoint", "mailer", "consumer 'mailer' is at position 50, past the last position given (3): it would"
             " skip every event up to there"),
        ])
        self.assertEqual(c.execute("SELECT es_protect()").fetchone()[0], 2)
        self.assertEqual([k for k, _, _ in self.report(c)], ["positions", "checkpoint"])
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            self.submit(c, "a1", "Deposit", {"amount": 5})
        self.assertTrue(str(cm.exception).startswith("es: protected: the log has lost events: position 3 was given"))
        self.assertEqual(self.count(c), 2)


class Reentry(EsCase):
    """A Python function inside a SQL decider calls es_submit on the same connection."""

    def define(self, c, swallow):
        def nested():
            try:
                return c.execute("SELECT es_submit('account', 'inner', 'OpenAccount', '{\"owner\":\"x\"}')").fetchone()[0]
            except sqlite3.InterfaceError as e:
                if swallow:
                    return str(e)
                raise
        c.create_function("nested", 0, nested)
        c.execute("SELECT es_create_aggregate('box', '{}', '[\"Filled\"]')")
        c.execute("CREATE VIEW box_fill AS SELECT 'Filled' AS type, json_object('note', nested()) AS data FROM es_command")
        c.execute("SELECT es_create_decider('box', 'Fill', 'box_fill')")

    def test_refused_and_swallowed(self):
        c = self.connect(extensions=(ES,), isolation_level=None)
        c.enable_load_extension(True)
        c.load_extension(BANK)
        self.define(c, swallow=True)
        self.assertEqual(self.submit(c, "b1", "Fill", agg_type="box"), 1)
        self.assertEqual(c.execute("SELECT json_extract(data, '$.note') FROM es_events").fetchall(), [(NESTED,)])
        self.assertEqual(c.execute("SELECT count(*) FROM es_events WHERE aggregate_id = 'inner'").fetchone()[0], 0)

    def test_refused_and_raised(self):
        c = self.connect(isolation_level=None)
        self.define(c, swallow=False)
        with self.assertRaises(sqlite3.OperationalError) as cm:  # Python reports its own function's failure so
            self.submit(c, "b1", "Fill", agg_type="box")
        self.assertIn("user-defined function raised exception", str(cm.exception))
        self.assertEqual(self.count(c), 0)
        self.assertFalse(c.in_transaction)


if __name__ == "__main__":
    unittest.main()
