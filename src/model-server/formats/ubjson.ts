/**
 * A UBJSON (https://ubjson.org) decoder for XGBoost's `.ubj` models: objects, arrays, strongly typed
 * arrays (`[$d#L…`, which XGBoost uses for every node array) and the scalar types. Numbers are
 * big-endian; typed numeric arrays decode to typed arrays, so a large model is not a million JS numbers.
 */
import { InvalidInputError } from '../../errors.js';

/** Decodes one UBJSON value from `bytes`; throws InvalidInputError naming `source` when malformed. */
export function decodeUbjson(bytes: Uint8Array, source: string): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const fail = (what: string): never => {
    throw new InvalidInputError(`${source} is not valid UBJSON: ${what} at byte ${at}`);
  };
  const need = (n: number) => {
    if (at + n > bytes.length) fail('unexpected end');
  };
  const marker = (): number => {
    need(1);
    return bytes[at++] as number;
  };
  const integer = (type: number): number => {
    switch (type) {
      case 0x69: // i int8
        need(1);
        return view.getInt8(at++);
      case 0x55: // U uint8
        need(1);
        return view.getUint8(at++);
      case 0x49: // I int16
        need(2);
        at += 2;
        return view.getInt16(at - 2);
      case 0x6c: // l int32
        need(4);
        at += 4;
        return view.getInt32(at - 4);
      case 0x4c: // L int64
        need(8);
        at += 8;
        return Number(view.getBigInt64(at - 8));
      default:
        return fail(`expected an integer type, got ${JSON.stringify(String.fromCharCode(type))}`);
    }
  };
  const string = (): string => {
    const length = integer(marker());
    need(length);
    at += length;
    return Buffer.from(bytes.buffer, bytes.byteOffset + at - length, length).toString('utf8');
  };
  const scalar = (type: number): unknown => {
    switch (type) {
      case 0x5a: // Z null
        return null;
      case 0x54: // T
        return true;
      case 0x46: // F
        return false;
      case 0x64: // d float32
        need(4);
        at += 4;
        return view.getFloat32(at - 4);
      case 0x44: // D float64
        need(8);
        at += 8;
        return view.getFloat64(at - 8);
      case 0x53: // S string
        return string();
      case 0x43: // C char
        need(1);
        return String.fromCharCode(bytes[at++] as number);
      case 0x48: // H high-precision number, as a string
        return Number(string());
      case 0x5b:
        return array();
      case 0x7b:
        return object();
      default:
        return integer(type);
    }
  };
  const typedArray = (type: number, count: number): unknown => {
    const sizes: Record<
      number,
      [number, (offset: number) => number, new (n: number) => { [i: number]: number }]
    > = {
      100: [4, (o) => view.getFloat32(o), Float32Array],
      68: [8, (o) => view.getFloat64(o), Float64Array],
      105: [1, (o) => view.getInt8(o), Int8Array],
      85: [1, (o) => view.getUint8(o), Uint8Array],
      73: [2, (o) => view.getInt16(o), Int16Array],
      108: [4, (o) => view.getInt32(o), Int32Array],
      76: [8, (o) => Number(view.getBigInt64(o)), Float64Array],
    };
    const numeric = sizes[type];
    if (!numeric) return Array.from({ length: count }, () => scalar(type));
    const [size, read, Kind] = numeric;
    need(size * count);
    const out = new Kind(count);
    for (let i = 0; i < count; i++, at += size) out[i] = read(at);
    return out;
  };
  const containerHeader = (): { type?: number; count?: number } => {
    let type: number | undefined;
    let count: number | undefined;
    if (bytes[at] === 0x24) {
      at++;
      type = marker();
    }
    if (bytes[at] === 0x23) {
      at++;
      count = integer(marker());
    } else if (type !== undefined) fail('a typed container without a count');
    return { ...(type === undefined ? {} : { type }), ...(count === undefined ? {} : { count }) };
  };
  function array(): unknown {
    const { type, count } = containerHeader();
    if (type !== undefined && count !== undefined) return typedArray(type, count);
    const out: unknown[] = [];
    if (count !== undefined) {
      for (let i = 0; i < count; i++) out.push(scalar(marker()));
      return out;
    }
    for (;;) {
      const next = marker();
      if (next === 0x5d) return out;
      if (next === 0x4e) continue; // N no-op
      out.push(scalar(next));
    }
  }
  function object(): Record<string, unknown> {
    const { type, count } = containerHeader();
    const out: Record<string, unknown> = {};
    if (count !== undefined) {
      for (let i = 0; i < count; i++) {
        const key = string();
        out[key] = scalar(type ?? marker());
      }
      return out;
    }
    for (;;) {
      need(1);
      if (bytes[at] === 0x7d) {
        at++;
        return out;
      }
      const key = string();
      out[key] = scalar(marker());
    }
  }
  const value = scalar(marker());
  return value;
}
