import { createHash } from 'node:crypto';

import type { NormalizedItem } from '../shared/NormalizedItem';
import { isoNow } from '../shared/NormalizedItem';
import { isFirstSkipOf } from '../shared/frames';
import type { ConnectionHandle, KeepAliveOptions, ReconnectingSocketOptions, SocketTarget } from '../shared/ReconnectingSocket';
import { SocketFatalError } from '../shared/ReconnectingSocket';
import { sharedSockets } from '../shared/SocketPool';
import { IdFollowingStream } from '../shared/IdFollowingStream';
import type { FollowingStreamOptions } from '../shared/IdFollowingStream';
import type { Transition } from '../shared/TransitionTracker';
import type { TachyonApiClient } from './TachyonApiClient';
import type { TachyonFrameShape, TachyonTransaction } from './protocol';
import { PING_FRAME, classifyFrame, isTachyonFinal, isUnauthorizedText, normalizeTachyonTransaction, transactionIdOf, transitionKeyOf } from './protocol';

export interface TachyonStreamFilters {
	/** Each filter empty or absent: no restriction. */
	statuses?: readonly string[];
	txIds?: readonly string[];
	chainIds?: readonly number[];
}

export interface TachyonStreamOptions extends FollowingStreamOptions {
	client: TachyonApiClient;
	/** Filtered transitions are still tracked (so dedupe and reconcile stay right), just not emitted. */
	filters?: TachyonStreamFilters;
	/** Keep-alive periods (tests shorten them); the probe is always a WebSocket protocol ping. */
	keepAlive?: Pick<KeepAliveOptions, 'intervalMs' | 'timeoutMs'>;
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
const FRAME_EXCERPT_LENGTH = 160;
/** The debug line's path per frame shape, made once (not a new string per frame). */
const VIA_FRAME_SHAPE: Record<TachyonFrameShape, string> = { bare: 'websocket, bare frame', notification: 'websocket, notification frame', legacy: 'websocket, legacy frame' };

/**
 * Streams the account's transaction notifications on the shared socket (`x-ws-token` header), with
 * the id-following core (nodes/shared/IdFollowingStream.ts) and Tachyon's protocol: registration of
 * the WebSocket key where the credential has none, the greeting that proves a key was accepted, its
 * frame shapes and its REST transaction read.
 */
export class TachyonStream extends IdFollowingStream<TachyonTransaction> {
	private readonly matches: (item: NormalizedItem) => boolean;
	private readonly txIdFilter: ReadonlySet<string>;
	private greetingReceived: (() => void) | null = null;

	constructor(private readonly options: TachyonStreamOptions) {
		super(options, { name: 'Tachyon', noun: 'transaction', redact: options.client.redact, restBudget: options.client.restBudget });
		const statuses = new Set(options.filters?.statuses ?? []);
		const chainIds = new Set(options.filters?.chainIds ?? []);
		this.txIdFilter = new Set(options.filters?.txIds ?? []);
		this.matches = (item) =>
			(statuses.size === 0 || statuses.has(item.status)) &&
			(this.txIdFilter.size === 0 || this.txIdFilter.has(item.id)) &&
			(chainIds.size === 0 || (item.chainId !== null && chainIds.has(item.chainId)));
	}

	/**
	 * Resolves once connected and greeted. Where the credential has no WebSocket key, the socket's
	 * target is resolved by registering (with the dashboard JWT, else the API key), once per socket:
	 * a refused key or JWT rejects here with the service's answer, so an activation fails at once with
	 * the reason, and an unreachable service is left to the start policy like any failed start.
	 */
	async start(): Promise<void> {
		const client = this.options.client;
		const stored = client.storedWebSocket;
		// The key is fixed for the activation ("persistent, reusable"), so registering once per socket
		// is enough. Every transaction of the account comes on every connection of the key, so
		// triggers on one key (or one registering credential) share one socket, each with its filters.
		const keepAlive = { ...DEFAULT_KEEP_ALIVE_PERIODS, ...this.options.keepAlive };
		const timings = JSON.stringify([keepAlive, this.options.backoff ?? null]);
		// The key is held as a digest, as the registering secret is: a pool key is never a secret.
		const poolKey = stored ? `tachyon ${stored.url} ${digestOf(stored.key)} ${timings}` : `tachyon registering ${client.registrationIdentity} ${timings}`;
		const lease = this.attach(sharedSockets.lease(poolKey, () => ({ options: tachyonSocketOptions(this.options, keepAlive), shared: undefined }), { logger: this.options.logger }));
		lease.addListener({
			onUnparsedFrame: (text) => {
				if (isUnauthorizedText(text)) this.refuseKey(text);
			},
		});
		await lease.start();
	}

	/** A drop cancels the greeting timer: stop waiting for a greeting that cannot come. */
	protected override onDrop(): void {
		this.greetingReceived?.();
	}

	protected override beforeClose(): void {
		this.greetingReceived?.();
	}

	protected override async onConnected(connection: ConnectionHandle): Promise<void> {
		await this.awaitGreeting(connection);
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

	/** Only the transactions the trigger asked for, when it names them. */
	protected override idsToReconcile(): string[] {
		return this.tracker.unfinishedIds().filter((id) => this.txIdFilter.size === 0 || this.txIdFilter.has(id));
	}

	protected override async readRecord(txId: string, signal: AbortSignal): Promise<TachyonTransaction> {
		return await this.options.client.getTransaction(txId, signal);
	}

	protected override onServiceFrame(raw: unknown): void {
		const frame = classifyFrame(raw);
		switch (frame.kind) {
			case 'tx-update':
				this.greetingReceived?.();
				this.handle(frame.transaction, VIA_FRAME_SHAPE[frame.shape]);
				return;
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

	protected override transitionOf(transaction: TachyonTransaction): Transition {
		return { id: transactionIdOf(transaction), transitionKey: transitionKeyOf(transaction), isFinal: isTachyonFinal(transaction.status) };
	}

	protected override normalize(transaction: TachyonTransaction): NormalizedItem {
		return normalizeTachyonTransaction(transaction, isoNow());
	}

	protected override emits(item: NormalizedItem): boolean {
		return this.matches(item);
	}

	private excerpt(raw: unknown): string {
		const text = JSON.stringify(raw) ?? String(raw);
		return this.options.client.redact(text.length > FRAME_EXCERPT_LENGTH ? `${text.slice(0, FRAME_EXCERPT_LENGTH)}…` : text);
	}
}

/** The socket of a key: the stored one, or the one registration hands out (registered on the first attempt, then kept). */
function tachyonSocketOptions(options: TachyonStreamOptions, keepAlive: { intervalMs: number; timeoutMs: number }): ReconnectingSocketOptions {
	const client = options.client;
	let registered: SocketTarget | null = null;
	return {
		url: async (): Promise<SocketTarget> => {
			if (registered === null) {
				const endpoint = await client.webSocketEndpoint();
				registered = { url: endpoint.url, headers: { 'x-ws-token': endpoint.key } };
			}
			return registered;
		},
		redact: client.redact,
		logger: options.logger,
		// No pingFrame: ReconnectingSocket sends protocol pings and counts the pongs.
		keepAlive,
		backoff: options.backoff,
	};
}

function digestOf(secret: string): string {
	return createHash('sha256').update(secret).digest('hex');
}
