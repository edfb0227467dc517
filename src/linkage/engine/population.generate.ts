// placeholder, replaced below
import type { RawPersonRecord } from './record.types';
export function generatePopulation(_o: { seed: number; persons: number }): { record: RawPersonRecord; personId: string }[] {
  return [];
}
