"""pytest --dbgpipe-leaks: each test in rounds, rss-rounds' verdict, leaking tests fail.

Off unless asked: with --dbgpipe-leaks every selected test is measured, without it only the
tests marked @pytest.mark.dbgpipe_leaks. A measured test's fixtures are set up once; its
function is then called in rounds of an empty function first (the loop's own noise), a few
unmeasured warm-up calls, and the measured rounds (rounds.py). The rss-rounds binary judges
them; a test with a leaking series fails with the growth per round of each.

Under pytest-xdist each worker measures the tests it runs; the records travel to the
controller in the reports' user_properties, and the controller alone writes --dbgpipe-report
and the terminal summary.
"""

import gc
import inspect
import json
import sys
import time

import pytest

from . import rounds as rounds_mod

# The key of the records in a report's user_properties.
PROPERTY = "dbgpipe_leaks"
TOOL = "dbgpipe-pytest"
SCHEMA = 2
DEFAULT_ROUNDS = 50
DEFAULT_WARMUP = 3
# rss-rounds drops 20% of the rounds as warm-up and judges no fewer than 10 points.
MIN_ROUNDS = 15

_settings_key = pytest.StashKey()
_records_key = pytest.StashKey()


def pytest_addoption(parser):
    group = parser.getgroup("dbgpipe", "dbgpipe: leaks per test, judged by rss-rounds")
    group.addoption(
        "--dbgpipe-leaks",
        action="store_true",
        default=False,
        help="run every selected test in warm-up calls plus measured rounds, in this process "
        "with its fixtures set up once, and fail the tests whose rounds rss-rounds judges "
        "leaking, with the growth per round. Without it only tests marked dbgpipe_leaks are "
        "measured.",
    )
    group.addoption(
        "--dbgpipe-rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        metavar="N",
        help=f"measured rounds per test, after as many rounds of an empty test (the noise "
        f"rss-rounds subtracts); at least {MIN_ROUNDS} (default: {DEFAULT_ROUNDS}).",
    )
    group.addoption(
        "--dbgpipe-warmup",
        type=int,
        default=DEFAULT_WARMUP,
        metavar="N",
        help=f"unmeasured calls of a test before its rounds (default: {DEFAULT_WARMUP}).",
    )
    group.addoption(
        "--dbgpipe-measure",
        default=None,
        metavar="LIST",
        help="what a round's change is measured in, comma-separated: refs "
        "(sys.gettotalrefcount, debug builds), blocks (sys.getallocatedblocks, with pymalloc), "
        "malloc (bytes in use by glibc's malloc; exact with "
        f"GLIBC_TUNABLES={rounds_mod.NO_TCACHE}, else a block freed in a round can hide one "
        "leaked), rss (resident set size) (default: every one this interpreter offers).",
    )
    group.addoption(
        "--dbgpipe-report",
        default=None,
        metavar="FILE",
        help="write the verdicts to FILE as JSON lines: per measured test a test record and "
        "rss-rounds' baseline and verdict records, then a summary (dbgpipe's SCHEMA.md).",
    )


class Settings:
    """What --dbgpipe-* asked for, checked once per process."""

    def __init__(self, config):
        self.all_tests = config.getoption("--dbgpipe-leaks")
        self.rounds = config.getoption("--dbgpipe-rounds")
        self.warmup = config.getoption("--dbgpipe-warmup")
        self.report_path = config.getoption("--dbgpipe-report")
        if self.rounds < MIN_ROUNDS:
            raise pytest.UsageError(
                f"--dbgpipe-rounds {self.rounds}: at least {MIN_ROUNDS} (rss-rounds judges "
                "no fewer than 10 rounds after its 20% warm-up)"
            )
        if self.warmup < 0:
            raise pytest.UsageError(f"--dbgpipe-warmup {self.warmup}: at least 0")
        found, missing = rounds_mod.probes()
        asked = config.getoption("--dbgpipe-measure")
        if asked is None:
            names = [n for n in rounds_mod.MEASURES if n in found]
        else:
            names = [n.strip() for n in asked.split(",") if n.strip()]
            if not names:
                raise pytest.UsageError("--dbgpipe-measure: name at least one measure")
            for n in names:
                if n not in rounds_mod.MEASURES:
                    raise pytest.UsageError(
                        f"--dbgpipe-measure {asked}: no measure {n!r}; "
                        f"choose from {', '.join(rounds_mod.MEASURES)}"
                    )
                if n not in found:
                    raise pytest.UsageError(f"--dbgpipe-measure {n}: {missing[n]}")
        self.measures = names
        self.reads = [found[n] for n in names]
        self.malloc_exact = "malloc" in names and rounds_mod.tcache_off()
        self.rss_rounds = rounds_mod.find_rss_rounds()
        self.python = sys.version.split()[0]
        self.debug_build = hasattr(sys, "gettotalrefcount")
        worker = getattr(config, "workerinput", None)
        self.worker = worker.get("workerid") if worker else None


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "dbgpipe_leaks: measure this test for leaks in rounds, as --dbgpipe-leaks measures "
        "every test.",
    )
    config.addinivalue_line(
        "markers",
        "dbgpipe_once: a test that cannot be repeated: --dbgpipe-leaks runs it once, unmeasured.",
    )
    settings = Settings(config)
    config.stash[_settings_key] = settings
    if settings.all_tests and settings.rss_rounds is None:
        raise pytest.UsageError(f"--dbgpipe-leaks: {rounds_mod.NOT_FOUND}")
    if settings.worker is None:
        config.pluginmanager.register(Reporter(settings), "dbgpipe-reporter")


