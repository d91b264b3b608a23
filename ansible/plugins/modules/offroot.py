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
      - C(status), C(check), C(enter) or C(return).
    type: str
    required: true
    choices: [status, check, enter, return]
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
      - C(enter) and C(return). The dead-man time limit (offroot issue 10, not
        in the CLI yet), passed as C(--time-limit VALUE) when set. Until the
        CLI has it, setting it makes the command fail as bad usage, and the
        message says so.
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
        was done, for C(offroot status) to say DETACHED or NORMAL.
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
    description: C(enter) and C(return) run C(--dry-run) and report the plan.
notes:
  - C(enter) started over a normal connection (port 22) continues inside the
    emergency environment and ends that session; the module then returns
    C(pending=true) without waiting. Over the emergency connection it waits
    for DETACHED.
  - C(return) waits until C(offroot status) says NORMAL; sshd on port 22
    answers again by then (offroot return waits for it).
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

- name: Step off the disk, over the emergency connection
  offroot.fleet.offroot:
    command: enter
  delegate_to: "{{ inventory_hostname }}-emergency"

- name: Back, onto a new root device, checked first
  offroot.fleet.offroot:
    command: return
    root: /dev/vdb
    fsck: true
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
  description: C(offroot_status) (the last status read) and C(offroot_check).
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
