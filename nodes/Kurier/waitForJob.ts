import { ServiceApiError } from '../shared/http';
import type { NormalizedItem } from '../shared/NormalizedItem';
import type { SocketLogger } from '../shared/ReconnectingSocket';
import { redactedMessage } from '../shared/redact';
import type { KurierApiClient } from './KurierApiClient';
import { KurierJobStream } from './KurierJobStream';
import { normalizeKurierJob } from './protocol';

export interface WaitForJobOptions {
	client: KurierApiClient;
	jobId: string;
	timeoutMs: number;
	/** REST polling runs beside the WebSocket as a safety net, and alone when the socket cannot be had. */
	pollIntervalMs: number;
	logger?: SocketLogger;
	/** n8n's execution-cancel signal: stop waiting (and free everything) when the execution is cancelled. */
	signal?: AbortSignal;
}

export class WaitTimeoutError extends Error {
	constructor(
		message: string,
		readonly lastItem: NormalizedItem | null,
	) {
		super(message);
		this.name = 'WaitTimeoutError';
	}
}

/**
 * Waits until a Kurier job is final, over the WebSocket, with REST polling as the fallback.
 * Resolves with the final normalized item; rejects on timeout, cancel, or an error a wait cannot
 * outlast (unknown job, refused key). Every socket and timer is gone when it settles.
 */
export async function waitForKurierJob(options: WaitForJobOptions): Promise<NormalizedItem> {
	const { client, jobId, logger } = options;
	let lastItem: NormalizedItem | null = null;
	let settle: { resolve(item: NormalizedItem): void; reject(error: Error): void };
	const done = new Promise<NormalizedItem>((resolve, reject) => (settle = { resolve, reject }));

	const observe = (item: NormalizedItem) => {
		lastItem = item;
		if (item.isFinal) settle.resolve(item);
	};
	const stream = new KurierJobStream({
		client,
		target: { kind: 'job', jobId },
		logger,
		onItem: observe,
		onFatal: (error) => logger?.warn(`Kurier WebSocket unavailable while waiting for job ${jobId}, polling only: ${error.message}`),
	});

	let pollTimer: NodeJS.Timeout | null = null;
	let settled = false;
	const requests = new AbortController();
	const schedulePoll = (delayMs: number) => {
		// A poll that was in flight when the wait ended must not start another.
		if (!settled) pollTimer = setTimeout(() => void poll(), delayMs);
	};
	const poll = async () => {
		try {
			observe(normalizeKurierJob(await client.getJobStatus(jobId, requests.signal), new Date().toISOString()));
		} catch (error) {
			if (isPermanent(error)) settle.reject(error as Error);
			else logger?.warn(`Polling Kurier job ${jobId} failed, will retry: ${redactedMessage(error, client.redact)}`);
		}
		schedulePoll(options.pollIntervalMs);
	};

	const timeout = setTimeout(() => {
		const last = lastItem ? `its last status was ${lastItem.status}` : 'no status was received';
		settle.reject(new WaitTimeoutError(`Kurier job ${jobId} was not final after ${Math.round(options.timeoutMs / 1000)} s (${last})`, lastItem));
	}, options.timeoutMs);
	const onAbort = () => settle.reject(new Error(`Waiting for Kurier job ${jobId} was cancelled`));
	options.signal?.addEventListener('abort', onAbort, { once: true });
	if (options.signal?.aborted) onAbort();

	stream.start().then(
		() => schedulePoll(options.pollIntervalMs),
		(error: unknown) => {
			if (isPermanent(error)) {
				settle.reject(error as Error);
				return;
			}
			logger?.warn(`Kurier WebSocket unavailable while waiting for job ${jobId}, polling instead: ${redactedMessage(error, client.redact)}`);
			schedulePoll(0);
		},
	);

	try {
		return await done;
	} finally {
		settled = true;
		requests.abort();
		clearTimeout(timeout);
		if (pollTimer) clearTimeout(pollTimer);
		options.signal?.removeEventListener('abort', onAbort);
		await stream.close();
	}
}

/** The service said no (unknown job, refused key, bad request): waiting longer cannot change that. */
function isPermanent(error: unknown): boolean {
	return error instanceof ServiceApiError && error.httpStatus >= 400 && error.httpStatus < 500 && error.httpStatus !== 429;
}
