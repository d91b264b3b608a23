# -*- coding: utf-8 -*-
# Copyright 2026 offroot developers
# GNU General Public License v2.0 or later (see COPYING or https://www.gnu.org/licenses/gpl-2.0.txt)
"""The logic of the offroot module, shared by its action plugin (which runs it
on the controller and reaches the host through the connection alone, so that
no Python is needed on the host: the emergency environment has none) and by
the module itself (for a host that has Python).

Everything here is plain Python without Ansible: a *runner* is a function
argv -> (rc, stdout, stderr) that runs a command on the host; it raises
ConnectionLost when the connection goes away. The unit tests pass a fake one.

The CLI (offroot(8)): `offroot --json status` and `offroot --json check` print
one JSON object; `enter` and `return` print their progress as `offroot: ...`
lines on stderr (the last one `DETACHED: ...` / `NORMAL: ...`), their refusal
as `offroot: <reason>` there too, and exit 0 done, 1 refused or failed, 2 bad
usage, 3 another transition runs; with `--dry-run --json` they print the plan
as JSON. `extend DURATION` and `confirm` (the dead-man time limit of `enter
--timeout`, from the emergency session) print one `offroot extend: ...` /
`offroot confirm: ...` line on stdout, their refusal as `offroot: <reason>` on
stderr, and exit 0, 1, 2 or 3 (the transition lock is taken) likewise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import shlex
import time

COMMANDS = ("status", "check", "enter", "return", "extend", "confirm")
STATES = ("NORMAL", "DETACHED", "TRANSITION", "NO-EMERGENCY-ENVIRONMENT")
DEFAULT_EXECUTABLE = "/usr/sbin/offroot"
DEFAULT_TIMEOUT = 600
# The CLI's exit status when another enter, return or recover holds the
# transition lock (extend and confirm take it too).
EXIT_BUSY = 3

# Durations as the CLI takes them (base/duration.cpp): one or more counts
# with a unit (90s, 30m, 2h, 1h30m, 1d), more than zero, at most a year; the
# dead-man time limit (enter --timeout, extend) at least 1m
# (system/time_limit.hpp). Checked here too, so that a typo fails the task
# before anything runs on the host.
DURATION_UNITS = dict(s=1, m=60, h=3600, d=86400)
MAX_DURATION = 366 * 24 * 3600
MINIMUM_TIME_LIMIT = 60
DURATION_FORMS = "give it with a unit: 90s, 30m, 2h, 1h30m"

# The module's options, in AnsibleModule's argument_spec form; the action
# plugin validates against the same.
ARGUMENT_SPEC = dict(
    command=dict(type="str", required=True, choices=list(COMMANDS)),
    root=dict(type="str"),
    fsck=dict(type="bool", default=False),
    min_free=dict(type="int"),
    time_limit=dict(type="str"),
    sshd_timeout=dict(type="str"),
    fail_on_nogo=dict(type="bool", default=True),
    timeout=dict(type="int", default=DEFAULT_TIMEOUT),
    executable=dict(type="str", default=DEFAULT_EXECUTABLE),
)


class OffrootFailure(Exception):
    """A failure with the message the task reports and the result's other fields."""

    def __init__(self, msg, **fields):
        super(OffrootFailure, self).__init__(msg)
        self.msg = msg
        self.fields = fields


class ConnectionLost(Exception):
    """Raised by a runner when the connection to the host went away."""


# ---------------------------------------------------------------------------
# Options and command lines


