import { ServiceApiError, ServiceUnreachableError } from '../shared/http';
import type { NormalizedItem } from '../shared/NormalizedItem';
import { isoNow } from '../shared/NormalizedItem';
import { logsDebug } from '../shared/logging';
import type { BackoffOptions, KeepAliveOptions, SocketLogger } from '../shared/ReconnectingSocket';
import { ReconnectingSocket } from '../shared/ReconnectingSocket';
import type { CheckpointStore, IdCheckpoint } from '../shared/checkpoints';
import { noteFailedRead, scheduleRestChecks } from '../shared/restBudget';
import { TransitionTracker } from '../shared/TransitionTracker';
import { redactedMessage } from '../shared/redact';
import type { AllfeatAtsApiClient } from './AllfeatAtsApiClient';
import { TransactionNotFoundError, isRefusedAccess } from './AllfeatAtsApiClient';
import type { AllfeatErrorFrame, AllfeatTransaction, StepEvent } from './protocol';
import {
	allfeatStepRank,
	describeErrorFrame,
	hasOutcome,
	isFinalStep,
	isNotFoundError,
	normalizeStep,
	notFoundItem,
	parseServerFrame,
	stepEventsOf,
} from './protocol';
import { isConnectedFrame } from '../shared/frames';

export interface PollingOptions {
	intervalMs: number;
	/** Polling at `intervalMs` for this long; then the interval doubles every further `backoffAfterMs`, up to `maxIntervalMs`. */
	backoffAfterMs: number;
	maxIntervalMs: number;
}

export interface AllfeatTransactionStreamOptions {
	client: AllfeatAtsApiClient;
	transactionId: string;
	/** Only these steps are emitted (empty: all). Filtered steps are still tracked. */
	steps?: readonly string[];
	/** Each step transition, in order, once; and one `not_found` item for an unknown id. */
	/**
	 * `accepted`: the checkpoint the tracker wrote for the item's transition (its sequence, and the
	 * key n8n deduplicates the execution by); absent for an item that is no transition of the id (`not_found`).
	 */
	onItem(item: NormalizedItem, accepted?: IdCheckpoint): void;
	/** Progress kept across activations (see nodes/shared/checkpoints.ts); absent: this activation only. */
	checkpoints?: CheckpointStore;
	/** How often, while connected, the transaction is read over REST (jittered); 0: never. Default 5 min. */
	sweepIntervalMs?: number;
	/** Something no retry can fix, after start() resolved: the host refused access to the tracking route (401/403; no key is sent there). */
	onFatal(error: Error): void;
	logger?: SocketLogger;
	polling?: Partial<PollingOptions>;
	/** Keep-alive periods (tests shorten them); the probe is always a WebSocket protocol ping. */
	keepAlive?: Pick<KeepAliveOptions, 'intervalMs' | 'timeoutMs'>;
	backoff?: Partial<BackoffOptions>;
}

/** Documented cadence: every 2 s, with backoff after 30 s. */
const DEFAULT_POLLING: PollingOptions = { intervalMs: 2_000, backoffAfterMs: 30_000, maxIntervalMs: 30_000 };
/** The channel is read-only (no client frames), so liveness is checked with WebSocket protocol pings. */
const KEEP_ALIVE: KeepAliveOptions = { intervalMs: 30_000, timeoutMs: 10_000 };
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Follows one Allfeat ATS transaction until `completed` or `failed` and turns it into normalized
 * items: each step once and in order, also across reconnects. After every (re)connect it reads the
 * REST resource, whose `steps` history has every step with its timestamp, emits the steps not yet
 * emitted in history order, and only then the live frames that arrived meanwhile. When the
 * WebSocket cannot be had it polls the REST resource instead. At the final step (or for an id the
 * service does not know) it closes its socket itself, so the server's close is never taken for a drop.
 */
