#!/usr/bin/env python3
# make_seeds.py - writes the seed corpus of the heap fuzz target (corpus/):
# one input per kind of damage the heap must survive, each an op sequence in
# the format fuzz_heap.c reads. Run from this directory after changing it.
import os
import struct

MALLOC, FREE, WILD, CORRUPT, TRIM, RECLAIM, STATS, CHECK, USABLE = 0, 3, 5, 6, 7, 8, 9, 10, 11
JOIN, LEAVE, KILL, ALIGNED, CALLOC, SIGMALLOC = 12, 13, 14, 15, 16, 17
W_DESC, W_AUX, W_HOLD, W_BMAP, W_USED, W_HINT, W_OWNER, W_MUT, W_BYTE, W_SDESC = range(10)


def op(code, handle=0):
    # low 5 bits the operation, high 3 the handle
    return bytes([(handle << 5) | code])


def u(v, n):
    return v.to_bytes(n, 'little')


def malloc(sz_mode, v, handle=0):
    return op(MALLOC, handle) + u((v << 2) | sz_mode, 2)


def corrupt(what, idx, mode, extra=b''):
    return op(CORRUPT) + bytes([what]) + u(idx, 2) + bytes([mode]) + extra


def sdesc(idx, kind, cls, handle_owner=True, handle=1, gen=1):
    f = kind | ((cls // 4) & 15) << 4 | (0x100 if handle_owner else 0) | handle << 24 | 0x80000000
    return op(CORRUPT) + bytes([W_SDESC]) + u(idx, 2) + bytes([0]) + u(f, 4) + bytes([gen, cls])


def common_tail():
    return op(STATS) + op(CHECK) + op(USABLE) + u(0x1000, 4) + op(TRIM) + op(RECLAIM)


seeds = {
    'alloc-free': bytes([0x20]) + b''.join(malloc(1, s) for s in (16, 100, 700, 3000, 8000)) +
    malloc(2, 5000) + malloc(3, 3000) + b''.join(op(FREE) + bytes([i]) for i in range(7)) +
    op(TRIM) + common_tail(),
    'class47-reclaim': bytes([0x21]) + op(JOIN) + b''.join(malloc(1, 40, 1) for _ in range(6)) +
    b''.join(sdesc(i, 2, 47) for i in range(4)) + op(KILL, 1) + op(RECLAIM) + common_tail() +
    op(FREE) + bytes([0]) + op(WILD) + bytes([1, 0]),
    'large-aux': bytes([0x3f]) + malloc(2, 9000) + malloc(3, 4000) +
    corrupt(W_AUX, 0, 1, u(0xffffffff, 4)) + corrupt(W_AUX, 3, 1, u(0x7fff, 4)) + op(STATS) +
    op(USABLE | 32) + bytes([0]) + op(FREE) + bytes([0]) + op(FREE) + bytes([1]) + common_tail(),
    'bitmap-bits': bytes([0x10]) + b''.join(malloc(0, s) for s in (1, 17, 40, 63)) +
    b''.join(corrupt(W_BMAP, i, (b << 2) | 0) for i in range(0, 16) for b in (40, 62)) +
    b''.join(malloc(0, 5) for _ in range(8)) + b''.join(op(FREE) + bytes([i]) for i in range(8)) +
    common_tail(),
    'signal-aligned-calloc': bytes([0x48]) + b''.join(op(SIGMALLOC) + u((s << 2) | 1, 2) for s in (8, 200, 4000)) +
    op(ALIGNED) + u((300 << 2) | 1, 2) + bytes([9]) + op(ALIGNED) + u((3000 << 2) | 2, 2) + bytes([14]) +
    op(CALLOC) + u((1000 << 2) | 1, 2) + common_tail(),
    'owner-dead-header': bytes([0x60]) + op(JOIN) + op(JOIN) + malloc(1, 64, 1) + malloc(1, 64, 2) +
    op(KILL, 2) + corrupt(W_OWNER, 0, 1, u(2 | 5 << 2 | 77 << 32, 8)) + op(RECLAIM) + op(LEAVE, 1) +
    corrupt(W_BYTE, 24, 0) + op(JOIN) + op(STATS) + op(CHECK) + op(RECLAIM),
    'hold-hint-used': bytes([0x05]) + b''.join(malloc(1, s) for s in (48, 640, 1500)) +
    corrupt(W_HOLD, 0, 3) + corrupt(W_HOLD, 1, 1, u(0x3fffff, 4)) + corrupt(W_HINT, 0, 7) +
    corrupt(W_USED, 0, 3) + corrupt(W_MUT, 3, 1, u(1 << 40, 8)) + b''.join(malloc(1, 48) for _ in range(4)) +
    malloc(3, 2000) + common_tail(),
}

os.makedirs('corpus', exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join('corpus', name), 'wb') as f:
        f.write(data)
