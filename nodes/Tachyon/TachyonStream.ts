import type { NormalizedItem } from '../shared/NormalizedItem';
import { isoNow } from '../shared/NormalizedItem';
import { logsDebug } from '../shared/logging';
import { isFirstSkipOf } from '../shared/frames';
import type { BackoffOptions, ConnectionHandle, KeepAliveOptions, SocketLogger } from '../shared/ReconnectingSocket';
import type { ReconnectingSocket } from '../shared/ReconnectingSocket';
import { SocketFatalError } from '../shared/ReconnectingSocket';
import type { SocketLease } from '../shared/SocketPool';
import { sharedSockets } from '../shared/SocketPool';
import type { CheckpointStore, IdCheckpoint } from '../shared/checkpoints';
import { noteFailedRead, scheduleRestChecks } from '../shared/restBudget';
import { TransitionTracker } from '../shared/TransitionTracker';
import { redactedMessage } from '../shared/redact';
import type { TachyonApiClient, TachyonWebSocketEndpoint } from './TachyonApiClient';
import type { TachyonFrameShape, TachyonTransaction } from './protocol';
import { PING_FRAME, classifyFrame, isTachyonFinal, isUnauthorizedText, normalizeTachyonTransaction, transactionIdOf, transitionKeyOf } from './protocol';

export interface TachyonStreamFilters {
	/** Each filter empty or absent: no restriction. */
	statuses?: readonly string[];
	txIds?: readonly string[];
	chainIds?: readonly number[];
}

export interface TachyonStreamOptions {
	client: TachyonApiClient;
	/** Filtered transitions are still tracked (so dedupe and reconcile stay right), just not emitted. */
	filters?: TachyonStreamFilters;
	/**
	 * `accepted`: the checkpoint the tracker wrote for the item's transition (its sequence, and the
	 * key n8n deduplicates the execution by); absent for an item that is no transition of the id.
	 */
	onItem(item: NormalizedItem, accepted?: IdCheckpoint): void;
	/** Progress kept across activations (see nodes/shared/checkpoints.ts); absent: this activation only. */
	checkpoints?: CheckpointStore;
	/** How often, while connected, transactions not final yet are read over REST (jittered); 0: never. Default 5 min. */
	sweepIntervalMs?: number;
	/** Something a retry cannot fix, after the stream started (e.g. the WebSocket key was revoked). */
	onFatal(error: Error): void;
	logger?: SocketLogger;
	/** Keep-alive periods (tests shorten them); the probe is always a WebSocket protocol ping. */
	keepAlive?: Pick<KeepAliveOptions, 'intervalMs' | 'timeoutMs'>;
	backoff?: Partial<BackoffOptions>;
	/** How long a new connection may stay silent before it counts as ready anyway. */
	greetingWaitMs?: number;
}

/**
 * Keep-alive by WebSocket protocol ping (RFC 6455): every server answers it with a pong, where an
 * echo of an application message is only promised by the newest service page; on a server that
 * does not echo, an application ping would make every connection look dead after one period and
 * reconnect (and reconcile) for nothing. Any frame or pong counts as an answer.
 */
const DEFAULT_KEEP_ALIVE_PERIODS = { intervalMs: 30_000, timeoutMs: 10_000 };
const GREETING_WAIT_MS = 3_000;
/** REST reads in flight at once during a reconcile: quick for many transactions, gentle on the service. */
const RECONCILE_CONCURRENCY = 4;
const FRAME_EXCERPT_LENGTH = 160;

/**
 * Streams the account's transaction notifications over the shared reconnecting socket (`x-ws-token`
 * header) and turns them into normalized items: each status transition once, in order, also across
 * reconnects. After a reconnect it reads every transaction seen but not final over REST and emits
 * what was missed (REST knows only the current state, so statuses passed entirely while disconnected
 * collapse into the latest one).
 */
export class TachyonStream {
	/** This trigger's share of the one socket per Tachyon WebSocket key in the process. */
	private socket: SocketLease | null = null;
	private closed = false;
	private readonly tracker: TransitionTracker;
	private readonly matches: (item: NormalizedItem) => boolean;
	private readonly txIdFilter: ReadonlySet<string>;
	private greetingReceived: (() => void) | null = null;
	// Ids whose REST read is in flight; true once a WebSocket update for the id arrived meanwhile.
	private readonly reconciling = new Map<string, boolean>();
	// Cancels REST reads in flight on close, so nothing outlives the trigger.
	private readonly requests = new AbortController();