export class AllfeatTransactionStream {
	// Cancels REST reads in flight when the stream ends, so nothing outlives it.
	private readonly requests = new AbortController();
	private readonly socket: ReconnectingSocket;
	private readonly tracker: TransitionTracker;
	private readonly steps: ReadonlySet<string>;
	private readonly polling: PollingOptions;
	private readonly logger: SocketLogger | undefined;
	private transactionType: string | null = null;
	/** Final step reached, id unknown, or closed: nothing more is emitted. */
	private ended = false;
	private pollTimer: NodeJS.Timeout | null = null;
	private pollingSince: number | null = null;
	// REST reads run one after the other; live frames wait while any is pending (history first).
	private reconcileQueue: Promise<void> = Promise.resolve();
	private pendingReconciles = 0;
	private readonly heldFrames: unknown[] = [];

	constructor(private readonly options: AllfeatTransactionStreamOptions) {
		this.tracker = new TransitionTracker({ maxIds: 1, checkpoints: options.checkpoints });
		this.steps = new Set(options.steps ?? []);
		this.polling = { ...DEFAULT_POLLING, ...options.polling };
		this.logger = options.logger;
		this.socket = new ReconnectingSocket({
			url: options.client.transactionSocketUrl(options.transactionId),
			redact: options.client.redact,
			logger: socketFailuresAsWarnings(options.logger),
			keepAlive: { ...KEEP_ALIVE, ...options.keepAlive },
			backoff: options.backoff,
			isReadyFrame: isConnectedFrame,
			connectTimeoutMs: CONNECT_TIMEOUT_MS,
			// No auth on this socket: no close code means "credentials refused".
			authRefusalCloseCodes: [],
		});
		this.socket.addListener({
			onReady: () => this.onReady(),
			onFrame: (frame) => this.onFrame(frame),
			onDisconnect: () => this.onDisconnect(),
			onFatal: (error) => this.switchToPolling(error.message),
		});
	}

	/**
	 * Resolves once the transaction is followed (live or by polling) or already over. Without a
	 * WebSocket it rejects when the REST resource cannot be reached either, or refuses the API key.
	 */
	async start(): Promise<void> {
		try {
			await this.socket.start();
			return;
		} catch (error) {
			if (this.ended) return;
			this.logger?.warn(`${this.label}: no WebSocket (${redactedMessage(error, this.options.client.redact)}); polling the REST resource instead`);
		}
		this.pollingSince = Date.now();
		await this.poll(true);
	}

	/** Stops everything at once. Idempotent; never throws. */
	async close(): Promise<void> {
		this.end();
		await this.socket.close();
	}

	private get label(): string {
		return `Allfeat ATS transaction ${this.options.transactionId}`;
	}

	// ---- WebSocket ----------------------------------------------------------------------------

	/**
	 * Not awaited by the socket: when the transaction is already over, the server may close right
	 * after `connected`, and that must read as the end of this connection, not as a failed start.
	 * Live frames are held until the history is applied.
	 */
	private onReady(): void {
		void this.readHistory(0);
		this.scheduleSweep();
	}

	/**
	 * While connected, every few minutes (jittered), read the transaction over REST: a step whose
	 * frame never came is still delivered (the history has every step). Cancelled by a drop.
	 */
	private scheduleSweep(): void {
		if (this.ended) return;
		scheduleRestChecks(this.socket, this.options.sweepIntervalMs, async () => await this.reconcileQuietly());
	}

	private async readHistory(failedAttempts: number): Promise<void> {
		try {
			await this.reconcile();
		} catch (error) {
			if (isRefusedAccess(error)) {
				this.fail(error);
				return;
			}
			const delayMs = Math.min(this.polling.maxIntervalMs, this.polling.intervalMs * 2 ** failedAttempts);
			this.logger?.warn(`${this.label}: could not read the step history (${redactedMessage(error, this.options.client.redact)}); retrying in ${delayMs} ms`);
			this.socket.scheduleOnConnection(delayMs, () => void this.readHistory(failedAttempts + 1));
		}
	}

	private onFrame(raw: unknown): void {
		if (this.ended) return;
		if (this.pendingReconciles > 0) {
			this.heldFrames.push(raw);
			return;
		}
		this.handleFrame(raw);
	}