def _asked(item, settings):
    return settings.all_tests or item.get_closest_marker("dbgpipe_leaks") is not None


def _test_record(item, settings, verdict, **fields):
    """The `test` record of SCHEMA.md; `fields` fill in what is known."""
    record = {
        "type": "test",
        "nodeid": item.nodeid,
        "verdict": verdict,
        "leaking": [],
        "message": None,
        "reason": None,
        "rounds": settings.rounds,
        "noise_rounds": settings.rounds,
        "warmup_calls": settings.warmup,
        "measures": list(settings.measures),
        "malloc_exact": settings.malloc_exact,
        "worker": settings.worker,
        "python": settings.python,
        "debug_build": settings.debug_build,
        "seconds": None,
    }
    record.update(fields)
    return record


def _not_measured(item, reason):
    settings = item.config.stash[_settings_key]
    item.stash[_records_key] = [_test_record(item, settings, "not_measured", reason=reason)]


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    settings = pyfuncitem.config.stash[_settings_key]
    function = pyfuncitem.obj
    if not _asked(pyfuncitem, settings):
        yield
        return
    if pyfuncitem.get_closest_marker("dbgpipe_once"):
        _not_measured(pyfuncitem, "marked dbgpipe_once: run once, unmeasured")
        yield
        return
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        _not_measured(pyfuncitem, "an async test function: run once, unmeasured")
        yield
        return

    # pytest's own pytest_pyfunc_call calls pyfuncitem.obj with the fixtures' values, once.
    def in_rounds(**kwargs):
        _in_rounds(pyfuncitem, settings, function, kwargs)

    pyfuncitem.obj = in_rounds
    try:
        yield
    finally:
        pyfuncitem.obj = function


def _empty(**kwargs):
    pass


def _counting(function, kwargs, count):
    """The call of one round; `count[0]` counts calls (the same cost for noise and test)."""

    def call():
        count[0] += 1
        function(**kwargs)

    return call


def _in_rounds(item, settings, function, kwargs):
    """The test's call phase: noise rounds, warm-up calls, measured rounds, the verdict."""
    if settings.rss_rounds is None:
        _not_measured(item, rounds_mod.NOT_FOUND)
        pytest.fail(f"dbgpipe_leaks: {rounds_mod.NOT_FOUND}", pytrace=False)
    start = time.monotonic()
    calls = [0]
    test = _counting(function, kwargs, calls)
    # What exists now is frozen (gc.freeze): each round's gc.collect() then looks only at
    # what the rounds made, microseconds instead of the tens of milliseconds that a full
    # collection of pytest's objects takes on a debug build.
    gc.collect()
    gc.freeze()
    try:
        noise = rounds_mod.measure(_counting(_empty, kwargs, [0]), settings.reads, settings.rounds)
        for _ in range(settings.warmup):
            test()
        work = rounds_mod.measure(test, settings.reads, settings.rounds)
    except BaseException as error:
        _raised(item, settings, error, calls[0])
        raise
    finally:
        gc.unfreeze()
    try:
        records = rounds_mod.judge(settings.rss_rounds, settings.measures, noise, work)
    except rounds_mod.RssRoundsError as error:
        _not_measured(item, str(error))
        pytest.fail(f"dbgpipe: {error}", pytrace=False)
    verdicts = [r for r in records if r["type"] == "verdict"]
    leaking = [v for v in verdicts if v["verdict"] == "leak"]
    message = reason = None
    if leaking:
        message = f"LEAK {item.name}: " + ", ".join(rounds_mod.growth_words(v) for v in leaking)
    elif records[-1]["verdict"] == "insufficient":
        reason = "; ".join(f"{v['series']}: {v['reason']}" for v in verdicts)
    test_record = _test_record(
        item,
        settings,
        records[-1]["verdict"],
        leaking=[v["series"] for v in leaking],
        message=message,
        reason=reason,
        seconds=round(time.monotonic() - start, 3),
    )
    # rss-rounds' records as it wrote them, with the test's id added at the end.
    item.stash[_records_key] = [test_record] + [
        dict(r, nodeid=item.nodeid) for r in records if r["type"] != "summary"
    ]
    if message:
        pytest.fail(message, pytrace=False)