def validate_params(params):
    """The options, checked against each other; raises OffrootFailure."""
    p = dict((k, spec.get("default")) for k, spec in ARGUMENT_SPEC.items())
    p.update(dict((k, v) for k, v in (params or {}).items() if v is not None))
    for k in ("time_limit", "sshd_timeout"):
        # Empty is not given: a role passes "{{ var }}" with var "" for none.
        if p[k] is not None and str(p[k]).strip() == "":
            p[k] = None
    command = p["command"]
    if command not in COMMANDS:
        raise OffrootFailure("command must be one of %s, not %r" % (", ".join(COMMANDS), command))
    if command != "return" and p["root"]:
        raise OffrootFailure("root is an option of command=return only (offroot return --root DEVICE)")
    if command != "return" and p["fsck"]:
        raise OffrootFailure("fsck is an option of command=return only (offroot return --fsck)")
    if command not in ("check", "enter") and p["min_free"] is not None:
        raise OffrootFailure("min_free is an option of command=check and command=enter only")
    if p["min_free"] is not None and int(p["min_free"]) < 0:
        raise OffrootFailure("min_free is MiB and cannot be negative")
    if command not in ("enter", "extend") and p["time_limit"] is not None:
        raise OffrootFailure("time_limit is an option of command=enter (offroot enter --timeout) and command=extend "
                             "(offroot extend DURATION) only%s"
                             % ("; for return, sshd_timeout is offroot return --sshd-timeout" if command == "return" else ""))
    if command == "extend" and p["time_limit"] is None:
        raise OffrootFailure("command=extend needs time_limit, the DURATION from now after which the automatic return "
                             "starts (offroot extend DURATION, e.g. 30m)")
    if p["time_limit"] is not None:
        p["time_limit_seconds"] = parse_time_limit(p["time_limit"], "time_limit")
    if command != "return" and p["sshd_timeout"] is not None:
        raise OffrootFailure("sshd_timeout is an option of command=return only (offroot return --sshd-timeout)")
    if p["sshd_timeout"] is not None:
        parse_duration(p["sshd_timeout"], "sshd_timeout")
    if int(p["timeout"]) <= 0:
        raise OffrootFailure("timeout must be a positive number of seconds")
    if p["root"] is not None and not str(p["root"]).startswith("/dev/"):
        raise OffrootFailure("root must be a block device path under /dev, not %r" % p["root"])
    if not p["executable"]:
        raise OffrootFailure("executable must name the offroot program")
    return p


def parse_duration(text, option):
    """Seconds, as the CLI's parse_duration reads `text`; raises
    OffrootFailure with the CLI's reason, prefixed by the module's option."""
    text = "" if text is None else str(text)
    shown = '"%s"' % text

    def refuse(what):
        raise OffrootFailure("%s: %s; %s" % (option, what, DURATION_FORMS))

    if not text:
        refuse("an empty duration")
    total, i = 0, 0
    while i < len(text):
        start = i
        while i < len(text) and "0" <= text[i] <= "9":
            i += 1
        if i == start:
            refuse("the duration %s is not a number with a unit" % shown)
        if int(text[start:i]) > MAX_DURATION:
            refuse("the duration %s is more than a year" % shown)
        if i == len(text):
            refuse("the duration %s has no unit" % shown)
        if text[i] not in DURATION_UNITS:
            refuse('the duration %s has an unknown unit "%s"' % (shown, text[i]))
        total += int(text[start:i]) * DURATION_UNITS[text[i]]
        i += 1
        if total > MAX_DURATION:
            refuse("the duration %s is more than a year" % shown)
    if total == 0:
        refuse("the duration %s is zero" % shown)
    return total


def parse_time_limit(text, option):
    """parse_duration, then at least the CLI's minimum time limit (1m)."""
    seconds = parse_duration(text, option)
    if seconds < MINIMUM_TIME_LIMIT:
        raise OffrootFailure("%s: %s is shorter than the minimum of %s; leave yourself the time to log in again on "
                             "port 1022" % (option, format_duration(seconds), format_duration(MINIMUM_TIME_LIMIT)))
    return seconds


def format_duration(seconds):
    """The CLI's shortest form: 5400 -> "1h30m", 90 -> "1m30s", 0 -> "0s"."""
    seconds = int(seconds)
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    parts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "m"), (seconds % 60, "s")]
    text = "".join("%d%s" % (n, u) for n, u in parts if n > 0)
    return sign + (text or "0s")


def build_argv(p, command=None, dry_run=False):
    """The offroot command line for command (default: p's) with p's options."""
    command = command or p["command"]
    argv = [p["executable"], "--json", command]
    if command in ("check", "enter") and p.get("min_free") is not None:
        argv += ["--min-free", str(int(p["min_free"]))]
    if command == "return":
        if p.get("root"):
            argv += ["--root", p["root"]]
        if p.get("fsck"):
            argv.append("--fsck")
    if command == "enter" and p.get("time_limit") is not None:
        argv += ["--timeout", str(p["time_limit"])]
    if command == "return" and p.get("sshd_timeout") is not None:
        argv += ["--sshd-timeout", str(p["sshd_timeout"])]
    if command == "extend":
        argv.append(str(p["time_limit"]))
    if dry_run:
        argv.append("--dry-run")
    return argv


