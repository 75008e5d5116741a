import type { ByteSource } from './record-splitting.js';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const EMPTY = Buffer.alloc(0);

/** How a {@link LineCursor} reports read errors and lines over a size limit. */
export interface LineCursorOptions {
  /** Maps a read error to the one to throw (e.g. to name the object). */
  onError?: (error: unknown) => unknown;
  /**
   * The longest line allowed, in bytes without its `\r\n` (default: no limit), and the error for a
   * longer one, given its number and the bytes counted.
   */
  maxLine?: { bytes: number; tooLong: (line: number, bytes: number) => Error };
}

/**
 * The lines of a byte stream as offsets into the bytes read so far: {@link find} locates the next
 * line without allocating, so two streams can be walked in lockstep at millions of lines per second
 * with one `await` per chunk read, not per line.
 *
 * Lines follow SplitType Line: a line ends at `\n`, a trailing `\r` is dropped (CRLF), a missing final
 * newline still ends the last line, and blank lines are skipped while still counted in line numbers.
 *
 * A line is `buffer[start, end)`, valid until the next {@link fill}.
 *
 * With `maxLine`, a longer line fails as soon as it is known to be too long, and a line spanning
 * chunks stops being held once over the limit (its bytes are still counted, for the message), so an
 * endless line cannot exhaust memory.
 */
export class LineCursor {
  /** The bytes the current line is in. */
  buffer: Buffer = EMPTY;
  /** The current line's first byte in {@link buffer}. */
  start = 0;
  /** Just past the current line's last byte (its `\n` or `\r\n` excluded). */
  end = 0;
  /** The current line's 1-based number, blank lines counted. */
  line = 0;
  /** True once the stream has no more bytes to read. */
  ended = false;
  /** Bytes read from the source so far, a chunk or more ahead of the lines consumed. */
  bytesRead = 0;
  /** Where the next line begins in {@link buffer}. */
  private next = 0;
  /** Whether [start, end) is a line found and not yet consumed. */
  private found = false;
  /** The chunk a joined line was cut from, and where its unread part begins. */
  private rest: Buffer | undefined;
  private restFrom = 0;
  /** {@link buffer} as a latin1 string (one character per byte), made on first use after a fill. */
  private latin1: string | undefined;
  private readonly chunks: AsyncIterator<Uint8Array>;
  private readonly onError: (error: unknown) => unknown;
  private readonly maxLineBytes: number;
  private readonly tooLong: (line: number, bytes: number) => Error;

  /**
   * A cursor over bytes already in memory: {@link find} walks them all, no {@link fill} needed, so
   * a request body or a file read whole is split synchronously by the same rules as a stream.
   */
  static over(bytes: Uint8Array): LineCursor {
    const cursor = new LineCursor([]);
    cursor.load(
      Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    );
    cursor.ended = true;
    cursor.bytesRead = bytes.length;
    return cursor;
  }

  constructor(source: ByteSource, options: LineCursorOptions = {}) {
    this.chunks =
      Symbol.asyncIterator in source
        ? source[Symbol.asyncIterator]()
        : (source[Symbol.iterator]() as unknown as AsyncIterator<Uint8Array>);
    this.onError = options.onError ?? ((error) => error);
    this.maxLineBytes = options.maxLine?.bytes ?? Number.POSITIVE_INFINITY;
    this.tooLong = options.maxLine?.tooLong ?? ((line, bytes) => new Error(`line ${line}: ${bytes} bytes`));
  }

  /**
   * Whether a line is available in the bytes already read: sets {@link start}, {@link end} and
   * {@link line}. When false and not {@link ended}, call {@link fill} and ask again. Asking again
   * without {@link consume} gives the same line.
   */
  find(): boolean {
    if (this.found) return true;
    let buffer = this.buffer;
    let length = buffer.length;
    for (;;) {
      if (this.next >= length) {
        if (!this.rest) return false;
        // Past a joined line: back to the chunk it was cut from.
        this.load(this.rest);
        this.next = this.restFrom;
        this.rest = undefined;
        buffer = this.buffer;
        length = buffer.length;
        continue;
      }
      const from = this.next;
      let newline = buffer.indexOf(NEWLINE, from);
      if (newline === -1) {
        // The last line may lack its newline; until the stream ends it may be partial.
        if (!this.ended) return false;
        newline = length;
      }
      this.next = newline + 1;
      this.line += 1;
      const end = newline > from && buffer[newline - 1] === CARRIAGE_RETURN ? newline - 1 : newline;
      if (end - from > this.maxLineBytes) throw this.tooLong(this.line, end - from);
      if (end > from) {
        this.start = from;
        this.end = end;
        this.found = true;
        return true;
      }
    }
  }