def _raised(item, settings, error, calls):
    """The test raised (failed, skipped) in its `calls`-th call: say so, and when it had
    passed before, that it may be a test that cannot be repeated."""
    if calls == 0:
        phase = "the rounds of an empty test before it (the noise)"
    elif calls <= settings.warmup:
        phase = f"warm-up call {calls} of {settings.warmup}"
    else:
        phase = f"measured round {calls - settings.warmup} of {settings.rounds}"
    reason = f"the test raised {type(error).__name__} in {phase}"
    _not_measured(item, reason)
    if calls > 1:
        item.add_report_section(
            "call",
            "dbgpipe",
            f"{reason}, after {calls - 1} call(s) that passed: --dbgpipe-leaks calls a test "
            f"{settings.warmup + settings.rounds} times; mark one that cannot be repeated "
            "@pytest.mark.dbgpipe_once",
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call":
        return
    settings = item.config.stash[_settings_key]
    records = item.stash.get(_records_key, None)
    if records is None:
        if not _asked(item, settings):
            return
        # pytest_pyfunc_call never ran: a unittest or doctest item.
        reason = f"a {type(item).__name__} item, not a test function: run once, unmeasured"
        records = [_test_record(item, settings, "not_measured", reason=reason)]
    report = outcome.get_result()
    report.user_properties.append((PROPERTY, json.dumps(records, separators=(",", ":"))))


class Reporter:
    """The controller's side (the only process, without xdist): the report and the summary."""

    def __init__(self, settings):
        self.settings = settings
        self.tests = []
        self.file = None
        if settings.report_path:
            try:
                self.file = open(settings.report_path, "w")
            except OSError as error:
                raise pytest.UsageError(
                    f"--dbgpipe-report {settings.report_path}: {error.strerror}"
                ) from None

    def _write(self, record):
        if self.file:
            self.file.write(json.dumps(record, separators=(",", ":")) + "\n")
            self.file.flush()

    def pytest_runtest_logreport(self, report):
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == PROPERTY:
                records = json.loads(value)
                self.tests.append(records[0])
                for record in records:
                    self._write(record)

    def summary(self):
        """The `summary` record: the tests by verdict."""
        counts = {v: 0 for v in ("leak", "no_leak", "insufficient", "not_measured")}
        for t in self.tests:
            counts[t["verdict"]] += 1
        verdict = "leak" if counts["leak"] else "no_leak" if counts["no_leak"] else "insufficient"
        return {
            "type": "summary",
            "tool": TOOL,
            "schema": SCHEMA,
            "verdict": verdict,
            "tests": len(self.tests),
            "leaks": counts["leak"],
            "no_leak": counts["no_leak"],
            "insufficient": counts["insufficient"],
            "not_measured": counts["not_measured"],
            "rounds": self.settings.rounds,
            "warmup_calls": self.settings.warmup,
            "measures": list(self.settings.measures),
            "malloc_exact": self.settings.malloc_exact,
            "rss_rounds": self.settings.rss_rounds,
        }

    def pytest_terminal_summary(self, terminalreporter):
        if not self.tests:
            return
        s = self.summary()
        tr = terminalreporter
        tr.write_sep("=", "dbgpipe leaks")
        for t in self.tests:
            if t["verdict"] == "leak":
                growth = t["message"].split(": ", 1)[1]
                tr.write_line(f"LEAK {t['nodeid']}: {growth}")
            elif t["verdict"] != "no_leak":
                tr.write_line(f"{t['verdict']} {t['nodeid']}: {t['reason']}")
        measured = ", ".join(self.settings.measures)
        if "malloc" in self.settings.measures and not self.settings.malloc_exact:
            measured += f"; malloc exact with GLIBC_TUNABLES={rounds_mod.NO_TCACHE}"
        where = f"; report in {self.settings.report_path}" if self.file else ""
        tr.write_line(
            f"dbgpipe: {s['leaks']} of {s['tests']} tests leak ({self.settings.rounds} rounds "
            f"after {self.settings.warmup} warm-up calls; measured {measured}){where}"
        )

    def pytest_unconfigure(self, config):
        if self.file:
            self._write(self.summary())
            self.file.close()
            self.file = None