def quote_argv(argv):
    """One command line for a POSIX shell (busybox ash included)."""
    return " ".join(shlex.quote(a) for a in argv)


# ---------------------------------------------------------------------------
# Reading what the CLI prints


def parse_json_object(text, what):
    """The JSON object offroot printed: the whole output, or its last line
    that is one (anything a shell's profile printed before it is ignored)."""
    text = (text or "").strip()
    if not text:
        raise OffrootFailure("%s printed nothing on standard output" % what)
    try:
        value = json.loads(text)
        if isinstance(value, dict):
            return value
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    first = text.splitlines()[0]
    raise OffrootFailure("%s did not print a JSON object: %s" % (what, first[:200]))


def parse_status(text):
    status = parse_json_object(text, "offroot --json status")
    state = status.get("state")
    if state not in STATES:
        raise OffrootFailure("offroot --json status reported an unknown state %r (known: %s)" % (state, ", ".join(STATES)))
    return status


def parse_check(text):
    report = parse_json_object(text, "offroot --json check")
    if not isinstance(report.get("go"), bool):
        raise OffrootFailure("offroot --json check has no go/no-go answer (\"go\" missing)")
    blockers = report.get("blockers")
    if not isinstance(blockers, list):
        raise OffrootFailure("offroot --json check has no list of blockers")
    if not report["go"] and not blockers:
        report["blockers"] = ["offroot check said no-go without a reason"]
    return report


def parse_plan(text, command):
    plan = parse_json_object(text, "offroot --json %s --dry-run" % command)
    if not isinstance(plan.get("steps"), list):
        raise OffrootFailure("offroot --json %s --dry-run printed no steps" % command)
    return plan


def _strip_prefix(line):
    for prefix in ("offroot: error: ", "offroot: ", "offroot-init: "):
        if line.startswith(prefix):
            return line[len(prefix):]
    return line


def _is_offroot_line(line):
    return line.startswith("offroot: ") or line.startswith("offroot-init: ")


def _message_lines(text):
    """Lines of output without carriage returns and ssh's own notices."""
    out = []
    for line in (text or "").splitlines():
        line = line.rstrip("\r").rstrip()
        if line.startswith("Shared connection to ") and line.endswith(" closed."):
            continue
        if line.startswith("Warning: Permanently added ") and line.endswith("to the list of known hosts."):
            continue
        out.append(line)
    return out


def cli_reason(stderr, stdout=""):
    """The CLI's reason for a refusal or failure: the last `offroot: ` message
    on stderr with the lines that continue it (`  - blocker`), on one line;
    the usage text that follows a usage error is left out."""
    lines = _message_lines(stderr)
    if not any(_is_offroot_line(l) for l in lines):
        # Through a pseudo-terminal (become) stderr comes on stdout.
        lines = lines + _message_lines(stdout)
    for i, line in enumerate(lines):
        if line.startswith("usage: "):
            lines = lines[:i]
            break
    lines = [l for l in lines if l.strip()]
    start = None
    for i in range(len(lines) - 1, -1, -1):
        if _is_offroot_line(lines[i]):
            start = i
            break
    if start is None:
        tail = lines or [l for l in _message_lines(stdout) if l.strip()]
        return tail[-1].strip() if tail else "no message"
    head = _strip_prefix(lines[start]).strip()
    rest = [l.strip() for l in lines[start + 1:]]
    rest = [r[2:] if r.startswith("- ") else r for r in rest]
    if not rest:
        return head
    return head + (" " if head.endswith(":") else ": ") + "; ".join(rest)


def summary_line(stderr, marker, stdout=""):
    """The last `offroot: MARKER: ...` line (DETACHED: or NORMAL:), without the prefix."""
    found = None
    for line in _message_lines(stderr) + _message_lines(stdout):
        text = _strip_prefix(line.strip())
        if text.startswith(marker + ":"):
            found = text
    return found


