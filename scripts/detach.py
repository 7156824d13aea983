#!/usr/bin/env python3
"""Run a command that starts a daemon with only stdout and stderr inherited and stdin from /dev/null.

A daemon that inherits any other descriptor of ours (say the pipe of a ``$(...)`` capture, or a CI
runner's log pipe) keeps whoever reads that pipe waiting until the daemon exits, i.e. forever.
Usage: python3 scripts/detach.py COMMAND [ARG...]
"""
import os
import sys

os.closerange(3, os.sysconf("SC_OPEN_MAX"))
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
os.execvp(sys.argv[1], sys.argv[1:])
