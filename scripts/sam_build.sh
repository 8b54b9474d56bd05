#!/usr/bin/env bash
# Build the SAM application (template.yaml) into .aws-sam/build, without Docker.
#
# The functions run on python3.13, and `sam build` builds Python code with a python3.13 interpreter found
# on PATH. This script finds a working one (PATH first, then pyenv/uv/common install locations), puts it first
# on PATH for the build only, and fails with a clear message if there is none.
# Everything sam writes stays under .aws-sam/ (gitignored). Extra arguments are passed to `sam build`.
# Environment: SAM (the sam executable; default .venv/bin/sam, else sam on PATH), PYTHON313 (an interpreter).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export SAM_CLI_TELEMETRY=0

is_python313() {
    [[ -x "$1" ]] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1
}

find_python313() {
    local candidate root
    local -a candidates=()
    [[ -n "${PYTHON313:-}" ]] && candidates+=("$PYTHON313")
    # On PATH (a pyenv shim counts only if it actually runs 3.13).
    candidate="$(command -v python3.13 2>/dev/null || true)"
    [[ -n "$candidate" ]] && candidates+=("$candidate")
    # pyenv installs, whether or not 3.13 is the selected version.
    for root in "${PYENV_ROOT:-}" "$(pyenv root 2>/dev/null || true)" "$HOME/.pyenv"; do
        [[ -n "$root" && -d "$root/versions" ]] || continue
        for candidate in "$root"/versions/3.13*/bin/python3.13; do
            candidates+=("$candidate")
        done
    done
    # uv-managed interpreters and the usual system locations.
    for candidate in "$HOME"/.local/share/uv/python/cpython-3.13*/bin/python3.13 \
        /usr/local/bin/python3.13 /usr/bin/python3.13 /opt/homebrew/bin/python3.13; do
        candidates+=("$candidate")
    done
    for candidate in "${candidates[@]}"; do
        if is_python313 "$candidate"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

if ! python313="$(find_python313)"; then
    cat >&2 <<'EOF'
sam_build.sh: no Python 3.13 interpreter found.
`sam build` needs python3.13 (the Lambda runtime of template.yaml) to build the functions and the layer.
Install one (e.g. `pyenv install 3.13`, `uv python install 3.13`, or your OS package), or point
PYTHON313 at it: PYTHON313=/path/to/python3.13 scripts/sam_build.sh
EOF
    exit 1
fi

# Resolve symlinks so the directory put on PATH holds the real interpreter (and its pip).
python_dir="$(dirname "$("$python313" -c 'import os, sys; print(os.path.realpath(sys.executable))')")"
if [[ ! -x "$python_dir/python3.13" ]]; then
    # A realpath'd binary named e.g. python3.13t or without the versioned name: expose it as python3.13.
    shim_dir=".aws-sam/python313-bin"
    mkdir -p "$shim_dir"
    ln -sf "$python313" "$shim_dir/python3.13"
    python_dir="$(pwd)/$shim_dir"
fi

sam="${SAM:-}"
if [[ -z "$sam" ]]; then
    if [[ -x .venv/bin/sam ]]; then sam=.venv/bin/sam; else sam="$(command -v sam || true)"; fi
fi
if [[ -z "$sam" ]]; then
    echo "sam_build.sh: the AWS SAM CLI is not installed; run 'make venv' (it installs it into .venv)." >&2
    exit 1
fi

echo "sam build with $("$python313" --version 2>&1) at $python313" >&2
PATH="$python_dir:$PATH" exec "$sam" build \
    --template-file template.yaml \
    --build-dir .aws-sam/build \
    --cache-dir .aws-sam/cache \
    --cached \
    --parallel \
    "$@"
