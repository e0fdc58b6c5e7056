/**
 * Text appended piece by piece into one off-heap buffer as UTF-8 and read back once as a string:
 * where the detector gathers its windows checkpoint for an alert store that keeps it
 * (Elasticsearch/OpenSearch; SQLite's detector streams it to a file instead, windows-file.ts). A
 * save yields to the event loop between pieces, so gathered in a JS array they would outlive
 * scavenges; here they die young, and only the buffer, outside V8's heap, outlives the write. Building the snapshot's object graph first
 * and stringifying it kept ~50k groups' worth of objects alive across the scavenges of the write,
 * which promoted them into the main thread's old generation with every checkpoint (soc/README
 * "Memory, session 10").
 *
 * @example
 * const t = new TextSink(1024);
 * t.write('{"a":');
 * t.write(JSON.stringify('é'));
 * t.write('}');
 * t.text(); // '{"a":"é"}'
 */
export class TextSink {
  private buf: Buffer;
  /** Bytes written. */
  length = 0;

  /** `bytes`: the room to start with (the buffer doubles when a piece does not fit). */
  constructor(bytes: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(64, Math.ceil(bytes)));
  }

  /** Append `s` (well-formed UTF-16, as `JSON.stringify` gives: a lone surrogate would become U+FFFD). */
  write(s: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8 (a surrogate pair, two units, is 4).
    const most = 3 * s.length;
    if (this.length + most > this.buf.length) {
      const b = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.length + most));
      this.buf.copy(b, 0, 0, this.length);
      this.buf = b;
    }
    this.length += this.buf.write(s, this.length, 'utf8');
  }

  /** Everything written, as one string. */
  text(): string {
    return this.buf.toString('utf8', 0, this.length);
  }
}