	private handleFrame(raw: unknown): void {
		const parsed = parseServerFrame(raw);
		if (!parsed.ok) {
			this.logger?.warn(`${this.label}: skipped a ${parsed.reason}`);
			return;
		}
		const frame = parsed.frame;
		switch (frame.type) {
			case 'update':
				this.onStepFrame({ step: frame.step, progress: frame.progress, description: frame.description, timestamp: frame.timestamp, outcome: frame.details });
				return;
			case 'error':
				this.onErrorFrame(frame);
				return;
			case 'not_found':
				this.endUnknown(frame.message ?? 'not_found frame');
				return;
			default:
				// `connected`: nothing to do beyond proving the link is alive.
				return;
		}
	}

	private onStepFrame(event: StepEvent): void {
		if (isFinalStep(event.step) && !hasOutcome(event)) {
			// The docs' update frame has no tx hash / error; REST's `result` has. The frame is the fallback.
			void this.reconcile(event).catch((error: unknown) => this.logFailedRead(error));
			return;
		}
		this.handleStep(event, 'websocket');
	}

	private onErrorFrame(frame: AllfeatErrorFrame): void {
		const { code, message } = describeErrorFrame(frame);
		if (isNotFoundError(code, message)) {
			this.endUnknown(this.options.client.redact(`${code ?? 'error'}: ${message}`));
			return;
		}
		this.logger?.warn(this.options.client.redact(`${this.label}: the service reported an error${code ? ` (${code})` : ''}: ${message}`));
		void this.reconcileQuietly();
	}

	/** Also after a reconnect attempt that failed: REST may say the transaction is over (the socket would never tell). */
	private onDisconnect(): void {
		if (!this.ended) void this.reconcileQuietly();
	}

	/** Releases the frames held while REST was being read, unless another read started meanwhile. */
	private releaseHeldFrames(): void {
		while (this.pendingReconciles === 0 && this.heldFrames.length > 0 && !this.ended) {
			this.handleFrame(this.heldFrames.shift());
		}
		if (this.ended) this.heldFrames.length = 0;
	}

	// ---- REST ---------------------------------------------------------------------------------

	/**
	 * Reads the resource and emits every history step not yet emitted. Reads are serialized, and live
	 * frames wait until they are done. `finalFrame` (a terminal frame without its outcome) is applied
	 * after the history if REST does not know the final step yet, or cannot be read.
	 */
	private reconcile(finalFrame?: StepEvent): Promise<void> {
		this.pendingReconciles += 1;
		const read = this.reconcileQueue.then(async () => await this.readAndApply(finalFrame));
		this.reconcileQueue = read.catch(() => undefined);
		return read.finally(() => {
			this.pendingReconciles -= 1;
			this.releaseHeldFrames();
		});
	}

	private async readAndApply(finalFrame?: StepEvent): Promise<void> {
		if (this.ended) return;
		let transaction: AllfeatTransaction;
		const budget = this.options.client.restBudget;
		try {
			await budget.take(this.requests.signal);
			transaction = await this.options.client.getTransaction(this.options.transactionId, this.requests.signal);
		} catch (error) {
			// Too many requests: every read of this host waits; this one is tried again by whoever asked.
			noteFailedRead(budget, error);
			if (error instanceof TransactionNotFoundError) {
				this.endUnknown('HTTP 404');
				return;
			}
			if (finalFrame) {
				this.logger?.warn(`${this.label}: could not read the outcome of step ${finalFrame.step} (${redactedMessage(error, this.options.client.redact)}); emitting it as the frame gave it`);
				this.handleStep(finalFrame, 'websocket');
			}
			throw error;
		}
		this.applyTransaction(transaction);
		if (finalFrame) this.handleStep(finalFrame, 'websocket');
	}

	private async reconcileQuietly(): Promise<void> {
		await this.reconcile().catch((error: unknown) => this.logFailedRead(error));
	}

	private applyTransaction(transaction: AllfeatTransaction): void {
		this.transactionType = transaction.transaction_type ?? this.transactionType;
		for (const event of stepEventsOf(transaction)) this.handleStep(event, 'rest');
		// `is_complete` with a final step this table does not know: stop following all the same.
		if (transaction.is_complete === true && !this.ended) {
			this.logger?.warn(`${this.label} is complete at step "${transaction.current_step}"; no more steps will follow`);
			this.end();
		}
	}

	// ---- polling ------------------------------------------------------------------------------