# ---------------------------------------------------------------------------
# Decisions


def decide(command, state, explanation=""):
    """What enter or return does from a state: ("run" | "noop" | "fail", message)."""
    why = " (%s)" % explanation if explanation else ""
    if command == "enter":
        if state == "NORMAL":
            return "run", "NORMAL: entering"
        if state == "DETACHED":
            return "noop", "already DETACHED: the host runs from RAM and its disk is free; nothing to do"
        if state == "NO-EMERGENCY-ENVIRONMENT":
            return "fail", ("cannot enter: no emergency environment%s; arm it first (offroot arm, or the "
                            "offroot.fleet.install role)" % why)
        return "fail", ("cannot enter: the host is %s%s, neither NORMAL nor DETACHED; look at offroot status "
                        "over the emergency connection (port 1022)" % (state, why))
    if command == "return":
        if state == "DETACHED":
            return "run", "DETACHED: returning"
        if state == "NORMAL":
            return "noop", "already NORMAL: the host runs from its root disk; nothing to return from"
        if state == "NO-EMERGENCY-ENVIRONMENT":
            return "noop", ("the host runs from its root disk without an emergency environment%s; nothing to "
                            "return from" % why)
        return "fail", ("cannot return: the host is %s%s, neither DETACHED nor NORMAL; look at offroot status "
                        "over the emergency connection (port 1022)" % (state, why))
    raise ValueError("decide() is for enter and return, not %r" % command)


# ---------------------------------------------------------------------------
# Running


class _Session(object):
    def __init__(self, p, runner, sleep, clock, poll_interval):
        self.p = p
        self.runner = runner
        self.sleep = sleep
        self.clock = clock
        self.poll_interval = poll_interval
        self.commands = []

    def call(self, argv):
        cmd = quote_argv(argv)
        self.commands.append(cmd)
        try:
            rc, out, err = self.runner(argv)
        except ConnectionLost as e:
            raise OffrootFailure("lost the connection to the host while running %s: %s" % (cmd, e), cmd=cmd)
        rc = int(rc) if rc is not None else -1
        if rc in (126, 127):
            raise OffrootFailure("%s: cannot run offroot (exit %d: %s); is the offroot package installed, and is "
                                 "executable right?" % (cmd, rc, cli_reason(err, out)),
                                 cmd=cmd, rc=rc, stdout=out, stderr=err)
        return cmd, rc, out or "", err or ""

    def status(self):
        cmd, rc, out, err = self.call(build_argv(self.p, "status"))
        if rc != 0:
            raise OffrootFailure("offroot status failed (exit %d): %s" % (rc, cli_reason(err, out)),
                                 cmd=cmd, rc=rc, stdout=out, stderr=err)
        return parse_status(out)

    def status_or_none(self):
        try:
            return self.status()
        except OffrootFailure:
            return None

    def check(self):
        cmd, rc, out, err = self.call(build_argv(self.p, "check"))
        if rc not in (0, 1):
            raise OffrootFailure("offroot check failed (exit %d): %s" % (rc, cli_reason(err, out)),
                                 cmd=cmd, rc=rc, stdout=out, stderr=err)
        try:
            report = parse_check(out)
        except OffrootFailure as e:
            reason = cli_reason(err, "")
            raise OffrootFailure("offroot check failed (exit %d): %s" % (rc, reason if err.strip() else e.msg),
                                 cmd=cmd, rc=rc, stdout=out, stderr=err)
        return report, cmd, rc

    def wait_for(self, target, what):
        deadline = self.clock() + int(self.p["timeout"])
        last, last_error = None, None
        while True:
            try:
                last = self.status()
                if last["state"] == target:
                    return last
            except OffrootFailure as e:
                last_error = e.msg
            if self.clock() >= deadline:
                seen = ("the host is %s" % last["state"]) if last else ("offroot status does not answer: %s" % last_error)
                raise OffrootFailure("%s, but the host is not %s after %d s: %s" % (what, target, int(self.p["timeout"]), seen),
                                     state=last["state"] if last else None, status=last)
            self.sleep(self.poll_interval)


