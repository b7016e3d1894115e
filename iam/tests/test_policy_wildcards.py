"""The linear-time glob agrees with the plain regular-expression reading of ``*`` and ``?``
on every small pattern and text, and ARN patterns match part by part."""

from __future__ import annotations

import itertools
import random
import re

from iam.policy.document import ActionPattern, ActionSet
from iam.policy.wildcards import STAR, arn_glob, atoms_of, glob


def _reference(pattern: str, text: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def test_glob_agrees_with_the_regular_expression_reading():
    alphabet = "ab*?"
    patterns = ["".join(p) for n in range(6) for p in itertools.product(alphabet, repeat=n)]
    texts = ["".join(t) for n in range(6) for t in itertools.product("ab", repeat=n)]
    for pattern in patterns:
        compiled = glob(atoms_of(pattern))
        for text in texts:
            assert compiled.match(text) == _reference(pattern, text), (pattern, text)


def test_action_sets_agree_with_their_patterns_one_by_one():
    rng = random.Random(14)
    names = ["lambda:getfunction", "lambda:getalias", "lambda:listfunctions", "logs:getlogevents"]
    pool = ["lambda:get*", "lambda:get?lias", "*", "lambda:*functions", "logs:*", "lambda:getalias"]
    for _ in range(300):
        chosen = rng.sample(pool, rng.randint(1, 3))
        patterns = tuple(ActionPattern(p, glob(atoms_of(p))) for p in chosen)
        action_set = ActionSet(patterns)
        for name in names:
            assert action_set.match(name) == any(_reference(p, name) for p in chosen)


def test_a_literal_star_atom_only_matches_a_star():
    compiled = glob(("a", "*", STAR))  # the literal "*" then a wildcard
    assert compiled.match("a*anything")
    assert not compiled.match("abc")


def test_arn_patterns_match_each_part_on_its_own():
    pattern = arn_glob(atoms_of("arn:aws:lambda:*:111111111111:function:*"))
    assert pattern.match("arn:aws:lambda:us-east-1:111111111111:function:f")
    assert pattern.match("arn:aws:lambda:us-east-1:111111111111:function:f:prod")
    # The region wildcard does not swallow the account's colon.
    assert not pattern.match("arn:aws:lambda:us-east-1:222222222222:x:111111111111:function:f")
    assert not pattern.match("not-an-arn")
    assert arn_glob(atoms_of("*")).match("*")
    assert not arn_glob(atoms_of("arn:aws:lambda")).match("arn:aws:lambda:x:y:z")