	constructor(private readonly options: TachyonStreamOptions) {
		this.tracker = new TransitionTracker({ checkpoints: options.checkpoints });
		const statuses = new Set(options.filters?.statuses ?? []);
		const chainIds = new Set(options.filters?.chainIds ?? []);
		this.txIdFilter = new Set(options.filters?.txIds ?? []);
		this.matches = (item) =>
			(statuses.size === 0 || statuses.has(item.status)) &&
			(this.txIdFilter.size === 0 || this.txIdFilter.has(item.id)) &&
			(chainIds.size === 0 || (item.chainId !== null && chainIds.has(item.chainId)));
	}

	/** The socket's counters (connections, reconnects), for tests and diagnostics; null before start. */
	get socketStats(): ReconnectingSocket['stats'] | null {
		return this.socket?.stats ?? null;
	}

	/**
	 * Resolves once connected and greeted. Registers the WebSocket first when the credential has no
	 * key (with the dashboard JWT, else the API key); a refused key or JWT rejects here, so an
	 * activation fails at once with the reason.
	 */
	async start(): Promise<void> {
		await this.connect(await this.options.client.webSocketEndpoint());
	}

	private async connect(endpoint: TachyonWebSocketEndpoint): Promise<void> {
		if (this.closed) return;
		// The key is fixed for the activation ("persistent, reusable"), so registering once is enough.
		// Every transaction of the account comes on every connection of the key, so triggers on one key
		// share one socket and each keeps what its filters ask for.
		const keepAlive = { ...DEFAULT_KEEP_ALIVE_PERIODS, ...this.options.keepAlive };
		const poolKey = `tachyon ${endpoint.url} ${endpoint.key} ${JSON.stringify([keepAlive, this.options.backoff ?? null])}`;
		const socketOptions = {
			url: endpoint.url,
			headers: { 'x-ws-token': endpoint.key },
			redact: this.options.client.redact,
			logger: this.options.logger,
			// No pingFrame: ReconnectingSocket sends protocol pings and counts the pongs.
			keepAlive,
			backoff: this.options.backoff,
		};
		this.socket = sharedSockets.lease(poolKey, () => ({ options: socketOptions, shared: undefined }), { logger: this.options.logger });
		this.socket.addListener({
			onReady: async (connection) => await this.onReady(connection),
			onFrame: (frame) => this.onFrame(frame),
			onUnparsedFrame: (text) => {
				if (isUnauthorizedText(text)) this.refuseKey(text);
			},
			// A drop cancels the greeting timer: stop waiting for a greeting that cannot come.
			onDisconnect: () => this.greetingReceived?.(),
			onFatal: (error) => this.options.onFatal(error),
		});
		await this.socket.start();
	}

	async close(): Promise<void> {
		this.closed = true;
		this.requests.abort();
		this.greetingReceived?.();
		await this.socket?.close();
	}

	private async onReady(connection: ConnectionHandle): Promise<void> {
		await this.awaitGreeting(connection);
		// After a drop, and at activation for the transactions an earlier activation left unfinished (checkpoints).
		if (connection.reconnected || this.tracker.unfinishedIds().length > 0) await this.reconcile();
		this.scheduleSweep();
	}

	/**
	 * Tachyon accepts the upgrade even for a bad key, then sends an unauthorized message and closes.
	 * So the connection is ready only once the server has spoken: its greeting, or the echo of the
	 * ping sent here (the legacy service may not greet). Silence past the wait is taken as ready.
	 */
	private async awaitGreeting(connection: ConnectionHandle): Promise<void> {
		await new Promise<void>((resolve) => {
			this.greetingReceived = resolve;
			this.socket?.scheduleOnConnection(this.options.greetingWaitMs ?? GREETING_WAIT_MS, resolve);
			connection.send(PING_FRAME);
		});
		this.greetingReceived = null;
	}

	/**
	 * While connected, every few minutes (jittered), read over REST every transaction not final yet:
	 * a status whose notification never came is still delivered. A drop cancels the timer; the next
	 * ready connection starts it again.
	 */
	private scheduleSweep(): void {
		if (this.socket === null) return;
		scheduleRestChecks(this.socket, this.options.sweepIntervalMs, async () => await this.reconcile());
	}