def automatic_return_text(status):
    """What status says of the automatic return (enter --timeout), in the
    CLI's words; None outside DETACHED and TRANSITION, or when this offroot
    has no time limits (no "automatic_return" in its status)."""
    if not status or "automatic_return" not in status or status.get("state") not in ("DETACHED", "TRANSITION"):
        return None
    a = status["automatic_return"]
    if not isinstance(a, dict):
        return "no automatic return (offroot extend DURATION sets a time limit)"
    limit = format_duration(a.get("limit_seconds") or 0)
    left = int(a.get("seconds_left") or 0)
    if a.get("failed"):
        return ("the automatic return FAILED (the time limit of %s ran out %s ago): %s; still DETACHED, offroot extend "
                "DURATION has it tried again" % (limit, format_duration(-left), a["failed"]))
    if a.get("started"):
        return "the automatic return started (the time limit of %s ran out)" % limit
    if left > 0:
        return "automatic return in %s (time limit %s) unless offroot extend or offroot confirm" % (format_duration(left), limit)
    return ("the time limit of %s ran out %s ago: PID 1 starts offroot return once no transition runs"
            % (limit, format_duration(-left)))


def _with_time_limit(result, status):
    """result with status's automatic_return, where this offroot reports one."""
    if status and "automatic_return" in status:
        result["automatic_return"] = status["automatic_return"]
    return result


def _facts(status=None, check=None):
    facts = {}
    if status is not None:
        facts["offroot_status"] = status
        if "automatic_return" in status:
            facts["offroot_automatic_return"] = status["automatic_return"]
    if check is not None:
        facts["offroot_check"] = check
    return facts


def _nogo_message(report, prefix="offroot check: NO-GO"):
    blockers = report.get("blockers") or []
    return "%s, %d blocker%s: %s" % (prefix, len(blockers), "" if len(blockers) == 1 else "s", "; ".join(blockers))


def _do_status(s):
    status = s.status()
    said = automatic_return_text(status)
    result = _with_time_limit(dict(changed=False, state=status["state"], status=status,
                                   msg="offroot status: %s%s" % (status["state"], "; " + said if said else ""),
                                   ansible_facts=_facts(status=status)), status)
    if said:
        result["automatic_return_msg"] = said
    return result


def _do_check(s):
    report, cmd, rc = s.check()
    result = dict(changed=False, go=report["go"], state=report.get("state"), blockers=report.get("blockers", []),
                  notes=report.get("notes", []), check=report, rc=rc, ansible_facts=_facts(check=report))
    if report["go"]:
        result["msg"] = "offroot check: GO"
        return result
    result["msg"] = _nogo_message(report)
    if s.p["fail_on_nogo"]:
        raise OffrootFailure(result.pop("msg"), **result)
    return result


def _do_enter(s, check_mode):
    p = s.p
    before = s.status()
    action, why = decide("enter", before["state"], before.get("explanation", ""))
    if action == "noop":
        if p.get("time_limit") is not None:
            # Not set again: entering a DETACHED host changes nothing.
            why += ("; time_limit %s was not applied, the time limit there is as it was (%s; command=extend sets "
                    "one)" % (p["time_limit"], automatic_return_text(before) or "see offroot status"))
        return dict(changed=False, state=before["state"], status=before, msg=why, ansible_facts=_facts(status=before))
    if action == "fail":
        raise OffrootFailure(why, state=before["state"], status=before, ansible_facts=_facts(status=before))
    if check_mode:
        report, _, _ = s.check()
        if not report["go"]:
            raise OffrootFailure(_nogo_message(report, "offroot enter would be refused: NO-GO"), state=before["state"],
                                 status=before, check=report, blockers=report["blockers"],
                                 ansible_facts=_facts(status=before, check=report))
        cmd, rc, out, err = s.call(build_argv(p, "enter", dry_run=True))
        if rc != 0:
            raise OffrootFailure("offroot enter --dry-run refused (exit %d): %s" % (rc, cli_reason(err, out)),
                                 cmd=cmd, rc=rc, state=before["state"], status=before)
        plan = parse_plan(out, "enter")
        return dict(changed=True, state=before["state"], status=before, plan=plan, check=report,
                    msg="would enter DETACHED (check mode: offroot enter --dry-run, %d steps)" % len(plan["steps"]),
                    ansible_facts=_facts(status=before, check=report))
    cmd, rc, out, err = s.call(build_argv(p, "enter"))
    lines = dict(stdout=out, stderr=err, rc=rc, cmd=cmd)
    if rc != 0:
        after = s.status_or_none()
        where = ("; the host is %s" % after["state"]) if after else "; offroot status does not answer"
        if after and after["state"] == "NORMAL":
            where += " (nothing was changed, or every step was undone)"
        raise OffrootFailure("offroot enter failed (exit %d): %s%s" % (rc, cli_reason(err, out), where),
                             state=after["state"] if after else None, status=after, ansible_facts=_facts(status=after), **lines)
    if not before.get("running_in_rootfs"):
        # Started from a normal session: offroot continues inside the
        # emergency environment and ends this session (sshd stops); the
        # state can only be followed over the emergency connection.
        return dict(changed=True, pending=True, state=before["state"], status=before,
                    msg=("offroot enter continues inside the emergency environment (it was started from a normal "
                         "session, which it ends); follow it over the emergency connection (port 1022) with "
                         "command=status"), **lines)
    after = s.wait_for("DETACHED", "offroot enter said it was done")
    return dict(changed=True, state=after["state"], status=after,
                msg=summary_line(err, "DETACHED", out) or "DETACHED", ansible_facts=_facts(status=after), **lines)


