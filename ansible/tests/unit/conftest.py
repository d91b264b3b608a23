# -*- coding: utf-8 -*-
# Copyright 2026 offroot developers
# GNU General Public License v2.0 or later (see COPYING or https://www.gnu.org/licenses/gpl-2.0.txt)
"""The module's logic is plain Python (plugins/module_utils/offroot.py): it is
loaded from its file, so that pytest runs from the source tree without the
collection being installed under ansible_collections/."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LOGIC = os.path.join(HERE, "..", "..", "plugins", "module_utils", "offroot.py")
sys.path.insert(0, HERE)


def load_logic():
    spec = importlib.util.spec_from_file_location("offroot_logic", LOGIC)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
