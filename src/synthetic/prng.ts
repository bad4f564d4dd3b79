/**
 * Seeded pseudo-random numbers for synthetic data: the same seed must give the
 * same data on every machine and Node version, which Math.random cannot.
 * sfc32 (Chris Doty-Humphrey's Small Fast Counter), state filled by splitmix32.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Picks by relative weight: `weighted([["a", 3], ["b", 1]])` gives "a" three times as often. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T;
  /**
   * An independent stream named by `label`: what one part of a generator draws
   * does not shift what another part draws, so adding a borrower or an
   * institution leaves the others' data unchanged.
   */
  fork(label: string | number): Rng;
}

function hashLabel(label: string): number {
  // FNV-1a, 32-bit.
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

class Sfc32 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(private readonly seed: number) {
    const mix = splitmix32(seed);
    this.a = mix();
    this.b = mix();
    this.c = mix();
    // The first outputs of sfc32 are correlated with the seed; discard them.
    for (let i = 0; i < 12; i++) this.u32();
  }

  private u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.u32() / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[Math.floor(this.next() * items.length)];
  }

  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of choices) total += w;
    let r = this.next() * total;
    for (const [value, w] of choices) {
      if (r < w) return value;
      r -= w;
    }
    return choices[choices.length - 1][0];
  }

  fork(label: string | number): Rng {
    return new Sfc32(hashLabel(`${this.seed}/${label}`));
  }
}

/** A generator for `seed`; any number or string is a valid seed (7 and "7" are the same). */
export function createRng(seed: number | string): Rng {
  return new Sfc32(hashLabel(String(seed)));
}