def _do_return(s, check_mode):
    p = s.p
    before = s.status()
    action, why = decide("return", before["state"], before.get("explanation", ""))
    if action == "noop":
        return dict(changed=False, state=before["state"], status=before, msg=why, ansible_facts=_facts(status=before))
    if action == "fail":
        raise OffrootFailure(why, state=before["state"], status=before, ansible_facts=_facts(status=before))
    if check_mode:
        cmd, rc, out, err = s.call(build_argv(p, "return", dry_run=True))
        if rc != 0:
            raise OffrootFailure("offroot return would be refused (exit %d): %s" % (rc, cli_reason(err, out)),
                                 cmd=cmd, rc=rc, stdout=out, stderr=err, state=before["state"], status=before)
        plan = parse_plan(out, "return")
        return dict(changed=True, state=before["state"], status=before, plan=plan,
                    msg="would return NORMAL (check mode: offroot return --dry-run, %d steps)" % len(plan["steps"]),
                    ansible_facts=_facts(status=before))
    cmd, rc, out, err = s.call(build_argv(p, "return"))
    lines = dict(stdout=out, stderr=err, rc=rc, cmd=cmd)
    if rc != 0:
        after = s.status_or_none()
        if after and after["state"] == "DETACHED":
            where = "; the host is still DETACHED: off its disk, reachable over the emergency connection (port 1022)"
        elif after:
            where = "; the host is %s" % after["state"]
        else:
            where = "; offroot status does not answer"
        raise OffrootFailure("offroot return failed (exit %d): %s%s" % (rc, cli_reason(err, out), where),
                             state=after["state"] if after else None, status=after, ansible_facts=_facts(status=after), **lines)
    after = s.wait_for("NORMAL", "offroot return said it was done")
    return dict(changed=True, state=after["state"], status=after,
                msg=summary_line(err, "NORMAL", out) or "NORMAL", ansible_facts=_facts(status=after), **lines)


def _time_limit_refused(s, command, cmd, rc, out, err):
    after = s.status_or_none()
    busy = ", another transition runs" if rc == EXIT_BUSY else ""
    where = ("; the host is %s" % after["state"]) if after else "; offroot status does not answer"
    said = automatic_return_text(after)
    if said:
        where += ", " + said
    return OffrootFailure("offroot %s refused (exit %d%s): %s%s" % (command, rc, busy, cli_reason(err, out), where),
                          cmd=cmd, rc=rc, stdout=out, stderr=err, state=after["state"] if after else None,
                          status=after, ansible_facts=_facts(status=after))


def _said(out, err, command):
    """The `offroot COMMAND: ...` line extend and confirm print, without the prefix."""
    prefix = "offroot %s: " % command
    for line in reversed(_message_lines(out) + _message_lines(err)):
        if line.strip().startswith(prefix):
            return line.strip()[len(prefix):]
    return None


