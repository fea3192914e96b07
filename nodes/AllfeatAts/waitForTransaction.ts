import type { NormalizedItem } from '../shared/NormalizedItem';
import type { SocketLogger } from '../shared/ReconnectingSocket';
import { redactedMessage } from '../shared/redact';
import type { AllfeatAtsApiClient } from './AllfeatAtsApiClient';
import { TransactionNotFoundError } from './AllfeatAtsApiClient';
import { AllfeatTransactionStream } from './AllfeatTransactionStream';
import { NOT_FOUND_STATUS, normalizeTransaction } from './protocol';

export interface WaitForTransactionOptions {
	client: AllfeatAtsApiClient;
	transactionId: string;
	timeoutMs: number;
	/** REST polling interval, used when the WebSocket cannot be had. */
	pollIntervalMs: number;
	logger?: SocketLogger;
	/** n8n's execution-cancel signal: stop waiting (and free everything) when the execution is cancelled. */
	signal?: AbortSignal;
}

export class TransactionWaitTimeoutError extends Error {
	constructor(
		message: string,
		readonly lastItem: NormalizedItem | null,
	) {
		super(message);
		this.name = 'TransactionWaitTimeoutError';
	}
}

/**
 * Waits until an Allfeat ATS transaction is `completed` or `failed`, over its WebSocket (REST
 * polling when the socket cannot be had). Resolves with the final state as Get Transaction returns
 * it (step history in `details.steps`); rejects on timeout, cancel, an unknown id or a refused key.
 * Every socket and timer is gone when it settles.
 */
export async function waitForAllfeatTransaction(options: WaitForTransactionOptions): Promise<NormalizedItem> {
	const { client, transactionId } = options;
	let lastItem: NormalizedItem | null = null;
	let settle: { resolve(item: NormalizedItem): void; reject(error: Error): void };
	const done = new Promise<NormalizedItem>((resolve, reject) => (settle = { resolve, reject }));

	const stream = new AllfeatTransactionStream({
		client,
		transactionId,
		logger: options.logger,
		polling: { intervalMs: options.pollIntervalMs },
		onItem: (item) => {
			if (item.status === NOT_FOUND_STATUS) {
				settle.reject(new TransactionNotFoundError(transactionId, null));
				return;
			}
			lastItem = item;
			if (item.isFinal) settle.resolve(item);
		},
		onFatal: (error) => settle.reject(error),
	});

	const timeout = setTimeout(() => {
		const last = lastItem ? `its last step was ${lastItem.status}` : 'no step was received';
		settle.reject(new TransactionWaitTimeoutError(`Allfeat ATS transaction ${transactionId} was not final after ${Math.round(options.timeoutMs / 1000)} s (${last})`, lastItem));
	}, options.timeoutMs);
	const onAbort = () => settle.reject(new Error(`Waiting for Allfeat ATS transaction ${transactionId} was cancelled`));
	options.signal?.addEventListener('abort', onAbort, { once: true });
	if (options.signal?.aborted) onAbort();
	stream.start().catch((error: Error) => settle.reject(error));

	try {
		return await finalState(client, transactionId, await done, options.logger);
	} finally {
		clearTimeout(timeout);
		options.signal?.removeEventListener('abort', onAbort);
		await stream.close();
	}
}

/** The final state with its whole history, as Get Transaction gives it; the step item if REST cannot say more. */
async function finalState(client: AllfeatAtsApiClient, transactionId: string, finalItem: NormalizedItem, logger?: SocketLogger): Promise<NormalizedItem> {
	try {
		const snapshot = normalizeTransaction(transactionId, await client.getTransaction(transactionId), new Date().toISOString());
		if (snapshot.isFinal) return snapshot;
	} catch (error) {
		logger?.warn(`Allfeat ATS transaction ${transactionId} is ${finalItem.status}, but its history could not be read: ${redactedMessage(error, client.redact)}`);
	}
	return finalItem;
}