	private switchToPolling(reason: string): void {
		if (this.ended || this.pollingSince !== null) return;
		this.logger?.warn(`${this.label}: the WebSocket stopped (${reason}); polling the REST resource instead`);
		this.pollingSince = Date.now();
		void this.socket.close();
		void this.poll(false);
	}

	/** One REST read, then the next one is scheduled. On the first read, an unreachable service is an error. */
	private async poll(firstRead: boolean): Promise<void> {
		this.pollTimer = null;
		let delayMs = this.nextPollDelay();
		try {
			await this.reconcile();
		} catch (error) {
			if (firstRead && (isRefusedAccess(error) || error instanceof ServiceUnreachableError)) {
				this.end();
				throw error;
			}
			if (isRefusedAccess(error)) {
				this.fail(error);
				return;
			}
			if (error instanceof ServiceApiError && error.retryAfterMs !== null) delayMs = Math.max(delayMs, error.retryAfterMs);
			this.logger?.warn(`${this.label}: polling failed (${redactedMessage(error, this.options.client.redact)}); next read in ${delayMs} ms`);
		}
		if (!this.ended) this.pollTimer = setTimeout(() => void this.poll(false), delayMs);
	}

	private nextPollDelay(): number {
		const pollingForMs = Date.now() - (this.pollingSince ?? Date.now());
		if (pollingForMs < this.polling.backoffAfterMs) return this.polling.intervalMs;
		const doublings = Math.floor((pollingForMs - this.polling.backoffAfterMs) / this.polling.backoffAfterMs) + 1;
		return Math.min(this.polling.maxIntervalMs, this.polling.intervalMs * 2 ** doublings);
	}

	// ---- transitions --------------------------------------------------------------------------

	private handleStep(event: StepEvent, via: 'websocket' | 'rest'): void {
		if (this.ended) return;
		const isFinal = isFinalStep(event.step);
		const transactionId = this.options.transactionId;
		const accepted = this.tracker.accept({ id: transactionId, transitionKey: event.step, rank: allfeatStepRank(event.step), isFinal });
		if (accepted === null) return;
		if (this.steps.size === 0 || this.steps.has(event.step)) {
			if (logsDebug(this.logger)) this.logger?.debug(`${this.label} is at step ${event.step} (via ${via})`);
			const item = normalizeStep({ transactionId, transactionType: this.transactionType }, event, isoNow());
			this.deliver(item, accepted);
		}
		if (isFinal) this.end();
	}

	/** Unknown id: that id stops, with one item a workflow can route; the other ids are not affected. */
	private endUnknown(reason: string): void {
		if (this.ended) return;
		this.end();
		const item = notFoundItem(this.options.transactionId, new Date().toISOString(), reason);
		this.logger?.error(`${item.error} (${reason})`);
		this.deliver(item);
	}

	private deliver(item: NormalizedItem, accepted?: IdCheckpoint): void {
		try {
			this.options.onItem(item, accepted);
		} catch (error) {
			this.logger?.error(`${this.label}: emitting an item failed: ${redactedMessage(error, this.options.client.redact)}`);
		}
	}

	/** The host refused access (401/403): no retry helps, so this id stops with one error. */
	private fail(error: Error): void {
		if (this.ended) return;
		this.end();
		this.options.onFatal(error);
	}

	/** Nothing more will come: free the socket (the server closes it at the final step anyway) and the poll timer. */
	private end(): void {
		this.ended = true;
		this.requests.abort();
		this.heldFrames.length = 0;
		if (this.pollTimer !== null) clearTimeout(this.pollTimer);
		this.pollTimer = null;
		void this.socket.close();
	}

	private logFailedRead(error: unknown): void {
		if (!this.ended) this.logger?.warn(`${this.label}: could not read the step history: ${redactedMessage(error, this.options.client.redact)}`);
	}
}

/**
 * Every failure of this socket is recovered from (reconnect, or polling when it cannot be had), so
 * the shared socket's error-level lines are warnings here; the stream logs the errors that matter.
 */
function socketFailuresAsWarnings(logger: SocketLogger | undefined): SocketLogger | undefined {
	if (!logger) return undefined;
	return {
		debug: (message) => logger.debug(message),
		info: (message) => logger.info(message),
		warn: (message) => logger.warn(message),
		error: (message) => logger.warn(message),
	};
}
