/**
 * Aho-Corasick multi-pattern matching (Aho & Corasick, "Efficient string matching", CACM 1975):
 * one linear pass over a text reports every pattern it contains. The engine uses it as a
 * prefilter for rules whose only necessary condition is a substring (`CommandLine|contains`).
 */

/**
 * A keyword automaton over UTF-16 code units.
 *
 * @example
 * const ac = new AhoCorasick(); ac.add('he', 0); ac.add('she', 1); ac.build();
 * ac.scan('ushers', (id) => found.push(id)); // found: [1, 0]
 */
export class AhoCorasick {
  private readonly next: Map<number, number>[] = [new Map()];
  private readonly fail: number[] = [0];
  private readonly out: number[][] = [[]];
  private built = false;

  /** Add a pattern with the id `scan` reports for it. */
  add(pattern: string, id: number): void {
    if (this.built) throw new RangeError('AhoCorasick: add after build');
    if (typeof pattern !== 'string' || pattern.length === 0) throw new TypeError('pattern must be a non-empty string');
    let s = 0;
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern.charCodeAt(i);
      let n = this.next[s].get(c);
      if (n === undefined) {
        n = this.next.length;
        this.next.push(new Map());
        this.fail.push(0);
        this.out.push([]);
        this.next[s].set(c, n);
      }
      s = n;
    }
    this.out[s].push(id);
  }

  /** Compute failure links (breadth first); call once after the last `add`. */
  build(): void {
    const queue: number[] = [];
    for (const n of this.next[0].values()) queue.push(n);
    for (let q = 0; q < queue.length; q++) {
      const r = queue[q];
      for (const [c, u] of this.next[r]) {
        queue.push(u);
        let f = this.fail[r];
        while (f !== 0 && !this.next[f].has(c)) f = this.fail[f];
        const g = this.next[f].get(c);
        this.fail[u] = g !== undefined && g !== u ? g : 0;
        const extra = this.out[this.fail[u]];
        if (extra.length) this.out[u] = [...this.out[u], ...extra];
      }
    }
    // A full transition table, failure links folded in, so scanning costs one table read per
    // character. Kept small so the hot rows stay in cache: states are renumbered breadth first
    // (the shallow states text mostly visits come first) and characters that occur in no
    // pattern share column 0, which always leads back to the root. ASCII characters find their
    // column in a 128-entry array, others in a map.
    // Reporting states go last (most are deep, and text rarely reaches them), so that "does this
    // state report" is a comparison, not a table read per character.
    const bfs = [0].concat(queue);
    const quiet = bfs.filter((u) => this.out[u].length === 0);
    const order = quiet.concat(bfs.filter((u) => this.out[u].length !== 0));
    const n = order.length;
    const id = new Int32Array(n);
    order.forEach((u, i) => (id[u] = i));
    const cls = new Uint8Array(128);
    const wide = new Map<number, number>();
    let k = 1;
    // ASCII columns first (at most 128, so they fit the byte array), then the others.
    for (const u of order) for (const c of this.next[u].keys()) if (c < 128 && cls[c] === 0) cls[c] = k++;
    for (const u of order) for (const c of this.next[u].keys()) if (c >= 128 && !wide.has(c)) wide.set(c, k++);
    // Entries are row offsets (state × width), so a step is one add and one read.
    const delta = n * k <= 65536 ? new Uint16Array(n * k) : new Int32Array(n * k);
    const chars: [number, number][] = [];
    for (let c = 0; c < 128; c++) if (cls[c]) chars.push([c, cls[c]]);
    for (const [c, col] of wide) chars.push([c, col]);
    for (const u of order) {
      const row = id[u] * k;
      const frow = id[this.fail[u]] * k;
      for (const [c, col] of chars) {
        const g = this.next[u].get(c);
        delta[row + col] = g !== undefined ? id[g] * k : u === 0 ? 0 : delta[frow + col];
      }
    }
    const outs: number[][] = new Array(n);
    for (const u of order) outs[id[u]] = this.out[u];
    this.table = delta;
    this.width = k;
    this.cls = cls;
    this.wide = wide;
    this.term = quiet.length * k;
    this.outs = outs;
    this.built = true;
  }

  private table: Uint16Array | Int32Array = new Uint16Array(0);
  private width = 1;
  private cls: Uint8Array = new Uint8Array(128);
  private wide = new Map<number, number>();
  /** Row offset of the first reporting state: states at or past it report patterns. */
  private term = 0;
  private outs: number[][] = [];

  /** Column of a character in the table (0: in no pattern). */
  private col(c: number): number {
    return c < 128 ? this.cls[c] : (this.wide.get(c) ?? 0);
  }

  /** Whether any pattern occurs in `text` (stops at the first). */
  has(text: string): boolean {
    if (!this.built) throw new RangeError('AhoCorasick: scan before build');
    let s = 0;
    const table = this.table;
    const cls = this.cls;
    const term = this.term;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      s = table[s + (c < 128 ? cls[c] : this.col(c))];
      if (s >= term) return true;
    }
    return false;
  }

  /**
   * Write to `out` from index 0 the id of every pattern occurring in `text` (once per
   * occurrence) and return how many were written; `out` is not truncated, so a caller can
   * reuse one array without it being reallocated.
   */
  scanInto(text: string, out: number[]): number {
    if (!this.built) throw new RangeError('AhoCorasick: scan before build');
    let s = 0;
    let n = 0;
    const table = this.table;
    const w = this.width;
    const cls = this.cls;
    const term = this.term;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      s = table[s + (c < 128 ? cls[c] : this.col(c))];
      if (s < term) continue;
      const o = this.outs[s / w];
      for (let k = 0; k < o.length; k++) out[n++] = o[k];
    }
    return n;
  }

  /** Report the id of every pattern occurring in `text` (once per occurrence). */
  scan(text: string, found: (id: number) => void): void {
    const ids: number[] = [];
    const n = this.scanInto(text, ids);
    for (let i = 0; i < n; i++) found(ids[i]);
  }

}
