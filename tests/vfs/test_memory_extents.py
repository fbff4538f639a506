"""The sparse content of memory files against a plain model: bytes plus a set of pages.

The model keeps every byte (holes as zeros) and the set of allocated pages, by tmpfs's rules:
a write allocates every page it touches, fallocate every page of its range, a truncate frees
the pages past the new end. The chunks must read the same, count the same pages, answer
SEEK_DATA/SEEK_HOLE from those pages and keep their invariants after every step.
"""

from __future__ import annotations

import errno

from hypothesis import given
from hypothesis import strategies as st

from vfs.memory.extents import PAGE_SIZE, Extents, page_count, page_end

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 40 * PAGE_SIZE), st.integers(1, 3 * PAGE_SIZE)),
        st.tuples(st.just("truncate"), st.integers(0, 50 * PAGE_SIZE), st.just(0)),
        st.tuples(st.just("allocate"), st.integers(0, 40 * PAGE_SIZE), st.integers(1, 9000)),
        st.tuples(st.just("room"), st.integers(0, 40 * PAGE_SIZE), st.integers(0, 4)),
    ),
    max_size=30,
)


class Model:
    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        self.pages = set(range(page_count(len(data))))

    def write(self, offset: int, chunk: bytes) -> None:
        end = offset + len(chunk)
        if end > len(self.data):
            self.data.extend(bytes(end - len(self.data)))
        self.data[offset:end] = chunk
        self.pages.update(range(offset // PAGE_SIZE, page_count(end)))

    def truncate(self, length: int) -> None:
        if length < len(self.data):
            del self.data[length:]
        else:
            self.data.extend(bytes(length - len(self.data)))
        self.pages = {page for page in self.pages if page < page_count(length)}

    def allocate(self, offset: int, end: int) -> None:
        if end > len(self.data):
            self.data.extend(bytes(end - len(self.data)))
        self.pages.update(range(offset // PAGE_SIZE, page_count(end)))

    def seek(self, offset: int, data: bool) -> int:
        size = len(self.data)
        if offset >= size:
            return -errno.ENXIO
        position = offset
        while position < size:
            if (position // PAGE_SIZE in self.pages) == data:
                return position
            position = (position // PAGE_SIZE + 1) * PAGE_SIZE
        return -errno.ENXIO if data else size


def seek(extents: Extents, offset: int, data: bool) -> int:
    try:
        return extents.seek(offset, data)
    except OSError as error:
        return -(error.errno or 0)


def check(extents: Extents, model: Model) -> None:
    size = len(model.data)
    assert extents.size == size
    assert extents.read(size + 10, 0) == bytes(model.data)
    assert extents.pages == len(model.pages)
    starts, chunks = extents.starts, extents.chunks
    for index, (start, chunk) in enumerate(zip(starts, chunks, strict=True)):
        assert start % PAGE_SIZE == 0 and chunk and start + len(chunk) <= size
        if index + 1 < len(starts):
            assert page_end(start + len(chunk)) <= starts[index + 1]
    for offset in {0, size // 3, size // 2, size - 1, size, *(s + 1 for s in starts)}:
        if offset >= 0:
            assert seek(extents, offset, True) == model.seek(offset, True)
            assert seek(extents, offset, False) == model.seek(offset, False)


@given(initial=st.integers(0, 3 * PAGE_SIZE), ops=OPS)
def test_chunks_agree_with_the_model(initial: int, ops: list[tuple[str, int, int]]) -> None:
    seed = bytes(range(1, 256)) * (initial // 255 + 1)
    extents = Extents(initial, bytearray(seed[:initial]))
    model = Model(seed[:initial])
    for step, (op, offset, length) in enumerate(ops):
        if op == "write":
            chunk = bytes([step % 255 + 1]) * length
            extents.write(memoryview(chunk), offset)
            model.write(offset, chunk)
        elif op == "truncate":
            extents.truncate(offset)
            model.truncate(offset)
        elif op == "allocate":
            extents.allocate(offset, offset + length)
            model.allocate(offset, offset + length)
        else:  # how far a write may go with ``length`` free pages
            end = offset + 5 * PAGE_SIZE
            stop = extents.fitting_end(offset, end, length)
            needed = extents.new_pages(offset, end)
            if needed <= length:
                assert stop == end
            else:
                touched = range(offset // PAGE_SIZE, page_count(end))
                holes = [page for page in touched if page not in model.pages]
                assert stop == max(offset, holes[length] * PAGE_SIZE)
        check(extents, model)
    dense = extents.dense()
    if dense is not None:
        assert dense == model.data and model.pages == set(range(page_count(len(model.data))))
    else:
        assert model.pages != set(range(page_count(len(model.data))))
