import { ServiceApiError } from '../shared/http';
import type { NormalizedItem } from '../shared/NormalizedItem';
import type { SocketLogger } from '../shared/ReconnectingSocket';
import { redactedMessage } from '../shared/redact';
import { WaitPolling, waitUntilFinal } from '../shared/waitUntilFinal';
import type { KurierApiClient } from './KurierApiClient';
import { KurierJobStream } from './KurierJobStream';
import type { KurierJobStreamOptions } from './KurierJobStream';
import { normalizeKurierJob } from './protocol';
import type { KurierSubmissionMode } from './protocol';

export interface WaitForJobOptions {
	client: KurierApiClient;
	jobId: string;
	timeoutMs: number;
	/** REST polling runs beside the WebSocket as a safety net, and alone when the socket cannot be had. */
	pollIntervalMs: number;
	logger?: SocketLogger;
	/** n8n's execution-cancel signal: stop waiting (and free everything) when the execution is cancelled. */
	signal?: AbortSignal;
	/** How the job was submitted, when the caller knows: a `direct` job is final at Finalized even with a chainId. */
	submissionMode?: KurierSubmissionMode;
	/** Timing of the stream's REST follow-up after Finalized (tests shorten it). */
	restFollow?: KurierJobStreamOptions['restFollow'];
}

/**
 * Waits until a Kurier job is final, over the WebSocket, with REST polling as the fallback.
 * Resolves with the final normalized item; rejects on timeout, cancel, or an error a wait cannot
 * outlast (unknown job, refused key). Every socket and timer is gone when it settles.
 */
export async function waitForKurierJob(options: WaitForJobOptions): Promise<NormalizedItem> {
	const { client, jobId, logger } = options;
	return await waitUntilFinal({ subject: `Kurier job ${jobId}`, stateName: 'status', timeoutMs: options.timeoutMs, signal: options.signal }, ({ observe, fail }) => {
		const stream = new KurierJobStream({
			client,
			target: { kind: 'job', jobId },
			submissionMode: options.submissionMode,
			restFollow: options.restFollow,
			logger,
			onItem: observe,
			onFatal: (error) => logger?.warn(`Kurier WebSocket unavailable while waiting for job ${jobId}, polling only: ${error.message}`),
		});
		const polling = new WaitPolling(async () => {
			try {
				observe(normalizeKurierJob(await client.getJobStatus(jobId, polling.signal), new Date().toISOString(), options.submissionMode));
			} catch (error) {
				if (isPermanent(error)) fail(error as Error);
				else logger?.warn(`Polling Kurier job ${jobId} failed, will retry: ${redactedMessage(error, client.redact)}`);
			}
			polling.schedule(options.pollIntervalMs);
		});
		stream.start().then(
			() => polling.schedule(options.pollIntervalMs),
			(error: unknown) => {
				if (isPermanent(error)) {
					fail(error as Error);
					return;
				}
				logger?.warn(`Kurier WebSocket unavailable while waiting for job ${jobId}, polling instead: ${redactedMessage(error, client.redact)}`);
				polling.schedule(0);
			},
		);
		return async () => {
			polling.stop();
			await stream.close();
		};
	});
}

/** The service said no (unknown job, refused key, bad request): waiting longer cannot change that. */
function isPermanent(error: unknown): boolean {
	return error instanceof ServiceApiError && error.httpStatus >= 400 && error.httpStatus < 500 && error.httpStatus !== 429;
}
