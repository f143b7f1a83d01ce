#!/usr/bin/env bash
# Prints every C++ function longer than a limit (default 60 lines, from its signature to its closing brace),
# longest first: "LINES FILE:LINE NAME". Exits 1 when it found one, 0 otherwise, so CI can use it as a check.
# A brace-counting heuristic (comments, strings, character literals and preprocessor lines are blanked first): a
# brace opens a function when the text before it since the last ';', '{' or '}' ends in a parameter list and is
# not a control statement or an initialiser. Lambdas and local classes count towards the function they are in.
#
#   scripts/long-functions.sh [--max N] [PATH...]     (default: src, without the C kernel-API layer src/kapi)
set -euo pipefail
max=60
if [[ "${1:-}" == "--max" ]]; then
  max="$2"
  shift 2
fi
cd "$(dirname "$0")/.."
paths=("$@")
[[ ${#paths[@]} -gt 0 ]] || paths=(src)
exec python3 - "$max" "${paths[@]}" <<'PY'
import os, re, sys

limit = int(sys.argv[1])
roots = sys.argv[2:]
CONTROL = re.compile(r'\b(if|for|while|switch|catch|return|sizeof|decltype|alignof|noexcept)\s*$')


def blank(text):
    """Comments, strings and character literals become spaces; line breaks stay, so line numbers stay right."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif c == 'R' and text.startswith('R"', i) and re.match(r'R"([^(\s]*)\(', text[i:]):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            end = text.find(')' + m.group(1) + '"', i)
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif c in '"\'':
            if c == "'" and i > 0 and text[i - 1].isalnum() and text[i + 1:i + 2].isdigit():
                out.append(' ')  # a digit separator: 1'000
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            if j < n and text[j] == '\n':  # not a literal after all: keep the line break
                out.append(' ' * (j - i))
                i = j
            else:
                out.append(' ' * (min(j, n - 1) - i + 1))
                i = j + 1
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def functions(path):
    text = blank(open(path, encoding='utf-8', errors='replace').read())
    text = re.sub(r'^[ \t]*#.*$', '', text, flags=re.M)  # preprocessor lines
    stack, last = [], 0  # one (is_function, name, start_line) per open brace
    for i, c in enumerate(text):
        if c == '{':
            head = text[last:i]
            name = None
            if not any(s[0] for s in stack):  # inside a function: a lambda or a local class, part of it
                h = head.strip()
                if h.endswith(')') or re.search(r'\)\s*(const|override|final|noexcept|&|->[^;]*|:.*)$', h, re.S):
                    m = re.search(r'([~\w:]+(?:<[^<>]*>)?|operator\s*[^\s(]+)\s*\(', h)
                    if m and not CONTROL.search(h[:m.end() - 1]) and \
                            not re.match(r'(if|for|while|switch|catch|return)\b', m.group(1)) and \
                            '=' not in h[:m.start()].split('\n')[-1]:
                        name = m.group(1)
            start = text.count('\n', 0, i - len(head) + (len(head) - len(head.lstrip()))) + 1
            stack.append((name is not None, name, start))
            last = i + 1
        elif c == '}':
            if stack:
                is_fn, name, start = stack.pop()
                if is_fn:
                    yield name, start, text.count('\n', 0, i) + 1 - start + 1
            last = i + 1
        elif c == ';':
            last = i + 1


found = []
for root in roots:
    for dirpath, dirs, files in os.walk(root):
        if root == 'src' and os.path.normpath(dirpath).startswith(os.path.normpath('src/kapi')):
            continue
        for f in sorted(files):
            if f.endswith(('.cc', '.cpp', '.h', '.hpp')):
                p = os.path.join(dirpath, f)
                for name, start, lines in functions(p):
                    if lines > limit:
                        found.append((lines, f'{p}:{start}', name))
for lines, where, name in sorted(found, reverse=True):
    print(f'{lines:5d} {where} {name}')
sys.exit(1 if found else 0)
PY
