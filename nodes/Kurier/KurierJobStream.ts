import type { NormalizedItem } from '../shared/NormalizedItem';
import type { ConnectionHandle, KeepAliveOptions, BackoffOptions, SocketLogger } from '../shared/ReconnectingSocket';
import { ReconnectingSocket, SocketFatalError } from '../shared/ReconnectingSocket';
import { TransitionTracker } from '../shared/TransitionTracker';
import { redactedMessage } from '../shared/redact';
import type { KurierApiClient } from './KurierApiClient';
import type { KurierClientFrame, KurierJobStatus } from './protocol';
import { clientFrames, isKurierFinal, kurierStatusRank, normalizeKurierJob, parseServerFrame } from './protocol';
import { isConnectedFrame } from '../shared/frames';

export type KurierStreamTarget = { kind: 'job'; jobId: string } | { kind: 'allJobs' };

export interface KurierJobStreamOptions {
	client: KurierApiClient;
	target: KurierStreamTarget;
	/** Only these statuses are emitted (empty: all). Filtered transitions are still tracked. */
	statuses?: readonly string[];
	onItem(item: NormalizedItem): void;
	/** Something a retry cannot fix, after the stream started (e.g. the key was revoked). */
	onFatal(error: Error): void;
	logger?: SocketLogger;
	keepAlive?: KeepAliveOptions;
	backoff?: Partial<BackoffOptions>;
}

const MAX_REMEMBERED_CHAIN_IDS = 10_000;
const SUBSCRIBE_CONFIRMATION_WAIT_MS = 3_000;
/** REST reads in flight at once during a reconcile: quick for many jobs, gentle on the rate limit. */
const RECONCILE_CONCURRENCY = 4;

/** Documented advice: a ping every 30 s. A pong (or any frame) must follow within 10 s. */
const DEFAULT_KEEP_ALIVE: KeepAliveOptions = { intervalMs: 30_000, timeoutMs: 10_000, pingFrame: clientFrames.ping() };

/**
 * Follows one Kurier job, or every job of the API key, over the shared reconnecting socket and
 * turns its frames into normalized items: each status transition once, in order, also across
 * reconnects. After a reconnect it asks the REST job-status endpoint for every job seen but not
 * final and emits what was missed. (REST only knows the current status, so intermediate statuses
 * passed while disconnected cannot be recovered; the latest one is emitted.)
 */
export class KurierJobStream {
	private readonly socket: ReconnectingSocket;
	private readonly tracker = new TransitionTracker();
	private readonly statuses: ReadonlySet<string>;
	// Update frames may omit chainId; it decides whether Finalized is final, so remember it per job.
	private readonly chainIds = new Map<string, number | null>();
	private subscriptionAnswered: (() => void) | null = null;
	private lastServerError: string | null = null;
	// Cancels REST reads in flight on close, so nothing outlives the trigger.
	private readonly requests = new AbortController();

	constructor(private readonly options: KurierJobStreamOptions) {
		this.statuses = new Set(options.statuses ?? []);
		this.socket = new ReconnectingSocket({
			url: options.client.webSocketUrl,
			redact: options.client.redact,
			logger: options.logger,
			keepAlive: options.keepAlive ?? DEFAULT_KEEP_ALIVE,
			backoff: options.backoff,
			isReadyFrame: isConnectedFrame,
		});
		this.socket.addListener({
			onReady: async (connection) => await this.onReady(connection),
			onFrame: (frame) => this.onFrame(frame),
			// A drop cancels the confirmation timer: stop waiting for a confirmation that cannot come.
			onDisconnect: () => this.subscriptionAnswered?.(),
			onFatal: (error) => options.onFatal(error),
		});
	}

	/** Resolves once subscribed (and, for one job, once its current status is known). */
	async start(): Promise<void> {
		try {
			await this.socket.start();
		} catch (error) {
			// The server often says why before it closes (e.g. the key's connection limit): keep that.
			if (error instanceof SocketFatalError && this.lastServerError && !error.message.includes(this.lastServerError)) {
				throw new SocketFatalError(`${error.message}. ${this.lastServerError}`, error.kind, error.httpStatus, error.closeCode);
			}
			throw error;
		}
	}

	async close(): Promise<void> {
		// Let a subscribe that is waiting for its confirmation finish (its timer is about to go).
		this.subscriptionAnswered?.();
		this.requests.abort();
		await this.socket.close();
	}

	private async onReady(connection: ConnectionHandle): Promise<void> {
		await this.subscribe(connection);
		// One job: always read its current status, so a job that moved (or finished) before we
		// listened still produces its item. All jobs: only those seen before the drop.
		const target = this.options.target;
		if (target.kind === 'job') {
			// An unknown job or a refused key fails the activation here, with the service's message.
			this.handleJob(await this.options.client.getJobStatus(target.jobId, this.requests.signal), 'rest');
			return;
		}
		if (connection.reconnected) await this.reconcile(this.tracker.unfinishedIds());
	}