	/** Reads the current state of every transaction seen but not final; one failure does not stop the others. */
	private async reconcile(): Promise<void> {
		const queue = this.tracker.unfinishedIds().filter((id) => this.txIdFilter.size === 0 || this.txIdFilter.has(id));
		const worker = async () => {
			for (let txId = queue.shift(); txId !== undefined; txId = queue.shift()) {
				if (this.isClosed()) return;
				await this.reconcileOne(txId);
			}
		};
		await Promise.all(Array.from({ length: Math.min(RECONCILE_CONCURRENCY, queue.length) }, worker));
	}

	private async reconcileOne(txId: string): Promise<void> {
		const budget = this.options.client.restBudget;
		await budget.take(this.requests.signal);
		if (this.isClosed()) return;
		this.reconciling.set(txId, false);
		try {
			const transaction = await this.options.client.getTransaction(txId, this.requests.signal);
			// The socket spoke for this id while REST was answering: the socket's word is at least as
			// new, and anything after it comes over the socket too. An older REST state would be out of order.
			if (this.reconciling.get(txId) === false) this.handleTransaction(transaction, 'rest');
		} catch (error) {
			if (this.requests.signal.aborted) return;
			// Too many requests: the whole key waits. The transaction stays unfinished, so the next sweep reads it again.
			noteFailedRead(budget, error);
			this.options.logger?.warn(`Tachyon: could not reconcile transaction ${txId} over REST: ${redactedMessage(error, this.options.client.redact)}`);
		} finally {
			this.reconciling.delete(txId);
		}
	}

	private onFrame(raw: unknown): void {
		const frame = classifyFrame(raw);
		switch (frame.kind) {
			case 'tx-update': {
				this.greetingReceived?.();
				const txId = transactionIdOf(frame.transaction);
				if (this.reconciling.has(txId)) this.reconciling.set(txId, true);
				this.handleTransaction(frame.transaction, frame.shape);
				return;
			}
			case 'system':
				this.greetingReceived?.();
				this.options.logger?.debug(`Tachyon: ${this.options.client.redact(frame.message)}`);
				return;
			case 'echo':
				this.greetingReceived?.();
				return;
			case 'unauthorized':
				this.refuseKey(frame.message);
				return;
			case 'unknown':
				if (isFirstSkipOf(raw)) this.options.logger?.warn(this.options.client.redact(`Tachyon: skipped ${frame.reason}: ${this.excerpt(raw)}`));
				return;
		}
	}

	/** The service's unauthorized message: one fatal error, no reconnect. */
	private refuseKey(message: string): void {
		// Settle the greeting wait first; failing then closes the socket before onReady goes on.
		// The key is refused for every trigger that shares it: the whole socket stops.
		this.greetingReceived?.();
		this.socket?.failConnection(
			new SocketFatalError(
				this.options.client.redact(
					`Tachyon refused the WebSocket key ("${message}"). Check the credential's WebSocket Key, or, if the key is registered on activation, its API key or dashboard JWT.`,
				),
				'auth',
			),
		);
	}

	/** `via`: `rest`, or the shape of the frame it came in (only for the debug line). */
	private handleTransaction(transaction: TachyonTransaction, via: 'rest' | TachyonFrameShape): void {
		// Deactivated while a REST answer was on its way: emit nothing more.
		if (this.isClosed()) return;
		const txId = transactionIdOf(transaction);
		const transitionKey = transitionKeyOf(transaction);
		const accepted = this.tracker.accept({ id: txId, transitionKey, isFinal: isTachyonFinal(transaction.status) });
		if (accepted === null) return;
		// Normalized once per new transition (the filters read the item).
		const item = normalizeTachyonTransaction(transaction, isoNow());
		if (!this.matches(item)) return;
		if (logsDebug(this.options.logger)) this.options.logger?.debug(`Tachyon transaction ${txId} is ${transitionKey} (via ${via === 'rest' ? via : `websocket, ${via} frame`})`);
		try {
			this.options.onItem(item, accepted);
		} catch (error) {
			this.options.logger?.error(`Tachyon: emitting an item failed: ${redactedMessage(error, this.options.client.redact)}`);
		}
	}

	private isClosed(): boolean {
		return this.closed || this.socket?.state === 'closed';
	}

	private excerpt(raw: unknown): string {
		const text = JSON.stringify(raw) ?? String(raw);
		return this.options.client.redact(text.length > FRAME_EXCERPT_LENGTH ? `${text.slice(0, FRAME_EXCERPT_LENGTH)}…` : text);
	}
}
