import { DataSource } from 'typeorm';
import type { TestPlace } from './services.js';

/**
 * Writes `count` rows named `${prefix}-0`, `${prefix}-1`, ... (or `name(i)`) straight into the table,
 * 1000 to a multi-row INSERT, with expiry times spread over the second before `expiresBy` (expired
 * when that is in the past). Resolves to their ids.
 */
export async function seedSessions(
  place: TestPlace,
  prefix: string,
  count: number,
  expiresBy: number,
  name: (i: number) => string = (i) => `${prefix}-${i}`,
): Promise<string[]> {
  const dataSource = await new DataSource(place.dataSource).initialize();
  const postgres = place.dataSource.type === 'postgres';
  const ids: string[] = [];
  try {
    for (let start = 0; start < count; start += 1000) {
      const params: unknown[] = [];
      const rows: string[] = [];
      for (let i = start; i < Math.min(start + 1000, count); i++) {
        const expiresAt = expiresBy - ((i * 7919) % 1000);
        ids.push(name(i));
        params.push(ids[i], `{"data":{"n":${i}},"flash":{}}`, expiresAt, expiresAt - 1000, expiresAt - 2000);
        const at = (k: number) => (postgres ? `$${params.length - 4 + k}` : '?');
        rows.push(`(${at(0)}, ${at(1)}, ${at(2)}, ${at(3)}, ${at(4)})`);
      }
      await dataSource.query(
        `INSERT INTO ${place.table} (id, payload, expires_at, last_activity, created_at) VALUES ${rows.join(', ')}`,
        params,
      );
    }
  } finally {
    await dataSource.destroy();
  }
  return ids;
}

/** The ids the table holds. */
export async function idsIn(place: TestPlace): Promise<string[]> {
  const dataSource = await new DataSource(place.dataSource).initialize();
  try {
    const rows: { id: string }[] = await dataSource.query(`SELECT id FROM ${place.table}`);
    return rows.map((row) => row.id);
  } finally {
    await dataSource.destroy();
  }
}
