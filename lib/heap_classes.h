/* heap_classes.h - the heap's size classes, the one source of every table
 * derived from them (the class table in heap.c, the free path's reciprocals,
 * the bitmap masks and the size-to-class lookup in heap_alloc.c). Part of the
 * on-memory format: a span's class number names its unit size and length in
 * every process that maps the heap, so changing a line means a new format
 * version. test/heap/test_heap_classes.c checks the invariants.
 *
 * X(unit, blocks): unit size in bytes (a multiple of 16, at most 25% above
 * the class before), span length in 4 KiB blocks (at most 16). The units of
 * a span follow: as many as fit, at most 256 (8 bitmap words of 32 bits).
 */
#ifndef SHMFS_HEAP_CLASSES_H
#define SHMFS_HEAP_CLASSES_H

#define HEAP_CLASS_TABLE(X, a) \
	X(16, 1, a)    X(32, 1, a)    X(48, 1, a)    X(64, 1, a)   \
	X(80, 1, a)    X(96, 1, a)    X(112, 1, a)   X(128, 1, a)  \
	X(160, 1, a)   X(192, 1, a)   X(224, 1, a)   X(256, 1, a)  \
	X(320, 1, a)   X(384, 1, a)   X(448, 1, a)   X(512, 1, a)  \
	X(640, 2, a)   X(768, 2, a)   X(896, 2, a)   X(1024, 2, a) \
	X(1280, 3, a)  X(1536, 3, a)  X(1792, 4, a)  X(2048, 4, a) \
	X(2560, 5, a)  X(3072, 6, a)  X(3584, 7, a)  X(4096, 8, a) \
	X(5120, 10, a) X(6144, 12, a) X(7168, 14, a) X(8192, 16, a)

/* Units of a span of class (unit, blocks). */
#define HEAP_CLASS_UNITS(unit, blocks) \
	((blocks) * 4096u / (unit) > 256u ? 256u : (blocks) * 4096u / (unit))

/* Unit bits of bitmap word i (32 units a word) of a span of n units (the
 * & 31 only keeps the shift of the branches not taken in range). */
#define HEAP_CLASS_WORD_MASK(n, i) \
	((n) <= 32u * (i) ? 0ull : (n) - 32u * (i) >= 32u ? 0xffffffffull : \
	 0xffffffffull >> ((32u - ((n) - 32u * (i))) & 31))

/* The free path's reciprocal of a unit size: (rel * recip) >> 32 == rel /
 * unit for every offset rel inside a span (rel < 2^16, unit <= 2^13). */
#define HEAP_CLASS_RECIP(unit) ((uint32_t)((1ull << 32) / (unit)) + 1)

/* Class of a size: the number of classes whose unit is below it. As
 * constant expressions, for the lookup tables: HEAP_CLASS_OF(sz). */
#define HEAP_CLASS_BELOW_(unit, blocks, sz) + ((unit) < (sz))
#define HEAP_CLASS_OF(sz) (0 HEAP_CLASS_TABLE(HEAP_CLASS_BELOW_, sz))
#define HEAP_CLASS_ONE_(unit, blocks, a) + 1
#define HEAP_CLASS_COUNT (0 HEAP_CLASS_TABLE(HEAP_CLASS_ONE_, 0))

#endif
