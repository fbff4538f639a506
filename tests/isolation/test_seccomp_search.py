"""The seccomp filter finds the screened system calls by a binary search (cheap for the kernel
to run over every number when it builds its cache); it answers exactly as the one chain of
comparisons did, for every number, architecture and argument: both programs are run here on
an emulator of classic BPF (the few instructions the assembler emits)."""

from __future__ import annotations

import itertools
import posix
import struct

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posixbackend.isolation import seccomp

INSTRUCTION = struct.Struct("=HBBI")
PID = 4242
OTHER_ARCH = 0x40000003  # i386's AUDIT_ARCH: another ABI, killed by the architecture check


def decode(program: bytes) -> list[tuple[int, int, int, int]]:
    """The program's instructions: (code, jt, jf, k)."""
    return list(INSTRUCTION.iter_unpack(program))


def run(code: list[tuple[int, int, int, int]], nr: int, arch: int, args: tuple[int, ...]) -> int:
    """The action the program answers for this struct seccomp_data (a classic BPF machine:
    LD W ABS, AND K, JEQ/JGT/JSET K, RET K; any other instruction fails the test)."""
    words = struct.unpack("=16I", struct.pack("=IIQ6Q", nr, arch, 0, *args))
    a = 0
    pc = 0
    for _ in range(len(code)):  # every jump goes forward: at most one pass
        op, jt, jf, k = code[pc]
        pc += 1
        if op == 0x20:
            if k % 4:
                raise AssertionError(f"a load the filter never makes: offset {k}")
            a = words[k // 4]
        elif op == 0x54:
            a &= k
        elif op in (0x15, 0x25, 0x45):
            taken = a == k if op == 0x15 else a > k if op == 0x25 else bool(a & k)
            pc += jt if taken else jf
        elif op == 0x06:
            return k
        else:
            raise AssertionError(f"an instruction the emulator does not know: {op:#x}")
    raise AssertionError("the program ran off its end")


def policies() -> list[seccomp.FilterPolicy]:
    """The isolated child's policy and every combination of the launcher's knobs."""
    made = [seccomp.isolated_policy(PID)]
    for processes, sockets, metadata in itertools.product(
        (False, True), list(seccomp.Sockets), (False, True)
    ):
        made.append(
            seccomp.FilterPolicy(
                PID, processes=processes, sockets=sockets, file_metadata=metadata,
                file_watches=metadata,
            )
        )
    return made


def constants(program: bytes) -> set[int]:
    """Every value the program compares with (the arguments that take its other branches)."""
    return {k for op, _, _, k in INSTRUCTION.iter_unpack(program) if op in (0x15, 0x45)}


@pytest.mark.parametrize(
    "arch", list(seccomp.ARCHITECTURES.values()), ids=lambda arch: hex(arch.audit_arch)
)
def test_the_search_answers_as_the_chain_for_every_number(arch: seccomp.Architecture) -> None:
    """Every number, both ABIs, plain arguments; and for the numbers the filter compares
    with, each value it compares arguments with, in every argument (0 and 1 in the high
    halves). The code that reads arguments is the same in both programs: only the way to it
    differs."""
    for policy in policies():
        chained = seccomp.filter_program(arch, policy, linear=True)
        searched, linear = decode(seccomp.filter_program(arch, policy)), decode(chained)
        assert searched != linear  # (the layouts do differ)
        values = sorted(constants(chained))
        plain = [(0,) * 6, ((1 << 64) - 1,) * 6]
        detailed = plain + [(v,) * 6 for v in values] + [(v | 1 << 32,) * 6 for v in values]
        numbers = [*range(arch.last_known + 3), 0x40000000, 0x7FFFFFFF, 0xFFFFFFFF]
        for nr, audit in itertools.product(numbers, (arch.audit_arch, OTHER_ARCH)):
            sets = detailed if nr in values and audit == arch.audit_arch else plain
            for args in sets:
                assert run(searched, nr, audit, args) == run(linear, nr, audit, args), (
                    policy, nr, hex(audit), args,
                )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    nr=st.integers(min_value=0, max_value=520),
    args=st.tuples(*[st.integers(min_value=0, max_value=(1 << 64) - 1)] * 6),
    pick=st.integers(min_value=0, max_value=1 << 16),
)
def test_the_search_answers_as_the_chain_for_any_arguments(
    nr: int, args: tuple[int, ...], pick: int
) -> None:
    arch = list(seccomp.ARCHITECTURES.values())[pick % len(seccomp.ARCHITECTURES)]
    policy = policies()[pick % len(policies())]
    searched = decode(seccomp.filter_program(arch, policy))
    chained = decode(seccomp.filter_program(arch, policy, linear=True))
    assert run(searched, nr, arch.audit_arch, args) == run(chained, nr, arch.audit_arch, args)


def test_the_emulator_sees_what_the_filter_refuses() -> None:
    """The emulator itself: the answers the isolated filter is known for (so a comparison of
    two wrong answers cannot pass unnoticed)."""
    arch = seccomp.ARCHITECTURES["x86_64"]
    program = decode(seccomp.filter_program(arch, PID))
    numbers = {**arch.numbers, "read": 0, "getpid": 39}  # (x86_64's; the filter names only
    # the calls it screens)
    assert run(program, numbers["read"], arch.audit_arch, (0,) * 6) == seccomp.ALLOW
    assert run(program, numbers["read"], OTHER_ARCH, (0,) * 6) == seccomp.KILL_PROCESS
    assert run(program, numbers["unshare"], arch.audit_arch, (0,) * 6) == seccomp.refuse(1)
    assert run(program, numbers["kill"], arch.audit_arch, (PID, 9, 0, 0, 0, 0)) == seccomp.ALLOW
    assert run(program, numbers["kill"], arch.audit_arch, (1, 9, 0, 0, 0, 0)) == seccomp.refuse(1)
    assert run(program, arch.last_known + 1, arch.audit_arch, (0,) * 6) == seccomp.refuse(38)
    assert run(program, numbers["getpid"], arch.audit_arch, (0,) * 6) == seccomp.ALLOW


def test_without_hot_calls_and_with_shared_returns_it_answers_as_before() -> None:
    """On a kernel that caches constant answers, the filter has no hot calls first (they
    never run it there); each leaf of the search jumps to one return per answer. Both only
    shorten the program: the isolated policy's answers stay the chain's on every number."""
    assert not seccomp.caches_answers("5.10.200") and seccomp.caches_answers("5.11.0-rc1")
    assert seccomp.caches_answers("6.8.0-49-generic") and not seccomp.caches_answers("?")
    for arch in seccomp.ARCHITECTURES.values():
        cold = attrs.evolve(arch, hot=())
        searched = seccomp.filter_program(cold, PID)
        chained = decode(seccomp.filter_program(arch, PID, linear=True))
        # the hot calls' comparisons and one instruction of each refused number are gone
        assert len(searched) // 8 < len(seccomp.filter_program(arch, PID, linear=True)) // 8
        code = decode(searched)
        for nr in [*range(arch.last_known + 3), 0xFFFFFFFF]:
            for audit in (arch.audit_arch, OTHER_ARCH):
                assert run(code, nr, audit, (0,) * 6) == run(chained, nr, audit, (0,) * 6), nr
    expected = seccomp.ARCHITECTURES[posix.uname().machine]
    if seccomp.caches_answers(posix.uname().release):
        assert seccomp.architecture() == attrs.evolve(expected, hot=())
    else:
        assert seccomp.architecture() is expected
