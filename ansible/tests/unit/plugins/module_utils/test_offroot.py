# -*- coding: utf-8 -*-
# Copyright 2026 offroot developers
# GNU General Public License v2.0 or later (see COPYING or https://www.gnu.org/licenses/gpl-2.0.txt)
"""The offroot module's logic against a fake host: what it runs, how it reads
the CLI's JSON, what it decides in each state, and what it says on failure.
Fixtures: real `offroot --json` output (status, check, enter --dry-run) and
the CLI's stderr lines, in ../../fixtures. Those of the dead-man time limit
(status-detached-*.json, status-transition-running.json, extend-*, confirm-*)
are offroot's own output in the namespace scenario time-limit (tests/ns: a
real offroot-init as PID 1, DETACHED), durations-refused.tsv and *-outside.*
the built CLI's on a machine without an emergency environment."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from conftest import load_logic

m = load_logic()
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


class FakeHost(object):
    """Answers offroot command lines from a script of (argv-prefix, answer)
    pairs, in order; an answer is (rc, stdout, stderr), a callable, or an
    exception to raise."""

    def __init__(self, *script):
        self.script = list(script)
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        for i, (prefix, answer) in enumerate(self.script):
            if list(argv[:len(prefix)]) == list(prefix):
                if not (isinstance(answer, tuple) and len(answer) == 4 and answer[3] == "repeat"):
                    del self.script[i]
                else:
                    answer = answer[:3]
                if isinstance(answer, Exception):
                    raise answer
                if callable(answer):
                    return answer(argv)
                return answer
        raise AssertionError("unexpected command %r" % (argv,))


OFF = "/usr/sbin/offroot"
STATUS = [OFF, "--json", "status"]
CHECK = [OFF, "--json", "check"]
ENTER = [OFF, "--json", "enter"]
RETURN = [OFF, "--json", "return"]


def ok(stdout="", stderr=""):
    return (0, stdout, stderr)


def around(before, argv, answer, after):
    """A host whose status (fixture `before`) is read, then argv answered,
    then status (fixture `after`, or an exception) read again."""
    return FakeHost((STATUS, ok(fixture(before))), (argv, answer),
                    (STATUS, after if isinstance(after, Exception) else ok(fixture(after))))


def run(params, host, check_mode=False):
    clock = {"t": 0.0}

    def sleep(s):
        clock["t"] += s

    return m.run(params, host, check_mode=check_mode, sleep=sleep, clock=lambda: clock["t"])


# ---------------------------------------------------------------------------
# parsing


def test_status_of_this_build_host_parses():
    s = m.parse_status(fixture("status-no-emergency.json"))
    assert s["state"] == "NO-EMERGENCY-ENVIRONMENT"
    assert s["root_switch"] is None and s["running_in_rootfs"] is False


def test_status_behind_a_banner_line_parses():
    s = m.parse_status("Welcome to the rescue shell\n" + fixture("status-detached.json"))
    assert s["state"] == "DETACHED"


@pytest.mark.parametrize("text,words", [
    ("", "printed nothing"),
    ("offroot status: NORMAL\n", "did not print a JSON object: offroot status: NORMAL"),
    ('{"state":"HALFWAY"}', "unknown state 'HALFWAY'"),
    ("[1, 2]", "did not print a JSON object"),
])
def test_bad_status_output_says_what_is_wrong(text, words):
    with pytest.raises(m.OffrootFailure) as e:
        m.parse_status(text)
    assert words in e.value.msg


def test_check_go_and_nogo_parse():
    assert m.parse_check(fixture("check-go.json"))["go"] is True
    nogo = m.parse_check(fixture("check-nogo-holder.json"))
    assert nogo["go"] is False and "@holder" in nogo["blockers"][0]
    real = m.parse_check(fixture("check-nogo-no-emergency.json"))
    assert real["go"] is False and len(real["blockers"]) == 2


def test_check_without_go_is_refused():
    with pytest.raises(m.OffrootFailure) as e:
        m.parse_check('{"state":"NORMAL","blockers":[]}')
    assert "no go/no-go answer" in e.value.msg


def test_nogo_without_blockers_gets_a_reason():
    assert m.parse_check('{"go":false,"blockers":[]}')["blockers"] == ["offroot check said no-go without a reason"]


def test_plan_parses():
    plan = m.parse_plan(fixture("enter-dry-run.json"), "enter")
    assert plan["command"] == "enter" and plan["steps"][0]["name"] == "continue-from-rootfs"


def test_cli_reason_joins_the_blocker_list():
    r = m.cli_reason(fixture("enter-refused.stderr"))
    assert r.startswith("refusing to enter, nothing was changed: sleep (pid 777) is a root storage daemon")
    assert "\n" not in r


def test_cli_reason_takes_the_last_message_after_progress_lines():
    err = fixture("enter-done.stderr") + "offroot: error: unmount: umount /root: Device or resource busy (EBUSY)\n"
    assert m.cli_reason(err) == "unmount: umount /root: Device or resource busy (EBUSY)"


def test_cli_reason_drops_the_usage_text():
    assert m.cli_reason(fixture("usage-error.stderr")) == "enter: unrecognised option '--bogus'"


def test_cli_reason_with_a_hint():
    assert m.cli_reason(fixture("return-dry-run-norecord.stderr")) == (
        "no root device given and none recorded by offroot enter; give it: offroot return --root /dev/vda1")


def test_cli_reason_without_offroot_lines():
    assert m.cli_reason("sh: offroot: not found\n") == "sh: offroot: not found"
    assert m.cli_reason("", "") == "no message"


def test_summary_lines():
    assert m.summary_line(fixture("enter-done.stderr"), "DETACHED").startswith("DETACHED: /dev/vda is free, 1.1 s")
    assert m.summary_line(fixture("return-done.stderr"), "NORMAL") == "NORMAL: sshd on port 22 answers, 9.8 s after offroot return"
    assert m.summary_line("", "NORMAL") is None


# ---------------------------------------------------------------------------
# options and command lines


def test_command_lines():
    p = m.validate_params(dict(command="return", root="/dev/vdb", fsck=True))
    assert m.build_argv(p) == [OFF, "--json", "return", "--root", "/dev/vdb", "--fsck"]
    assert m.build_argv(p, dry_run=True)[-1] == "--dry-run"
    assert m.build_argv(p, "status") == STATUS
    p = m.validate_params(dict(command="enter", min_free=128, executable="/opt/offroot"))
    assert m.build_argv(p) == ["/opt/offroot", "--json", "enter", "--min-free", "128"]
    assert m.quote_argv(["offroot", "--root", "/dev/my disk"]) == "offroot --root '/dev/my disk'"


def test_time_limits_on_the_command_line():
    p = m.validate_params(dict(command="enter", time_limit="1h30m", min_free=32))
    assert m.build_argv(p) == [OFF, "--json", "enter", "--min-free", "32", "--timeout", "1h30m"]
    assert m.build_argv(p, dry_run=True)[-3:] == ["--timeout", "1h30m", "--dry-run"]
    assert "--timeout" not in m.build_argv(m.validate_params(dict(command="enter")))
    # Empty is none: the window role passes "" to disable it.
    assert "--timeout" not in m.build_argv(m.validate_params(dict(command="enter", time_limit="")))
    assert m.build_argv(m.validate_params(dict(command="extend", time_limit="45m"))) == [OFF, "--json", "extend", "45m"]
    assert m.build_argv(m.validate_params(dict(command="confirm"))) == [OFF, "--json", "confirm"]
    p = m.validate_params(dict(command="return", fsck=True, sshd_timeout="10m"))
    assert m.build_argv(p) == [OFF, "--json", "return", "--fsck", "--sshd-timeout", "10m"]


def _refused_durations():
    # What the real CLI says of each (offroot --json enter --timeout V,
    # extend V, return --sshd-timeout V): exit 2 and one line.
    rows = []
    for line in fixture("durations-refused.tsv").splitlines():
        command, value, rc, said = line.split("\t")
        rows.append((command, value, int(rc), said))
    return rows


@pytest.mark.parametrize("command,value,rc,said", _refused_durations())
def test_durations_are_refused_in_the_cli_s_words_before_anything_runs(command, value, rc, said):
    assert rc == 2
    cli_prefix = {"enter": "offroot: enter: --timeout: ", "extend": "offroot: extend: ",
                  "return": "offroot: return: --sshd-timeout: "}[command]
    option = "sshd_timeout" if command == "return" else "time_limit"
    assert said.startswith(cli_prefix)
    host = FakeHost()
    r = run({"command": command, option: value}, host)
    assert r["failed"] and host.calls == []
    assert r["msg"] == option + ": " + said[len(cli_prefix):]


@pytest.mark.parametrize("text,seconds", [
    ("90s", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), ("1m", 60), ("366d", 366 * 86400),
    ("1h1h", 7200), ("007m", 420),
])
def test_durations_the_cli_takes(text, seconds):
    assert m.parse_duration(text, "time_limit") == seconds
    if seconds >= 60:
        assert m.parse_time_limit(text, "time_limit") == seconds


def test_sshd_timeout_has_no_minimum_but_time_limit_has():
    assert m.parse_duration("10s", "sshd_timeout") == 10
    with pytest.raises(m.OffrootFailure) as e:
        m.parse_time_limit("59s", "time_limit")
    assert e.value.msg == "time_limit: 59s is shorter than the minimum of 1m; leave yourself the time to log in again on port 1022"
    with pytest.raises(m.OffrootFailure) as e:
        m.parse_duration("366d1s", "time_limit")
    assert "is more than a year" in e.value.msg


@pytest.mark.parametrize("seconds,text", [(5400, "1h30m"), (90, "1m30s"), (0, "0s"), (-125, "-2m5s"), (90061, "1d1h1m1s")])
def test_durations_are_written_as_the_cli_writes_them(seconds, text):
    assert m.format_duration(seconds) == text


@pytest.mark.parametrize("params,words", [
    (dict(command="enter", root="/dev/vdb"), "root is an option of command=return only"),
    (dict(command="check", fsck=True), "fsck is an option of command=return only"),
    (dict(command="return", min_free=10), "min_free is an option of command=check and command=enter"),
    (dict(command="status", time_limit="1h"), "time_limit is an option of command=enter (offroot enter --timeout) and command=extend"),
    (dict(command="return", time_limit="1h"), "for return, sshd_timeout is offroot return --sshd-timeout"),
    (dict(command="extend"), "command=extend needs time_limit"),
    (dict(command="extend", time_limit=""), "command=extend needs time_limit"),
    (dict(command="enter", sshd_timeout="5m"), "sshd_timeout is an option of command=return only"),
    (dict(command="enter", time_limit="30"), 'time_limit: the duration "30" has no unit'),
    (dict(command="return", root="vdb"), "root must be a block device path under /dev"),
    (dict(command="enter", timeout=0), "timeout must be a positive"),
    (dict(command="reboot"), "command must be one of status, check, enter, return, extend, confirm"),
])
def test_option_mistakes_fail_before_anything_runs(params, words):
    host = FakeHost()
    r = run(params, host)
    assert r["failed"] and words in r["msg"]
    assert host.calls == []


# ---------------------------------------------------------------------------
# decisions


@pytest.mark.parametrize("command,state,action", [
    ("enter", "NORMAL", "run"),
    ("enter", "DETACHED", "noop"),
    ("enter", "TRANSITION", "fail"),
    ("enter", "NO-EMERGENCY-ENVIRONMENT", "fail"),
    ("return", "DETACHED", "run"),
    ("return", "NORMAL", "noop"),
    ("return", "NO-EMERGENCY-ENVIRONMENT", "noop"),
    ("return", "TRANSITION", "fail"),
])
def test_decisions(command, state, action):
    assert m.decide(command, state)[0] == action


# ---------------------------------------------------------------------------
# status and check


def test_status_is_a_fact_and_no_change():
    r = run(dict(command="status"), FakeHost((STATUS, ok(fixture("status-normal-1022.json")))))
    assert not r["failed"] and not r["changed"]
    assert r["state"] == "NORMAL" and r["ansible_facts"]["offroot_status"]["emergency_dropbear_pid"] == 412
    assert r["commands"] == ["/usr/sbin/offroot --json status"]


def test_status_failure_carries_the_reason():
    r = run(dict(command="status"), FakeHost((STATUS, (1, "", "offroot: reading /proc/self/mountinfo: Permission denied (EACCES)\n"))))
    assert r["failed"]
    assert r["msg"] == "offroot status failed (exit 1): reading /proc/self/mountinfo: Permission denied (EACCES)"


def test_offroot_missing_says_so():
    r = run(dict(command="status"), FakeHost((STATUS, (127, "", "sh: /usr/sbin/offroot: not found\n"))))
    assert r["failed"] and "cannot run offroot (exit 127: sh: /usr/sbin/offroot: not found)" in r["msg"]
    assert "is the offroot package installed" in r["msg"]


def test_check_go():
    r = run(dict(command="check"), FakeHost((CHECK, ok(fixture("check-go.json")))))
    assert not r["failed"] and not r["changed"] and r["go"] is True and r["msg"] == "offroot check: GO"
    assert r["ansible_facts"]["offroot_check"]["init"]["system"] == "systemd"


def test_check_nogo_fails_with_the_blockers():
    r = run(dict(command="check", min_free=32), FakeHost((CHECK + ["--min-free", "32"], (1, fixture("check-nogo-holder.json"), ""))))
    assert r["failed"] and not r["changed"] and r["go"] is False
    assert r["msg"].startswith("offroot check: NO-GO, 1 blocker: sleep (pid 777) is a root storage daemon")
    assert r["ansible_facts"]["offroot_check"]["go"] is False


def test_check_nogo_as_a_fact_only():
    r = run(dict(command="check", fail_on_nogo=False), FakeHost((CHECK, (1, fixture("check-nogo-no-emergency.json"), ""))))
    assert not r["failed"] and r["go"] is False and r["msg"].startswith("offroot check: NO-GO, 2 blockers: ")


def test_check_usage_error_is_a_failure_not_a_nogo():
    r = run(dict(command="check"), FakeHost((CHECK, (2, "", fixture("usage-error.stderr")))))
    assert r["failed"] and r["msg"] == "offroot check failed (exit 2): enter: unrecognised option '--bogus'"


def test_check_without_json_reports_stderr():
    r = run(dict(command="check"), FakeHost((CHECK, (1, "", "offroot: scanning /proc: Permission denied (EACCES)\n"))))
    assert r["failed"] and r["msg"] == "offroot check failed (exit 1): scanning /proc: Permission denied (EACCES)"


def test_status_and_check_are_the_same_in_check_mode():
    r = run(dict(command="check"), FakeHost((CHECK, ok(fixture("check-go.json")))), check_mode=True)
    assert r["go"] and not r["changed"]


# ---------------------------------------------------------------------------
# enter


def test_enter_from_the_emergency_session_waits_for_detached():
    host = FakeHost(
        (STATUS, ok(fixture("status-normal-1022.json"))),
        (ENTER, ok("", fixture("enter-done.stderr"))),
        (STATUS, ok(fixture("status-detached.json"))),
    )
    r = run(dict(command="enter"), host)
    assert not r["failed"] and r["changed"] and r["state"] == "DETACHED"
    assert r["msg"].startswith("DETACHED: /dev/vda is free")
    assert r["ansible_facts"]["offroot_status"]["state"] == "DETACHED"
    assert [c[2] for c in host.calls] == ["status", "enter", "status"]


def test_enter_polls_through_transition():
    host = FakeHost(
        (STATUS, ok(fixture("status-normal-1022.json"))),
        (ENTER, ok()),
        (STATUS, ok(fixture("status-transition.json"))),
        (STATUS, (1, "", "offroot: reading /proc/1/exe: No such process\n")),
        (STATUS, ok(fixture("status-detached.json"))),
    )
    r = run(dict(command="enter"), host)
    assert r["changed"] and r["state"] == "DETACHED" and r["msg"] == "DETACHED"


def test_enter_on_a_detached_host_is_no_change():
    host = FakeHost((STATUS, ok(fixture("status-detached.json"))))
    r = run(dict(command="enter"), host)
    assert not r["failed"] and not r["changed"] and r["state"] == "DETACHED"
    assert r["msg"].startswith("already DETACHED")
    assert len(host.calls) == 1


def test_enter_refused_says_why_and_where_the_host_is():
    host = FakeHost(
        (STATUS, ok(fixture("status-normal-1022.json"))),
        (ENTER, (1, "", fixture("enter-refused.stderr"))),
        (STATUS, ok(fixture("status-normal-1022.json"))),
    )
    r = run(dict(command="enter"), host)
    assert r["failed"] and not r["changed"] and r["state"] == "NORMAL"
    assert r["msg"].startswith("offroot enter failed (exit 1): refusing to enter, nothing was changed: sleep (pid 777)")
    assert r["msg"].endswith("; the host is NORMAL (nothing was changed, or every step was undone)")


def test_enter_without_emergency_environment_fails_before_running_it():
    host = FakeHost((STATUS, ok(fixture("status-no-emergency.json"))))
    r = run(dict(command="enter"), host)
    assert r["failed"] and "no emergency environment" in r["msg"] and "arm it first" in r["msg"]
    assert len(host.calls) == 1


def test_enter_in_transition_fails():
    r = run(dict(command="enter"), FakeHost((STATUS, ok(fixture("status-transition.json")))))
    assert r["failed"] and r["msg"].startswith("cannot enter: the host is TRANSITION")


def test_enter_from_a_normal_session_is_pending():
    host = FakeHost(
        (STATUS, ok(fixture("status-normal-22.json"))),
        (ENTER, ok(fixture("enter-from-22.stdout"))),
    )
    r = run(dict(command="enter"), host)
    assert r["changed"] and r["pending"] and not r["failed"]
    assert "continues inside the emergency environment" in r["msg"]
    assert len(host.calls) == 2


def test_enter_that_never_reaches_detached_times_out():
    host = FakeHost(
        (STATUS, ok(fixture("status-normal-1022.json"))),
        (ENTER, ok()),
        (STATUS, (0, fixture("status-transition.json"), "", "repeat")),
    )
    r = run(dict(command="enter", timeout=10), host)
    assert r["failed"] and r["state"] == "TRANSITION"
    assert r["msg"] == ("offroot enter said it was done, but the host is not DETACHED after 10 s: the host is TRANSITION")


def test_enter_losing_the_connection_is_a_failure():
    host = FakeHost(
        (STATUS, ok(fixture("status-normal-1022.json"))),
        (ENTER, m.ConnectionLost("ssh: connect to host 10.0.0.1 port 1022: Connection refused")),
    )
    r = run(dict(command="enter"), host)
    assert r["failed"] and r["msg"].startswith("lost the connection to the host while running /usr/sbin/offroot --json enter")


def test_enter_check_mode_runs_the_dry_run():
    host = FakeHost(
        (STATUS, ok(fixture("status-normal-1022.json"))),
        (CHECK, ok(fixture("check-go.json"))),
        (ENTER + ["--dry-run"], ok(fixture("enter-dry-run.json"))),
    )
    r = run(dict(command="enter"), host, check_mode=True)
    assert r["changed"] and not r["failed"] and r["plan"]["steps"]
    assert r["msg"].startswith("would enter DETACHED (check mode")
    assert not any(c[2] == "enter" and "--dry-run" not in c for c in host.calls)


def test_enter_check_mode_on_nogo_fails_with_blockers():
    host = FakeHost(
        (STATUS, ok(fixture("status-normal-1022.json"))),
        (CHECK, (1, fixture("check-nogo-holder.json"), "")),
    )
    r = run(dict(command="enter"), host, check_mode=True)
    assert r["failed"] and r["msg"].startswith("offroot enter would be refused: NO-GO, 1 blocker: sleep")
    assert r["blockers"]


def test_enter_check_mode_on_a_detached_host_is_no_change():
    r = run(dict(command="enter"), FakeHost((STATUS, ok(fixture("status-detached.json")))), check_mode=True)
    assert not r["changed"] and not r["failed"]


def test_enter_with_a_time_limit_reports_it_once_detached():
    host = around("status-normal-1022.json", ENTER + ["--timeout", "30m"], ok("", fixture("enter-done.stderr")),
                  "status-detached-time-limit.json")
    r = run(dict(command="enter", time_limit="30m"), host)
    assert not r["failed"] and r["changed"] and r["state"] == "DETACHED"
    assert host.calls[1] == ENTER + ["--timeout", "30m"]
    assert r["ansible_facts"]["offroot_automatic_return"] == {"limit_seconds": 1800, "seconds_left": 1800,
                                                             "started": False, "failed": None}


def test_enter_with_a_time_limit_from_a_normal_session_passes_it_on():
    host = FakeHost(
        (STATUS, ok(fixture("status-normal-22.json"))),
        (ENTER + ["--timeout", "2h"], ok(fixture("enter-from-22.stdout"))),
    )
    r = run(dict(command="enter", time_limit="2h"), host)
    assert r["changed"] and r["pending"] and host.calls[1] == ENTER + ["--timeout", "2h"]


def test_enter_with_a_time_limit_on_a_detached_host_is_no_change_and_says_the_limit_stands():
    host = FakeHost((STATUS, ok(fixture("status-detached-no-limit.json"))))
    r = run(dict(command="enter", time_limit="30m"), host)
    assert not r["failed"] and not r["changed"] and len(host.calls) == 1
    assert r["msg"].startswith("already DETACHED")
    assert "time_limit 30m was not applied" in r["msg"] and "no automatic return" in r["msg"]
    assert "command=extend sets one" in r["msg"]


def test_enter_check_mode_passes_the_time_limit_to_the_dry_run():
    host = FakeHost(
        (STATUS, ok(fixture("status-normal-1022.json"))),
        (CHECK, ok(fixture("check-go.json"))),
        (ENTER + ["--timeout", "30m", "--dry-run"], ok(fixture("enter-dry-run.json"))),
    )
    r = run(dict(command="enter", time_limit="30m"), host, check_mode=True)
    assert r["changed"] and not r["failed"] and len(host.calls) == 3


# ---------------------------------------------------------------------------
# the dead-man time limit: status, extend, confirm

EXTEND = [OFF, "--json", "extend"]
CONFIRM = [OFF, "--json", "confirm"]


def test_status_reports_the_time_limit():
    r = run(dict(command="status"), FakeHost((STATUS, ok(fixture("status-detached-time-limit.json")))))
    assert r["automatic_return"]["seconds_left"] == 1800
    assert r["ansible_facts"]["offroot_automatic_return"]["limit_seconds"] == 1800
    assert r["msg"] == ("offroot status: DETACHED; automatic return in 30m (time limit 30m) unless offroot extend or "
                        "offroot confirm")
    assert r["automatic_return_msg"] == r["msg"][len("offroot status: DETACHED; "):]


def test_status_reports_a_failed_automatic_return():
    r = run(dict(command="status"), FakeHost((STATUS, ok(fixture("status-detached-return-failed.json")))))
    assert r["msg"].startswith("offroot status: DETACHED; the automatic return FAILED (the time limit of 8s ran out 5s "
                               "ago): no --root given, and the root enter took away is unknown")
    assert r["msg"].endswith("still DETACHED, offroot extend DURATION has it tried again")


def test_status_without_a_time_limit():
    r = run(dict(command="status"), FakeHost((STATUS, ok(fixture("status-detached-no-limit.json")))))
    assert r["automatic_return"] is None and r["ansible_facts"]["offroot_automatic_return"] is None
    assert r["msg"] == "offroot status: DETACHED; no automatic return (offroot extend DURATION sets a time limit)"
    # NORMAL: nothing said of it (the CLI reports null there).
    r = run(dict(command="status"), FakeHost((STATUS, ok(fixture("status-no-emergency.json")))))
    assert r["msg"] == "offroot status: NO-EMERGENCY-ENVIRONMENT" and r["automatic_return"] is None


def test_status_of_an_offroot_without_time_limits_has_no_such_fact():
    r = run(dict(command="status"), FakeHost((STATUS, ok(fixture("status-detached.json")))))
    assert "automatic_return" not in r and "offroot_automatic_return" not in r["ansible_facts"]
    assert "automatic_return_msg" not in r
    assert r["msg"] == "offroot status: DETACHED"


@pytest.mark.parametrize("before,stdout", [
    ("status-detached-no-limit.json", "extend-first.stdout"),
    ("status-detached-time-limit.json", "extend-again.stdout"),
    ("status-detached-return-failed.json", "extend-after-failed.stdout"),
])
def test_extend_always_changes(before, stdout):
    host = around(before, EXTEND + ["30m"], ok(fixture(stdout)),
                  "status-detached-time-limit.json")
    r = run(dict(command="extend", time_limit="30m"), host)
    assert not r["failed"] and r["changed"]
    assert r["msg"] == fixture(stdout).strip()
    assert r["automatic_return"]["seconds_left"] == 1800
    assert r["ansible_facts"]["offroot_automatic_return"]["limit_seconds"] == 1800


def test_extend_while_a_transition_runs_fails_with_the_cli_s_reason():
    host = around("status-transition-running.json", EXTEND + ["30m"], (3, "", fixture("extend-busy.stderr")),
                  "status-transition-running.json")
    r = run(dict(command="extend", time_limit="30m"), host)
    assert r["failed"] and r["rc"] == 3 and r["state"] == "DETACHED"
    assert r["msg"].startswith("offroot extend refused (exit 3, another transition runs): refusing to extend: "
                               "offroot enter (pid 696) at step slow")
    assert r["msg"].endswith("; the host is DETACHED, no automatic return (offroot extend DURATION sets a time limit)")


def test_extend_outside_the_emergency_environment_fails_with_the_cli_s_reason():
    host = around("status-detached-no-limit.json", EXTEND + ["1h"], (1, "", fixture("extend-outside.stderr")),
                  "status-detached-no-limit.json")
    r = run(dict(command="extend", time_limit="1h"), host)
    assert r["failed"] and r["rc"] == 1
    assert ("offroot extend refused (exit 1): offroot extend runs in the emergency environment; ssh -p 1022 "
            "root@this-host, then offroot extend; the host is DETACHED") in r["msg"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_extend_on_a_host_on_its_disk_fails_without_running_it(check_mode):
    host = FakeHost((STATUS, ok(fixture("status-normal-1022.json"))))
    r = run(dict(command="extend", time_limit="30m"), host, check_mode=check_mode)
    assert r["failed"] and len(host.calls) == 1
    assert r["msg"].startswith("cannot extend: the host is NORMAL: the time limit is for a stay off the disk (DETACHED)")


def test_extend_check_mode_runs_nothing_and_reports_a_change():
    host = FakeHost((STATUS, ok(fixture("status-detached-time-limit.json"))))
    r = run(dict(command="extend", time_limit="2h"), host, check_mode=True)
    assert r["changed"] and not r["failed"] and len(host.calls) == 1
    assert r["msg"].startswith("would extend: the automatic return would start in 2h")


def test_confirm_calls_the_automatic_return_off():
    host = around("status-detached-time-limit.json", CONFIRM, ok(fixture("confirm-done.stdout")),
                  "status-detached-no-limit.json")
    r = run(dict(command="confirm"), host)
    assert not r["failed"] and r["changed"]
    assert r["msg"] == "offroot confirm: no automatic return; the host stays DETACHED until offroot return"
    assert r["automatic_return"] is None and r["ansible_facts"]["offroot_automatic_return"] is None


def test_confirm_without_a_time_limit_is_no_change():
    host = around("status-detached-no-limit.json", CONFIRM, ok(fixture("confirm-no-limit.stdout")),
                  "status-detached-no-limit.json")
    r = run(dict(command="confirm"), host)
    assert not r["failed"] and not r["changed"]
    assert r["msg"] == "offroot confirm: no time limit is set, nothing to confirm"


@pytest.mark.parametrize("status", ["status-normal-22.json", "status-no-emergency.json"])
def test_confirm_on_a_host_on_its_disk_is_no_change_and_runs_nothing(status):
    host = FakeHost((STATUS, ok(fixture(status))))
    r = run(dict(command="confirm"), host)
    assert not r["failed"] and not r["changed"] and len(host.calls) == 1
    assert r["msg"].startswith("no automatic return: the host is ")


def test_confirm_while_a_transition_runs_fails_with_the_cli_s_reason():
    host = around("status-transition-running.json", CONFIRM, (3, "", fixture("confirm-busy.stderr")),
                  m.ConnectionLost("gone"))
    r = run(dict(command="confirm"), host)
    assert r["failed"] and r["rc"] == 3 and r["state"] is None
    assert "refusing to confirm: offroot enter (pid 696) at step slow" in r["msg"]
    assert r["msg"].endswith("; offroot status does not answer")


@pytest.mark.parametrize("status,changed", [
    ("status-detached-time-limit.json", True),
    ("status-detached-no-limit.json", False),
    ("status-detached.json", True),  # an offroot whose status has no time limits: it may have one
])
def test_confirm_check_mode_predicts_from_status(status, changed):
    host = FakeHost((STATUS, ok(fixture(status))))
    r = run(dict(command="confirm"), host, check_mode=True)
    assert not r["failed"] and r["changed"] is changed and len(host.calls) == 1


def test_return_with_an_sshd_timeout():
    host = around("status-detached-time-limit.json", RETURN + ["--sshd-timeout", "10m"], ok("", fixture("return-done.stderr")),
                  "status-normal-1022.json")
    r = run(dict(command="return", sshd_timeout="10m"), host)
    assert not r["failed"] and r["changed"] and host.calls[1] == RETURN + ["--sshd-timeout", "10m"]


# ---------------------------------------------------------------------------
# return


def test_return_waits_for_normal():
    host = FakeHost(
        (STATUS, ok(fixture("status-detached.json"))),
        (RETURN + ["--fsck"], ok("", fixture("return-done.stderr"))),
        (STATUS, ok(fixture("status-detached.json"))),
        (STATUS, ok(fixture("status-normal-1022.json"))),
    )
    r = run(dict(command="return", fsck=True), host)
    assert not r["failed"] and r["changed"] and r["state"] == "NORMAL"
    assert r["msg"] == "NORMAL: sshd on port 22 answers, 9.8 s after offroot return"


def test_return_onto_another_root():
    host = FakeHost(
        (STATUS, ok(fixture("status-detached.json"))),
        (RETURN + ["--root", "/dev/vdb"], ok()),
        (STATUS, ok(fixture("status-normal-1022.json"))),
    )
    assert run(dict(command="return", root="/dev/vdb"), host)["changed"]


def test_return_on_a_normal_host_is_no_change():
    host = FakeHost((STATUS, ok(fixture("status-normal-22.json"))))
    r = run(dict(command="return", fsck=True), host)
    assert not r["changed"] and not r["failed"] and r["msg"].startswith("already NORMAL")
    assert len(host.calls) == 1


def test_return_refused_leaves_it_detached_and_says_so():
    host = FakeHost(
        (STATUS, ok(fixture("status-detached.json"))),
        (RETURN + ["--root", "/dev/vdb"], (1, "", fixture("return-refused.stderr"))),
        (STATUS, ok(fixture("status-detached.json"))),
    )
    r = run(dict(command="return", root="/dev/vdb"), host)
    assert r["failed"] and r["state"] == "DETACHED"
    assert r["msg"] == ("offroot return failed (exit 1): refusing to return onto /dev/vdb, still DETACHED: /dev/vdb holds "
                        "no filesystem; the host is still DETACHED: off its disk, reachable over the emergency connection "
                        "(port 1022)")


def test_return_failure_when_status_no_longer_answers():
    host = FakeHost(
        (STATUS, ok(fixture("status-detached.json"))),
        (RETURN, (1, "", "offroot: error: signalling PID 1: No such process (ESRCH)\n")),
        (STATUS, m.ConnectionLost("Connection reset by peer")),
    )
    r = run(dict(command="return"), host)
    assert r["failed"] and r["state"] is None
    assert r["msg"].endswith("signalling PID 1: No such process (ESRCH); offroot status does not answer")


def test_return_check_mode_runs_the_dry_run():
    plan = json.dumps({"command": "return", "dry_run": True, "steps": [{"name": "mount-root", "action": "mount -o ro /dev/vda", "undo": "umount"}]})
    host = FakeHost(
        (STATUS, ok(fixture("status-detached.json"))),
        (RETURN + ["--fsck", "--dry-run"], ok(plan)),
    )
    r = run(dict(command="return", fsck=True), host, check_mode=True)
    assert r["changed"] and r["plan"]["steps"][0]["name"] == "mount-root"
    assert len(host.calls) == 2


def test_return_check_mode_refusal():
    host = FakeHost(
        (STATUS, ok(fixture("status-detached.json"))),
        (RETURN + ["--root", "/dev/vdz", "--dry-run"], (1, "", "offroot: /dev/vdz: No such file or directory (ENOENT)\n")),
    )
    r = run(dict(command="return", root="/dev/vdz"), host, check_mode=True)
    assert r["failed"] and r["msg"] == "offroot return would be refused (exit 1): /dev/vdz: No such file or directory (ENOENT)"


def test_return_from_transition_fails():
    r = run(dict(command="return"), FakeHost((STATUS, ok(fixture("status-transition.json")))))
    assert r["failed"] and r["msg"].startswith("cannot return: the host is TRANSITION")


def test_argument_spec_matches_the_documentation():
    # The module's DOCUMENTATION lists the same options as ARGUMENT_SPEC.
    import yaml
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "modules", "offroot.py")
    with open(path) as f:
        text = f.read()
    doc = yaml.safe_load(text.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])
    assert set(doc["options"]) == set(m.ARGUMENT_SPEC)
    for name, spec in m.ARGUMENT_SPEC.items():
        assert doc["options"][name]["type"] == spec["type"], name
        assert doc["options"][name].get("default") == spec.get("default"), name


def test_reason_through_a_pseudo_terminal():
    # With become the ssh connection uses a pseudo-terminal: offroot's
    # stderr arrives on stdout, with carriage returns, and ssh adds its notice.
    out = "offroot: refusing to return onto /dev/fake, still DETACHED: /dev/fake holds no filesystem\r\n"
    err = "Shared connection to 127.0.0.1 closed.\r\n"
    assert m.cli_reason(err, out) == "refusing to return onto /dev/fake, still DETACHED: /dev/fake holds no filesystem"
    assert m.summary_line(err, "NORMAL", "offroot: NORMAL: sshd on port 22 answers\r\n") == "NORMAL: sshd on port 22 answers"


def test_extend_on_an_offroot_without_time_limits_in_its_status_returns_none():
    host = around("status-detached.json", EXTEND + ["30m"], ok(fixture("extend-first.stdout")), "status-detached.json")
    r = run(dict(command="extend", time_limit="30m"), host)
    assert r["changed"] and "automatic_return" not in r and "offroot_automatic_return" not in r["ansible_facts"]


def test_extend_in_transition_asks_the_cli_but_check_mode_fails():
    host = around("status-transition.json", EXTEND + ["30m"], (1, "", "offroot: the system is TRANSITION: the time "
                  "limit is for a stay off the disk (DETACHED), nothing to extend; offroot enter --timeout DURATION "
                  "sets one\n"), "status-transition.json")
    r = run(dict(command="extend", time_limit="30m"), host)
    assert r["failed"] and r["msg"].startswith("offroot extend refused (exit 1): the system is TRANSITION")
    host = FakeHost((STATUS, ok(fixture("status-transition.json"))))
    r = run(dict(command="extend", time_limit="30m"), host, check_mode=True)
    assert r["failed"] and r["msg"].startswith("cannot extend: the host is TRANSITION") and len(host.calls) == 1
