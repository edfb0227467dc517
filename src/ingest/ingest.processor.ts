import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnModuleInit } from '@nestjs/common';
import type { Job } from 'bullmq';
import { AppConfig } from '../config/app.config';
import { ApplyBatcher } from './apply.batcher';
import { EventApplyService } from './event-apply.service';
import { INGEST_QUEUE, type ApplyJobData } from './ingest.queue';

@Processor(INGEST_QUEUE)
export class IngestProcessor extends WorkerHost implements OnModuleInit {
  private readonly log = new Logger(IngestProcessor.name);

  constructor(
    private readonly applier: EventApplyService,
    private readonly batcher: ApplyBatcher,
    private readonly cfg: AppConfig,
  ) {
    super();
  }

  onModuleInit(): void {
    this.worker.concurrency = this.cfg.WORKER_CONCURRENCY;
  }

  async process(job: Job<ApplyJobData>): Promise<{ applied: boolean }> {
    try {
      // Applied in a batch with other jobs' events; resolves after that transaction committed
      // (and its familiar-list changes were published).
      const res = await this.batcher.submit(job.data.inboxId);
      return { applied: res !== null };
    } catch (err) {
      const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      await this.applier.recordFailure(job.data.inboxId, err, final);
      throw err; // BullMQ retries with backoff; the last failure stays in the failed set.
    }
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job<ApplyJobData> | undefined, err: Error): void {
    // Ids and error class only: messages can carry data.
    this.log.warn({ inboxId: job?.data.inboxId, attempt: job?.attemptsMade, err: err.name }, 'apply failed');
  }
}
