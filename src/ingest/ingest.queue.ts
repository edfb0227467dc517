export const INGEST_QUEUE = 'ingest';

/** Job data carries ids only; the inbox row is the truth. */
export interface ApplyJobData {
  inboxId: string;
}

/** Deterministic: a job's id is its inbox row id, so enqueueing twice is harmless. */
export const applyJobId = (inboxId: string | number): string => `apply-${inboxId}`;
