/**
 * Seeded pseudo-random numbers for the sandbox.
 *
 * Every random decision the sandbox makes (generated account ids, injected faults, latency jitter) draws
 * from a generator built here, so a run is reproducible from its seed. Independent streams are derived
 * from one seed so that, for example, turning faults on does not change the generated account ids.
 */

/** A generator of floats in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: a tiny 32-bit PRNG, good enough for test scenarios and dependency-free.
 * Not cryptographically secure, which is irrelevant here.
 */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Named streams derived from one seed; the stream name keeps their sequences independent. */
export function deriveRandom(seed: number, stream: string): Random {
  let hash = 2166136261 ^ (seed >>> 0);
  for (const char of stream) {
    hash = Math.imul(hash ^ (char.codePointAt(0) ?? 0), 16777619);
  }
  return mulberry32(hash >>> 0);
}

/** An integer in [min, max], both inclusive. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** A string of `length` characters drawn from `alphabet`. */
export function randomString(random: Random, alphabet: string, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out += alphabet[Math.floor(random() * alphabet.length)];
  }
  return out;
}
