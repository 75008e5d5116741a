/**
 * The bytes of the WebAssembly kernel predictor-wasm.ts runs: two functions, `run` (walks every tree for
 * a block of rows, `LANES` rows at a time, and adds the leaves to their margins in float32) and `expand`
 * (copies each row three times: missing values as -Infinity, as +Infinity, and as presence flags).
 * Assembled here, byte by byte, from the WebAssembly core specification's binary format: no compiler,
 * no build step. The WAT listings in the comments are what the emitters write.
 */

/** Rows walked together through each tree (their load chains overlap). */
export const LANES = 4;
/** A node in the kernel's memory: feature byte offset in a row (i32), threshold (f32), left and right node addresses (i32). */
export const NODE_BYTES = 16;
/** A tree table entry: root node address, depth, output group's byte offset in a margin row (i32 each; 4 spare). */
export const TREE_BYTES = 16;

/*
 * The kernel, as WebAssembly text (LANES = 4 shown; the lanes are unrolled by the emitter below):
 *
 * (func (export "run") (param $tree i32) (param $treeEnd i32) (param $rows i32) (param $rowBytes i32)
 *       (param $rowCount i32) (param $margins i32) (param $marginBytes i32)
 *   (local $root i32) (local $depth i32) (local $m i32) (local $x i32) (local $r i32) (local $d i32)
 *   (local $n0 i32) ... (local $n3 i32) (local $x0 i32) ... (local $x3 i32)
 *   (loop $trees
 *     ;; tree table entry: root node address, depth, output group's byte offset in a margin row
 *     (local.set $root (i32.load (local.get $tree)))
 *     (local.set $depth (i32.load offset=4 (local.get $tree)))
 *     (local.set $m (i32.add (local.get $margins) (i32.load offset=8 (local.get $tree))))
 *     (local.set $x (local.get $rows))
 *     (local.set $r (local.get $rowCount))
 *     (loop $lanes
 *       (local.set $n0 (local.get $root)) ... (local.set $n3 (local.get $root))
 *       (local.set $x0 (local.get $x))
 *       (local.set $x1 (i32.add (local.get $x0) (local.get $rowBytes))) ... $x3
 *       (local.set $d (local.get $depth))
 *       (block $leaf
 *         (br_if $leaf (i32.eqz (local.get $d)))
 *         (loop $steps
 *           ;; node: feature byte offset in the row, threshold f32, left node address, right node address
 *           (local.set $n0 (select
 *             (i32.load offset=12 (local.get $n0))
 *             (i32.load offset=8 (local.get $n0))
 *             (f32.ge (f32.load (i32.add (local.get $x0) (i32.load (local.get $n0))))
 *                     (f32.load offset=4 (local.get $n0)))))
 *           ... the same for $n1 .. $n3
 *           (br_if $steps (local.tee $d (i32.sub (local.get $d) (i32.const 1))))))
 *       ;; margin += leaf value, in float32, one row after the other
 *       (f32.store (local.get $m) (f32.add (f32.load (local.get $m)) (f32.load offset=4 (local.get $n0))))
 *       (local.set $m (i32.add (local.get $m) (local.get $marginBytes)))
 *       ... the same for $n1 .. $n3
 *       (local.set $x (i32.add (local.get $x3) (local.get $rowBytes)))
 *       (br_if $lanes (local.tee $r (i32.sub (local.get $r) (i32.const 4)))))
 *     (br_if $trees (i32.ne (local.tee $tree (i32.add (local.get $tree) (i32.const 16)))
 *                           (local.get $treeEnd)))))
 */

// Opcodes used (WebAssembly core spec, binary format).
const BLOCK = 0x02;
const LOOP = 0x03;
const BR_IF = 0x0d;
const END = 0x0b;
const SELECT = 0x1b;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_LOAD = 0x28;
const F32_LOAD = 0x2a;
const F32_STORE = 0x38;
const I32_CONST = 0x41;
const I32_EQZ = 0x45;
const I32_NE = 0x47;
const F32_GE = 0x60;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const F32_ADD = 0x92;
const F32_CONST = 0x43;
const F32_EQ = 0x5b;
const I32_SHL = 0x74;
const F32_CONVERT_I32_U = 0xb3;
const VOID = 0x40;
const I32 = 0x7f;

