# -*- coding: utf-8 -*-
# Copyright 2026 offroot developers
# GNU General Public License v2.0 or later (see COPYING or https://www.gnu.org/licenses/gpl-2.0.txt)
"""The offroot module's action plugin: runs on the controller, and on the host
only `offroot --json ...` through the connection, as the raw module does. No
Python is needed there: once DETACHED the host runs busybox and offroot from
RAM, and its disk (with its Python) is unmounted."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase

from ansible_collections.offroot.fleet.plugins.module_utils.offroot import (
    ARGUMENT_SPEC,
    ConnectionLost,
    quote_argv,
    run,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC.keys())
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation

        # Without become, no pseudo-terminal (the ssh connection asks for one
        # for a sudoable command): offroot's stderr stays apart from its JSON.
        sudoable = bool(self._play_context.become)

        def runner(argv):
            try:
                res = self._low_level_execute_command(quote_argv(argv), sudoable=sudoable)
            except AnsibleConnectionFailure as e:
                raise ConnectionLost(str(e))
            return res.get("rc"), res.get("stdout", ""), res.get("stderr", "")

        result.update(run(args, runner, check_mode=bool(self._task.check_mode)))
        return result
