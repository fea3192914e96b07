import type { NormalizedItem } from '../shared/NormalizedItem';
import type { SocketLogger } from '../shared/ReconnectingSocket';
import { redactedMessage } from '../shared/redact';
import { finalSnapshotOr, waitUntilFinal } from '../shared/waitUntilFinal';
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

/**
 * Waits until an Allfeat ATS transaction is `completed` or `failed`, over its WebSocket (REST
 * polling when the socket cannot be had). Resolves with the final state as Get Transaction returns
 * it (step history in `details.steps`); rejects on timeout, cancel, an unknown id or a refused key.
 * Every socket and timer is gone when it settles.
 */
export async function waitForAllfeatTransaction(options: WaitForTransactionOptions): Promise<NormalizedItem> {
	const { client, transactionId } = options;
	const subject = `Allfeat ATS transaction ${transactionId}`;
	const finalItem = await waitUntilFinal({ subject, stateName: 'step', timeoutMs: options.timeoutMs, signal: options.signal }, ({ observe, fail }) => {
		const stream = new AllfeatTransactionStream({
			client,
			transactionId,
			logger: options.logger,
			polling: { intervalMs: options.pollIntervalMs },
			onItem: (item) => (item.status === NOT_FOUND_STATUS ? fail(new TransactionNotFoundError(transactionId, null)) : observe(item)),
			onFatal: fail,
		});
		stream.start().catch(fail);
		return async () => await stream.close();
	});
	// The final state with its whole history, as Get Transaction gives it; the step item if REST cannot say more.
	return await finalSnapshotOr(
		finalItem,
		async () => normalizeTransaction(transactionId, await client.getTransaction(transactionId), new Date().toISOString()),
		(error) =>
			options.logger?.warn(`Allfeat ATS transaction ${transactionId} is ${finalItem.status}, but its history could not be read: ${redactedMessage(error, client.redact)}`),
	);
}
