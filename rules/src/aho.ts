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
    // A full transition table for ASCII (the bulk of log text), failure links folded in, so
    // scanning costs one array read per character; other characters take the map path.
    const n = this.next.length;
    const delta = new Int32Array(n * 128);
    for (const u of [0, ...queue]) {
      const row = u * 128;
      const frow = this.fail[u] * 128;
      for (let c = 0; c < 128; c++) {
        const g = this.next[u].get(c);
        delta[row + c] = g !== undefined ? g : u === 0 ? 0 : delta[frow + c];
      }
    }
    this.delta = delta;
    this.built = true;
  }

  private delta: Int32Array = new Int32Array(0);

  private step(s: number, c: number): number {
    if (c < 128) return this.delta[s * 128 + c];
    let n = this.next[s].get(c);
    while (n === undefined && s !== 0) {
      s = this.fail[s];
      n = this.next[s].get(c);
    }
    return n ?? 0;
  }

  /** Whether any pattern occurs in `text` (stops at the first). */
  has(text: string): boolean {
    if (!this.built) throw new RangeError('AhoCorasick: scan before build');
    let s = 0;
    const delta = this.delta;
    const out = this.out;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      s = c < 128 ? delta[s * 128 + c] : this.step(s, c);
      if (out[s].length) return true;
    }
    return false;
  }

  /** Append to `out` the id of every pattern occurring in `text` (once per occurrence). */
  scanInto(text: string, out: number[]): void {
    if (!this.built) throw new RangeError('AhoCorasick: scan before build');
    let s = 0;
    const delta = this.delta;
    const outs = this.out;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      s = c < 128 ? delta[s * 128 + c] : this.step(s, c);
      const o = outs[s];
      for (let k = 0; k < o.length; k++) out.push(o[k]);
    }
  }

  /** Report the id of every pattern occurring in `text` (once per occurrence). */
  scan(text: string, found: (id: number) => void): void {
    const ids: number[] = [];
    this.scanInto(text, ids);
    for (const id of ids) found(id);
  }

}