def _do_extend(s, check_mode):
    """The automatic return DURATION from now: always a change (a new
    deadline), DETACHED only (the CLI refuses it elsewhere, with its reason)."""
    p = s.p
    before = s.status()
    # In TRANSITION the CLI is asked, and says why not (exit 3 while one runs).
    if before["state"] in ("NORMAL", "NO-EMERGENCY-ENVIRONMENT") or (check_mode and before["state"] != "DETACHED"):
        raise OffrootFailure("cannot extend: the host is %s: the time limit is for a stay off the disk (DETACHED), "
                             "nothing to extend; command=enter with time_limit sets one" % before["state"],
                             state=before["state"], status=before, ansible_facts=_facts(status=before))
    if check_mode:
        return _with_time_limit(dict(changed=True, state=before["state"], status=before,
                                     msg="would extend: the automatic return would start in %s (check mode; now: %s)"
                                         % (format_duration(p["time_limit_seconds"]), automatic_return_text(before) or "unknown"),
                                     ansible_facts=_facts(status=before)), before)
    cmd, rc, out, err = s.call(build_argv(p, "extend"))
    if rc != 0:
        raise _time_limit_refused(s, "extend", cmd, rc, out, err)
    after = s.status_or_none() or before
    return _with_time_limit(dict(changed=True, state=after["state"], status=after,
                                 msg="offroot extend: %s" % (_said(out, err, "extend") or
                                                             "the automatic return starts in %s" % p["time_limit"]),
                                 ansible_facts=_facts(status=after), cmd=cmd, rc=rc, stdout=out, stderr=err), after)


def _do_confirm(s, check_mode):
    """No automatic return: a change when there was a time limit, none when
    there was not (the CLI says so) or when the host is on its disk."""
    before = s.status()
    if before["state"] in ("NORMAL", "NO-EMERGENCY-ENVIRONMENT"):
        return dict(changed=False, state=before["state"], status=before,
                    msg="no automatic return: the host is %s, on its disk; nothing to confirm" % before["state"],
                    ansible_facts=_facts(status=before))
    if check_mode:
        pending = before.get("automatic_return", True) is not None
        return _with_time_limit(dict(changed=pending, state=before["state"], status=before,
                                     msg=("would confirm: no automatic return (check mode; now: %s)"
                                          % (automatic_return_text(before) or "unknown"))
                                         if pending else "no time limit is set, nothing to confirm",
                                     ansible_facts=_facts(status=before)), before)
    cmd, rc, out, err = s.call(build_argv(s.p, "confirm"))
    if rc != 0:
        raise _time_limit_refused(s, "confirm", cmd, rc, out, err)
    said = _said(out, err, "confirm") or "no automatic return"
    after = s.status_or_none() or before
    return _with_time_limit(dict(changed=not said.startswith("no time limit is set"), state=after["state"], status=after,
                                 msg="offroot confirm: %s" % said, ansible_facts=_facts(status=after),
                                 cmd=cmd, rc=rc, stdout=out, stderr=err), after)


def run(params, runner, check_mode=False, sleep=time.sleep, clock=time.monotonic, poll_interval=2.0):
    """Runs one offroot command through runner; returns the task's result
    (failed=True with msg on failure; never raises for the host's answers)."""
    commands = []
    try:
        p = validate_params(params)
        s = _Session(p, runner, sleep, clock, poll_interval)
        commands = s.commands
        if p["command"] == "status":
            result = _do_status(s)
        elif p["command"] == "check":
            result = _do_check(s)
        elif p["command"] == "enter":
            result = _do_enter(s, check_mode)
        elif p["command"] == "extend":
            result = _do_extend(s, check_mode)
        elif p["command"] == "confirm":
            result = _do_confirm(s, check_mode)
        else:
            result = _do_return(s, check_mode)
        result["failed"] = False
    except OffrootFailure as e:
        result = dict(changed=False)
        result.update(dict((k, v) for k, v in e.fields.items() if v is not None or k == "state"))
        result["failed"] = True
        result["msg"] = e.msg
    result["commands"] = list(commands)
    return result
