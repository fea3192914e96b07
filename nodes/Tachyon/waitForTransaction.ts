import { ServiceApiError } from '../shared/http';
import type { NormalizedItem } from '../shared/NormalizedItem';
import type { KeepAliveOptions, SocketLogger } from '../shared/ReconnectingSocket';
import { redactedMessage } from '../shared/redact';
import { WaitPolling, finalSnapshotOr, waitUntilFinal } from '../shared/waitUntilFinal';
import type { TachyonApiClient } from './TachyonApiClient';
import { TachyonStream } from './TachyonStream';
import { normalizeTachyonTransaction } from './protocol';

export interface WaitForTransactionOptions {
	client: TachyonApiClient;
	txId: string;
	timeoutMs: number;
	/** REST polling runs beside the WebSocket as a safety net, and alone when the socket cannot be had. */
	pollIntervalMs: number;
	logger?: SocketLogger;
	/** n8n's execution-cancel signal: stop waiting (and free everything) when the execution is cancelled. */
	signal?: AbortSignal;
	/** Tests shorten these. */
	keepAlive?: Pick<KeepAliveOptions, 'intervalMs' | 'timeoutMs'>;
	greetingWaitMs?: number;
}

/**
 * Waits until a Tachyon transaction is EXECUTED or FAILED, like the SDK's `waitForExecutionHash`,
 * but over the account's WebSocket (the credential's key, or one registered with the JWT or the
 * API key), with REST polling of GET /api/tx beside it: the first read right away (the socket only
 * carries changes), then every poll interval, and alone when the socket cannot be had. Resolves
 * with the final state as Get Transaction gives it; rejects on timeout, cancel, an unknown id or a
 * refused API key. Every socket and timer is gone when it settles.
 */
export async function waitForTachyonTransaction(options: WaitForTransactionOptions): Promise<NormalizedItem> {
	const { client, txId, logger } = options;
	const finalItem = await waitUntilFinal({ subject: `Tachyon transaction ${txId}`, stateName: 'status', timeoutMs: options.timeoutMs, signal: options.signal }, ({ observe, fail }) => {
		const stream = new TachyonStream({
			client,
			filters: { txIds: [txId] },
			logger,
			keepAlive: options.keepAlive,
			greetingWaitMs: options.greetingWaitMs,
			onItem: observe,
			onFatal: (error) => logger?.warn(`Tachyon WebSocket lost while waiting for transaction ${txId}, polling only: ${redactedMessage(error, client.redact)}`),
		});
		const polling = new WaitPolling(async () => {
			try {
				observe(normalizeTachyonTransaction(await client.getTransaction(txId, polling.signal), new Date().toISOString()));
			} catch (error) {
				if (polling.stopped) return;
				if (isPermanent(error)) {
					fail(error as Error);
					return;
				}
				logger?.warn(`Reading Tachyon transaction ${txId} failed, will retry: ${redactedMessage(error, client.redact)}`);
			}
			polling.schedule(options.pollIntervalMs);
		});
		// The first read does not wait for the socket: the transaction may be final already.
		polling.schedule(0);
		stream.start().catch((error: unknown) => {
			logger?.warn(`Tachyon WebSocket unavailable while waiting for transaction ${txId}, polling instead: ${redactedMessage(error, client.redact)}`);
		});
		return async () => {
			polling.stop();
			await stream.close();
		};
	});
	// The final state as Get Transaction gives it (the REST object has more fields than a notification).
	return await finalSnapshotOr(
		finalItem,
		async () => normalizeTachyonTransaction(await client.getTransaction(txId), new Date().toISOString()),
		(error) => logger?.warn(`Tachyon transaction ${txId} is ${finalItem.status}, but reading it once more failed: ${redactedMessage(error, client.redact)}`),
	);
}

/** The service said no (unknown transaction, refused key, bad id): waiting longer cannot change that. */
function isPermanent(error: unknown): boolean {
	return error instanceof ServiceApiError && error.httpStatus >= 400 && error.httpStatus < 500 && error.httpStatus !== 429 && error.httpStatus !== 408;
}