function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function utf8(text: string): number[] {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** `local.get $i`, `local.set $i`, `local.tee $i`: the instructions both functions below are made of. */
const localGet = (i: number) => [LOCAL_GET, ...uleb(i)];
const localSet = (i: number) => [LOCAL_SET, ...uleb(i)];
const localTee = (i: number) => [LOCAL_TEE, ...uleb(i)];
/** `(local.set $out (i32.add (local.get $a) (local.get $b)))`: an address stepped by a stride. */
const addInto = (a: number, b: number, out: number) => [
  ...localGet(a),
  ...localGet(b),
  I32_ADD,
  ...localSet(out),
];

/** The kernel module's bytes for `lanes` rows walked together. */
export function kernelBytes(lanes: number = LANES): Uint8Array {
  // Parameters 0..6, then locals.
  const [tree, treeEnd, rows, rowBytes, rowCount, margins, marginBytes] = [0, 1, 2, 3, 4, 5, 6];
  const [root, depth, m, x, r, d] = [7, 8, 9, 10, 11, 12];
  const n = (k: number) => 13 + k;
  const xs = (k: number) => 13 + lanes + k;
  const load = (op: number, offset: number) => [op, 2, ...uleb(offset)];
  const code: number[] = [
    LOOP,
    VOID,
    ...localGet(tree),
    ...load(I32_LOAD, 0),
    ...localSet(root),
    ...localGet(tree),
    ...load(I32_LOAD, 4),
    ...localSet(depth),
    ...localGet(margins),
    ...localGet(tree),
    ...load(I32_LOAD, 8),
    I32_ADD,
    ...localSet(m),
    ...localGet(rows),
    ...localSet(x),
    ...localGet(rowCount),
    ...localSet(r),
    LOOP,
    VOID,
  ];
  for (let k = 0; k < lanes; k++) code.push(...localGet(root), ...localSet(n(k)));
  code.push(...localGet(x), ...localSet(xs(0)));
  for (let k = 1; k < lanes; k++) code.push(...addInto(xs(k - 1), rowBytes, xs(k)));
  code.push(...localGet(depth), ...localSet(d), BLOCK, VOID, ...localGet(d), I32_EQZ, BR_IF, 0, LOOP, VOID);
  for (let k = 0; k < lanes; k++) {
    code.push(
      ...localGet(n(k)),
      ...load(I32_LOAD, 12),
      ...localGet(n(k)),
      ...load(I32_LOAD, 8),
      ...localGet(xs(k)),
      ...localGet(n(k)),
      ...load(I32_LOAD, 0),
      I32_ADD,
      ...load(F32_LOAD, 0),
      ...localGet(n(k)),
      ...load(F32_LOAD, 4),
      F32_GE,
      SELECT,
      ...localSet(n(k)),
    );
  }
  code.push(...localGet(d), I32_CONST, ...sleb(1), I32_SUB, ...localTee(d), BR_IF, 0, END, END);
  for (let k = 0; k < lanes; k++) {
    code.push(
      ...localGet(m),
      ...localGet(m),
      ...load(F32_LOAD, 0),
      ...localGet(n(k)),
      ...load(F32_LOAD, 4),
      F32_ADD,
      F32_STORE,
      2,
      0,
      ...addInto(m, marginBytes, m),
    );
  }
  code.push(...addInto(xs(lanes - 1), rowBytes, x));
  code.push(...localGet(r), I32_CONST, ...sleb(lanes), I32_SUB, ...localTee(r), BR_IF, 0, END);
  code.push(
    ...localGet(tree),
    I32_CONST,
    ...sleb(TREE_BYTES),
    I32_ADD,
    ...localTee(tree),
    ...localGet(treeEnd),
    I32_NE,
  );
  code.push(BR_IF, 0, END, END);
  const locals = vector([[...uleb(6 + 2 * lanes), I32]]);
  const body = [...locals, ...code];
  const expand = expandBody();
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(
      1,
      vector([
        [0x60, ...vector(Array.from({ length: 7 }, () => [I32])), 0],
        [0x60, ...vector(Array.from({ length: 4 }, () => [I32])), 0],
      ]),
    ),
    ...section(3, vector([[0], [1]])),
    ...section(5, vector([[0x00, 1]])),
    ...section(
      7,
      vector([
        [...utf8('run'), 0x00, 0],
        [...utf8('expand'), 0x00, 1],
        [...utf8('memory'), 0x02, 0],
      ]),
    ),
    ...section(
      10,
      vector([
        [...uleb(body.length), ...body],
        [...uleb(expand.length), ...expand],
      ]),
    ),
  ]);
}