	/** Reads the current status of every job seen but not final; one failure does not stop the others. */
	private async reconcile(jobIds: string[]): Promise<void> {
		const queue = [...jobIds];
		const worker = async () => {
			for (let jobId = queue.shift(); jobId !== undefined; jobId = queue.shift()) {
				if (this.socket.state === 'closed') return;
				try {
					this.handleJob(await this.options.client.getJobStatus(jobId, this.requests.signal), 'rest');
				} catch (error) {
					this.options.logger?.warn(`Kurier: could not reconcile job ${jobId} after reconnecting: ${redactedMessage(error, this.options.client.redact)}`);
				}
			}
		};
		await Promise.all(Array.from({ length: Math.min(RECONCILE_CONCURRENCY, queue.length) }, worker));
	}

	/**
	 * Subscribes and waits for the server's confirmation (or its error), so that once the trigger
	 * is active no job created afterwards can be missed. The confirmation frames' exact bodies are
	 * not documented, so after a short wait we go on without one.
	 */
	private async subscribe(connection: ConnectionHandle): Promise<void> {
		await new Promise<void>((resolve) => {
			this.subscriptionAnswered = resolve;
			this.socket.scheduleOnConnection(SUBSCRIBE_CONFIRMATION_WAIT_MS, resolve);
			connection.send(this.subscribeFrame());
		});
		this.subscriptionAnswered = null;
	}

	private onFrame(raw: unknown): void {
		const parsed = parseServerFrame(raw);
		if (!parsed.ok) {
			this.options.logger?.warn(`Kurier: skipped a ${parsed.reason}`);
			return;
		}
		const frame = parsed.frame;
		switch (frame.type) {
			case 'job-status-update':
				this.handleJob(frame.data, 'websocket');
				return;
			case 'error':
				this.subscriptionAnswered?.();
				this.onErrorFrame(frame.message, frame.code, frame.retryAfterSeconds, frame.jobId);
				return;
			case 'subscribed':
			case 'subscribed-all':
				this.subscriptionAnswered?.();
				return;
			default:
				// connected, pong…: nothing to do beyond proving the link is alive.
				return;
		}
	}

	private onErrorFrame(message = 'no message', code?: string, retryAfterSeconds?: number, jobId?: string): void {
		const text = this.options.client.redact(`Kurier reported an error${code ? ` (${code})` : ''}: ${message}`);
		this.lastServerError = text;
		const target = this.options.target;
		if (retryAfterSeconds !== undefined) {
			// Rate limited: the subscription was not applied. Try again when the server says so,
			// and wait at least that long before any reconnect too.
			const delayMs = Math.ceil(retryAfterSeconds * 1000);
			this.options.logger?.warn(`${text}; subscribing again in ${delayMs} ms`);
			this.socket.retryAfter(delayMs);
			this.socket.scheduleOnConnection(delayMs, () => this.socket.send(this.subscribeFrame()));
			return;
		}
		if (target.kind === 'job' && jobId === target.jobId && (code === 'JOB_NOT_FOUND' || code === 'INVALID_JOB_ID')) {
			this.socket.fail(new SocketFatalError(`${text} (job ${target.jobId})`, 'refused'));
			return;
		}
		this.options.logger?.warn(text);
	}

	private handleJob(job: KurierJobStatus, via: 'websocket' | 'rest'): void {
		const target = this.options.target;
		// Deactivated while a REST answer was on its way: emit nothing more.
		if (this.socket.state === 'closed') return;
		if (target.kind === 'job' && job.jobId !== target.jobId) return;
		const chainId = this.rememberChainId(job);
		const isFinal = isKurierFinal(job.status, chainId);
		const isNew = this.tracker.accept({ id: job.jobId, transitionKey: job.status, rank: kurierStatusRank(job.status), isFinal });
		if (!isNew) return;
		if (isFinal) this.chainIds.delete(job.jobId);

		const item = normalizeKurierJob({ ...job, chainId }, new Date().toISOString());
		if (this.statuses.size === 0 || this.statuses.has(job.status)) {
			this.options.logger?.debug(`Kurier job ${job.jobId} is ${job.status} (via ${via})`);
			try {
				this.options.onItem(item);
			} catch (error) {
				this.options.logger?.error(`Kurier: emitting an item failed: ${redactedMessage(error, this.options.client.redact)}`);
			}
		}
		if (target.kind === 'job' && isFinal) {
			// Nothing more will come for this job: free the connection (it counts against the key's limit).
			void this.socket.close();
		}
	}

	private rememberChainId(job: KurierJobStatus): number | null {
		if (job.chainId !== undefined) {
			const chainId = job.chainId ?? null;
			this.chainIds.set(job.jobId, chainId);
			// Jobs that never finish must not grow this map without end: drop the oldest.
			if (this.chainIds.size > MAX_REMEMBERED_CHAIN_IDS) this.chainIds.delete(this.chainIds.keys().next().value as string);
			return chainId;
		}
		return this.chainIds.get(job.jobId) ?? null;
	}

	private subscribeFrame(): KurierClientFrame {
		const target = this.options.target;
		return target.kind === 'job' ? clientFrames.subscribe(target.jobId) : clientFrames.subscribeAll();
	}
}
