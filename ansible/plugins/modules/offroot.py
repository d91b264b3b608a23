#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright 2026 offroot developers
# GNU General Public License v2.0 or later (see COPYING or https://www.gnu.org/licenses/gpl-2.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: offroot
short_description: Step a running Debian server off its root disk and back, without a reboot
version_added: "0.1.0"
description:
  - Wraps the C(offroot) command's C(--json) output (offroot(8)).
  - C(command=status) and C(command=check) are read-only and return facts
    (C(offroot_status), C(offroot_check)).
  - C(command=enter) takes the host from NORMAL to DETACHED (services stopped,
    PID 1 a stub in RAM, the disk free); C(command=return) takes it back.
    Both are idempotent, entering a DETACHED host or returning a NORMAL one
    reports no change, and in check mode run the CLI's C(--dry-run).
  - C(time_limit) with C(command=enter) is the dead-man time limit
    (C(offroot enter --timeout)) - unless C(command=extend) or
    C(command=confirm) comes over the emergency connection in time, PID 1
    starts C(offroot return) by itself when it runs out. C(command=extend)
    (C(offroot extend)) has the automatic return start C(time_limit) from
    now, and always reports a change; C(command=confirm) (C(offroot confirm))
    calls it off, and reports no change where no time limit was set or the
    host is on its disk. Durations are checked with the CLI's rules before
    anything runs on the host.
  - Runs as an action plugin on the controller and only C(offroot --json ...)
    on the host through the connection, as M(ansible.builtin.raw) does, so it
    needs no Python on the host. Once DETACHED the host runs busybox and
    offroot from RAM, reachable on the emergency port (1022) only; run
    C(enter), C(return) and everything in between over that connection
    (a second inventory host, see the collection's README).
  - Each failure reports the CLI's own reason and the state the host is in
    afterwards.
options:
  command:
    description:
      - C(status), C(check), C(enter), C(return), C(extend) or C(confirm).
      - C(extend) and C(confirm) run over the emergency connection (the CLI
        refuses them elsewhere), C(extend) on a DETACHED host only.
    type: str
    required: true
    choices: [status, check, enter, return, extend, confirm]
  root:
    description:
      - C(return) only. The block device to mount as the root filesystem
        (C(offroot return --root)); default the one C(enter) took away.
    type: str
  fsck:
    description:
      - C(return) only. Run C(fsck -a) on the root before mounting it
        (C(offroot return --fsck)).
    type: bool
    default: false
  min_free:
    description:
      - C(check) and C(enter). MiB of RAM that must remain for the work (C(--min-free)).
    type: int
  time_limit:
    description:
      - C(enter) and C(extend). The dead-man time limit, a duration with a
        unit (C(90s), C(30m), C(2h), C(1h30m), C(1d)), at least C(1m), at most
        a year.
      - C(enter) passes it as C(offroot enter --timeout); the limit counts
        from the start of enter. Not applied to a host that is DETACHED
        already (no change; use C(extend)).
      - C(extend) needs it; C(offroot extend DURATION) - the automatic return
        starts that long from now (not added to what is left).
      - Empty or not given, C(enter) sets no time limit.
      - Checked before anything runs; a bad one fails the task in the CLI's
        own words, for example C(time_limit - the duration "30" has no unit).
    type: str
  sshd_timeout:
    description:
      - C(return) only. How long sshd has to listen on port 22 again once the
        real init is back (C(offroot return --sshd-timeout), a duration as for
        C(time_limit) without the minimum); the CLI's default is C(5m).
    type: str
  fail_on_nogo:
    description:
      - C(check) only. Fail the task when the check says no-go (the message
        lists the blockers). With C(false) the task succeeds and returns C(go=false).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait, after C(offroot enter) or C(offroot return) said it
        was done, for C(offroot status) to say DETACHED or NORMAL. Not the
        dead-man time limit, which is C(time_limit).
    type: int
    default: 600
  executable:
    description:
      - The offroot program on the host (the same path in the emergency environment).
    type: str
    default: /usr/sbin/offroot
attributes:
  check_mode:
    support: full
    description: C(enter) and C(return) run C(--dry-run) and report the plan;
      C(extend) and C(confirm) read C(offroot status) and report what they would change.
notes:
  - C(enter) started over a normal connection (port 22) continues inside the
    emergency environment and ends that session; the module then returns
    C(pending=true) without waiting. Over the emergency connection it waits
    for DETACHED.
  - C(return) waits until C(offroot status) says NORMAL; sshd on port 22
    answers again by then (offroot return waits for it, up to C(sshd_timeout)).
  - A return, by hand or automatic, ends the time limit. The automatic return
    is C(offroot return) with its defaults - onto the root C(enter) took away,
    without C(fsck) - whatever C(root) a later C(command=return) would have
    been given.
  - extend and confirm are refused (exit 3) while a transition runs; the
    failure says so with the CLI's reason.
author:
  - offroot developers
"""

EXAMPLES = r"""
- name: Where the host is
  offroot.fleet.offroot:
    command: status

- name: Go/no-go, as facts, without failing
  offroot.fleet.offroot:
    command: check
    fail_on_nogo: false
  register: go

- name: Step off the disk, over the emergency connection, back on its own after 30 minutes
  offroot.fleet.offroot:
    command: enter
    time_limit: 30m
  delegate_to: "{{ inventory_hostname }}-emergency"

- name: Another hour from now before the automatic return
  offroot.fleet.offroot:
    command: extend
    time_limit: 1h
  delegate_to: "{{ inventory_hostname }}-emergency"

- name: No automatic return; stay DETACHED until command=return
  offroot.fleet.offroot:
    command: confirm
  delegate_to: "{{ inventory_hostname }}-emergency"

- name: Back, onto a new root device, checked first
  offroot.fleet.offroot:
    command: return
    root: /dev/vdb
    fsck: true
    sshd_timeout: 10m
  delegate_to: "{{ inventory_hostname }}-emergency"
"""

RETURN = r"""
state:
  description: The state after the command (NORMAL, DETACHED, TRANSITION, NO-EMERGENCY-ENVIRONMENT).
  returned: when offroot status answered
  type: str
  sample: DETACHED
status:
  description: The last C(offroot --json status) object.
  returned: when offroot status answered
  type: dict
go:
  description: C(check) only. True when nothing blocks C(enter).
  returned: command=check
  type: bool
blockers:
  description: What stops C(enter), one sentence each, as the CLI says it.
  returned: command=check, and enter refused in check mode
  type: list
  elements: str
check:
  description: The C(offroot --json check) object.
  returned: command=check, enter in check mode
  type: dict
plan:
  description: C(--dry-run)'s plan, in check mode (command, steps with name, action, undo).
  returned: enter and return in check mode
  type: dict
automatic_return:
  description:
    - The dead-man time limit as C(offroot --json status) reports it
      (C(limit_seconds), C(seconds_left), C(started), C(failed)), or null when
      there is none; outside DETACHED and TRANSITION always null.
  returned: status, extend, confirm, when the CLI reports it
  type: dict
automatic_return_msg:
  description: C(status) only. What the automatic return will do, in the CLI's words
    (C(automatic return in 29m50s (time limit 30m) unless offroot extend or offroot confirm)).
  returned: command=status on a DETACHED host, when the CLI reports its time limit
  type: str
pending:
  description: C(enter) from a normal session, which continues in the emergency environment.
  returned: sometimes
  type: bool
commands:
  description: The command lines run on the host, in order.
  returned: always
  type: list
  elements: str
ansible_facts:
  description: C(offroot_status) (the last status read), C(offroot_automatic_return) (its
    C(automatic_return), when the CLI reports it) and C(offroot_check).
  returned: when read
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.offroot.fleet.plugins.module_utils.offroot import ARGUMENT_SPEC, run


def main():
    # Reached only where the action plugin is bypassed; the host needs Python then.
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)

    def runner(argv):
        return module.run_command(argv)

    result = run(module.params, runner, check_mode=module.check_mode)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
