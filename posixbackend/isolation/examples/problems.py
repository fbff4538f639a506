"""Five small generated problems for the pass@k example, each with its tests and candidates.

Written here, nothing downloaded. A candidate is the source of a module ``solution`` that
defines the problem's function; the tests import it and check it with ``assert``, so a run
that exits with status 0 passed. Some candidates are wrong on purpose, and three misbehave
the way model output does: one never returns, one eats memory, and one tries to write a file
on the host and start a process (the isolated mode stops all three; the harness's test checks
the host). Each candidate's ``expected`` is whether it should pass, for the harness's test.
"""

from __future__ import annotations

from typing import Final

import attrs

ESCAPE_PATH: Final = "/tmp/posixbackend-passk-escaped"
"""The host file the escaping candidate tries to write (its test checks it stays absent)."""


@attrs.frozen
class Candidate:
    """One generated solution: its source, and whether it should pass the tests."""

    name: str
    source: str
    expected: bool


@attrs.frozen
class Problem:
    """A function to write, the tests a solution must pass, and the candidates to judge."""

    name: str
    prompt: str
    tests: str
    candidates: tuple[Candidate, ...]


ADD = Problem(
    name="add",
    prompt="def add(a: int, b: int) -> int: return the sum of a and b.",
    tests="from solution import add\nassert add(2, 3) == 5\nassert add(-1, 1) == 0\n",
    candidates=(
        Candidate("plain", "def add(a, b):\n    return a + b\n", True),
        Candidate("off by one", "def add(a, b):\n    return a + b + 1\n", False),
        Candidate("builtin sum", "def add(a, b):\n    return sum((a, b))\n", True),
        Candidate("string concat", "def add(a, b):\n    return int(str(a) + str(b))\n", False),
    ),
)

PALINDROME = Problem(
    name="palindrome",
    prompt="def is_palindrome(s: str) -> bool: whether s reads the same both ways.",
    tests=(
        "from solution import is_palindrome\n"
        "assert is_palindrome('level')\n"
        "assert not is_palindrome('levels')\n"
        "assert is_palindrome('')\n"
    ),
    candidates=(
        Candidate("slice", "def is_palindrome(s):\n    return s == s[::-1]\n", True),
        Candidate(
            "hangs",
            "def is_palindrome(s):\n"
            "    i, j = 0, len(s) - 1\n"
            "    while i < j:\n"
            "        if s[i] != s[j]:\n"
            "            return False\n"
            "        # forgot to move i and j: never returns on a palindrome\n"
            "    return True\n",
            False,
        ),
        Candidate(
            "two pointers",
            "def is_palindrome(s):\n"
            "    return all(s[i] == s[-1 - i] for i in range(len(s) // 2))\n",
            True,
        ),
    ),
)

FIZZBUZZ = Problem(
    name="fizzbuzz",
    prompt="def fizzbuzz(n: int) -> list[str]: the FizzBuzz words for 1..n.",
    tests=(
        "from solution import fizzbuzz\n"
        "assert fizzbuzz(5) == ['1', '2', 'Fizz', '4', 'Buzz']\n"
        "assert fizzbuzz(15)[-1] == 'FizzBuzz'\n"
    ),
    candidates=(
        Candidate(
            "modulo",
            "def fizzbuzz(n):\n"
            "    return ['Fizz' * (i % 3 == 0) + 'Buzz' * (i % 5 == 0) or str(i)\n"
            "            for i in range(1, n + 1)]\n",
            True,
        ),
        Candidate(
            "memory hog",
            "def fizzbuzz(n):\n"
            "    table = [str(i) for i in range(10 ** 10)]  # precomputes far too much\n"
            "    return table[:n]\n",
            False,
        ),
        Candidate(
            "wrong order",
            "def fizzbuzz(n):\n"
            "    out = []\n"
            "    for i in range(1, n + 1):\n"
            "        if i % 3 == 0:\n"
            "            out.append('Fizz')\n"
            "        elif i % 5 == 0:\n"
            "            out.append('Buzz')\n"
            "        elif i % 15 == 0:\n"
            "            out.append('FizzBuzz')\n"
            "        else:\n"
            "            out.append(str(i))\n"
            "    return out\n",
            False,
        ),
    ),
)

WORD_COUNT = Problem(
    name="word_count",
    prompt="def word_count(text: str) -> dict[str, int]: how often each word occurs.",
    tests=(
        "from solution import word_count\n"
        "assert word_count('a b a') == {'a': 2, 'b': 1}\n"
        "assert word_count('') == {}\n"
    ),
    candidates=(
        Candidate(
            "counter",
            "from collections import Counter\n\n"
            "def word_count(text):\n"
            "    return dict(Counter(text.split()))\n",
            True,
        ),
        Candidate(
            "escapes",
            "import subprocess\n\n"
            "def word_count(text):\n"
            f"    with open({ESCAPE_PATH!r}, 'w') as leak:  # lands in its memory fs only\n"
            "        leak.write(text)\n"
            f"    subprocess.run(['touch', {ESCAPE_PATH!r}])  # no process can start\n"
            "    counts = {}\n"
            "    for word in text.split():\n"
            "        counts[word] = counts.get(word, 0) + 1\n"
            "    return counts\n",
            False,
        ),
    ),
)

PRIMES = Problem(
    name="primes",
    prompt="def primes(n: int) -> list[int]: the primes below n, in order.",
    tests=(
        "from solution import primes\n"
        "assert primes(10) == [2, 3, 5, 7]\n"
        "assert primes(2) == []\n"
    ),
    candidates=(
        Candidate(
            "trial division",
            "def primes(n):\n"
            "    return [p for p in range(2, n) if all(p % d for d in range(2, p))]\n",
            True,
        ),
        Candidate(
            "includes one",
            "def primes(n):\n"
            "    return [p for p in range(1, n) if all(p % d for d in range(2, p))]\n",
            False,
        ),
        Candidate(
            "sieve",
            "def primes(n):\n"
            "    sieve = [True] * max(n, 2)\n"
            "    sieve[0] = sieve[1] = False\n"
            "    for i in range(2, int(n ** 0.5) + 1):\n"
            "        if sieve[i]:\n"
            "            sieve[i * i :: i] = [False] * len(sieve[i * i :: i])\n"
            "    return [i for i in range(n) if sieve[i]]\n",
            True,
        ),
    ),
)

PROBLEMS: Final = (ADD, PALINDROME, FIZZBUZZ, WORD_COUNT, PRIMES)