/**
 * `expand(src, dst, count, numFeature)`: `count` rows of `numFeature` floats at `src` (NaN = missing)
 * written at `dst` as the three copies the kernel reads: missing as -Infinity, as +Infinity, and
 * presence flags (1 or 0). Branchless, like the walk.
 *
 * (func (export "expand") (param $src i32) (param $dst i32) (param $count i32) (param $nf i32)
 *   (local $end i32) (local $bytes i32) (local $dst2 i32) (local $dst3 i32) (local $v f32) (local $p i32)
 *   (local.set $bytes (i32.shl (local.get $nf) (i32.const 2)))
 *   (loop $rows
 *     (local.set $end (i32.add (local.get $src) (local.get $bytes)))
 *     (local.set $dst2 (i32.add (local.get $dst) (local.get $bytes)))
 *     (local.set $dst3 (i32.add (local.get $dst2) (local.get $bytes)))
 *     (loop $columns
 *       (local.set $p (f32.eq (local.tee $v (f32.load (local.get $src))) (local.get $v)))
 *       (f32.store (local.get $dst) (select (local.get $v) (f32.const -inf) (local.get $p)))
 *       (f32.store (local.get $dst2) (select (local.get $v) (f32.const inf) (local.get $p)))
 *       (f32.store (local.get $dst3) (f32.convert_i32_u (local.get $p)))
 *       (local.set $dst (i32.add (local.get $dst) (i32.const 4))) ... $dst2, $dst3
 *       (br_if $columns (i32.ne (local.tee $src (i32.add (local.get $src) (i32.const 4))) (local.get $end))))
 *     (local.set $dst (local.get $dst3))
 *     (br_if $rows (local.tee $count (i32.sub (local.get $count) (i32.const 1))))))
 */
function expandBody(): number[] {
  const [src, dst, count, nf, end, bytes, dst2, dst3, v, p] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const F32 = 0x7d;
  const f32 = (value: number) => [F32_CONST, ...new Uint8Array(Float32Array.of(value).buffer)];
  const bump = (i: number) => [...localGet(i), I32_CONST, 4, I32_ADD, ...localSet(i)];
  const code = [
    ...localGet(nf),
    I32_CONST,
    2,
    I32_SHL,
    ...localSet(bytes),
    LOOP,
    VOID,
    ...addInto(src, bytes, end),
    ...addInto(dst, bytes, dst2),
    ...addInto(dst2, bytes, dst3),
    LOOP,
    VOID,
    ...localGet(src),
    F32_LOAD,
    2,
    0,
    ...localTee(v),
    ...localGet(v),
    F32_EQ,
    ...localSet(p),
    ...localGet(dst),
    ...localGet(v),
    ...f32(Number.NEGATIVE_INFINITY),
    ...localGet(p),
    SELECT,
    F32_STORE,
    2,
    0,
    ...localGet(dst2),
    ...localGet(v),
    ...f32(Number.POSITIVE_INFINITY),
    ...localGet(p),
    SELECT,
    F32_STORE,
    2,
    0,
    ...localGet(dst3),
    ...localGet(p),
    F32_CONVERT_I32_U,
    F32_STORE,
    2,
    0,
    ...bump(dst),
    ...bump(dst2),
    ...bump(dst3),
    ...localGet(src),
    I32_CONST,
    4,
    I32_ADD,
    ...localTee(src),
    ...localGet(end),
    I32_NE,
    BR_IF,
    0,
    END,
    ...localGet(dst3),
    ...localSet(dst),
    ...localGet(count),
    I32_CONST,
    1,
    I32_SUB,
    ...localTee(count),
    BR_IF,
    0,
    END,
    END,
  ];
  const locals = vector([
    [4, I32],
    [1, F32],
    [1, I32],
  ]);
  return [...locals, ...code];
}