  /**
   * {@link buffer} as a string of one character per byte, so `start`/`end` index it too: for matching
   * lines with a RegExp, which runs as native code. Made once per fill, and only if asked for.
   */
  text(): string {
    this.latin1 ??= this.buffer.toString('latin1');
    return this.latin1;
  }

  /** Moves past the line {@link find} found. */
  consume(): void {
    this.found = false;
  }

  /**
   * Reads until at least one more whole line (or the end of the stream) is in {@link buffer}. The
   * unread tail is carried over; a line spanning chunks is joined once, alone: the chunk that ends it
   * is not copied.
   */
  async fill(): Promise<void> {
    // The partial line carried into this fill: its bytes (while within the limit) and its size.
    const pieces: Buffer[] = [];
    let size = 0;
    if (this.next < this.buffer.length) {
      const tail = this.buffer.subarray(this.next);
      pieces.push(tail);
      size = tail.length;
    }
    const limit = this.maxLineBytes;
    // The carried line's last byte, kept even when its bytes are not: a final CR is not the line's.
    let last = pieces[0]?.at(-1);
    for (;;) {
      let result: IteratorResult<Uint8Array>;
      try {
        result = await this.chunks.next();
      } catch (error) {
        throw this.onError(error);
      }
      if (result.done) {
        this.ended = true;
        const lineBytes = size - (last === CARRIAGE_RETURN ? 1 : 0);
        if (lineBytes > limit) throw this.tooLong(this.line + 1, lineBytes);
        this.load(pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, size));
        return;
      }
      const raw = result.value;
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      if (chunk.length === 0) continue;
      this.bytesRead += chunk.length;
      const newline = chunk.indexOf(NEWLINE);
      if (newline === -1) {
        size += chunk.length;
        last = chunk[chunk.length - 1];
        // One byte of slack for a CR that a newline in a later chunk would make the line's end.
        if (size <= limit + 1) pieces.push(chunk);
        else pieces.length = 0;
        continue;
      }
      if (size === 0) {
        this.load(chunk);
        return;
      }
      // This chunk ends the carried line: check its length, then join only that line (with its
      // newline); the rest of the chunk is read in place once the joined line is passed.
      if (newline > 0) last = chunk[newline - 1];
      const lineBytes = size + newline - (last === CARRIAGE_RETURN ? 1 : 0);
      if (lineBytes > limit) throw this.tooLong(this.line + 1, lineBytes);
      pieces.push(chunk.subarray(0, newline + 1));
      this.load(Buffer.concat(pieces, size + newline + 1));
      if (newline + 1 < chunk.length) {
        this.rest = chunk;
        this.restFrom = newline + 1;
      }
      return;
    }
  }

  /**
   * Bytes of the source before the next line to find: the lines consumed (and the current one, once
   * found), for progress. {@link bytesRead} less what is read but not yet reached.
   */
  get position(): number {
    const rest = this.rest ? this.rest.length - this.restFrom : 0;
    return this.bytesRead - (this.buffer.length - this.next) - rest;
  }

  private load(buffer: Buffer): void {
    this.buffer = buffer;
    this.next = 0;
    this.latin1 = undefined;
  }

  /** Stops reading: the source's own cleanup runs (a stream is destroyed). */
  async close(): Promise<void> {
    await this.chunks.return?.(undefined);
  }

  /** Counts the lines left, this one included (for a count-mismatch message). */
  async countRest(): Promise<number> {
    let n = 0;
    for (;;) {
      if (this.find()) {
        n += 1;
        this.consume();
      } else if (this.ended) {
        return n;
      } else {
        await this.fill();
      }
    }
  }
}

/** One line of {@link lines}: its text (UTF-8 decoded, `\r\n` excluded) and its 1-based number. */
export interface Line {
  text: string;
  line: number;
}

/**
 * The lines of text or bytes already in memory, split exactly as {@link LineCursor} splits a stream
 * (`\n` or `\r\n` ends a line, a last line needs no newline, blank lines are skipped but counted):
 * the one line splitter for callers that hold the whole text.
 */
export function* lines(data: string | Uint8Array): Generator<Line> {
  const cursor = LineCursor.over(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  while (cursor.find()) {
    yield { text: cursor.buffer.toString('utf8', cursor.start, cursor.end), line: cursor.line };
    cursor.consume();
  }
}
