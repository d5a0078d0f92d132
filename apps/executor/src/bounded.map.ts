/**
 * A Map that keeps at most `limit` entries, dropping the oldest-written first (a `set` of an
 * existing key moves it to the end). Enough for "recently completed commands": redeliveries come
 * soon after the first delivery (a rebalance, a lost commit), not days later.
 *
 *   const m = new BoundedMap<string, number>(2);
 *   m.set('a', 1); m.set('b', 2); m.set('c', 3);   // 'a' dropped
 *   m.get('a') -> undefined; m.get('c') -> 3; m.size -> 2
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be >= 1 (${limit})`);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): this {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.limit) {
      const oldest = this.map.keys().next().value as K;
      this.map.delete(oldest);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }
}
