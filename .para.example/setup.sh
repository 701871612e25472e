#!/bin/sh
# Runs in each new worktree (setup_command). PARA_SESSION, PARA_WORKTREE, PARA_BRANCH,
# PARA_REPO and PARA_CHANNEL are set. A non-zero exit rolls the start back.
set -e
echo "setting up session $PARA_SESSION"
if [ -f requirements.txt ]; then
    python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt
fi
