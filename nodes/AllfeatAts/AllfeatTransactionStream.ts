import { ServiceApiError, ServiceUnreachableError } from '../shared/http';
import type { NormalizedItem } from '../shared/NormalizedItem';
import { isoNow } from '../shared/NormalizedItem';
import type { KeepAliveOptions, ReconnectingSocketOptions, SocketLogger } from '../shared/ReconnectingSocket';
import { sharedSockets } from '../shared/SocketPool';
import { IdFollowingStream } from '../shared/IdFollowingStream';
import type { FollowingStreamOptions } from '../shared/IdFollowingStream';
import type { Transition } from '../shared/TransitionTracker';
import type { IdCheckpoint } from '../shared/checkpoints';
import { redactedMessage } from '../shared/redact';
import { noteFailedRead } from '../shared/restBudget';
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

export interface AllfeatTransactionStreamOptions extends FollowingStreamOptions {
	client: AllfeatAtsApiClient;
	transactionId: string;
	/** Only these steps are emitted (empty: all). Filtered steps are still tracked. */
	steps?: readonly string[];
	polling?: Partial<PollingOptions>;
	/** Keep-alive periods (tests shorten them); the probe is always a WebSocket protocol ping. */
	keepAlive?: Pick<KeepAliveOptions, 'intervalMs' | 'timeoutMs'>;
}

/** Documented cadence: every 2 s, with backoff after 30 s. */
const DEFAULT_POLLING: PollingOptions = { intervalMs: 2_000, backoffAfterMs: 30_000, maxIntervalMs: 30_000 };
/** The channel is read-only (no client frames), so liveness is checked with WebSocket protocol pings. */
const KEEP_ALIVE: KeepAliveOptions = { intervalMs: 30_000, timeoutMs: 10_000 };
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * - `following`: on the WebSocket (connected, or reconnecting by itself)
 * - `polling`: no WebSocket could be had; the REST resource is read on a timer instead
 * - `ended`: final step reached, id unknown, access refused, or closed: nothing more is emitted
 */
type FollowState = 'following' | 'polling' | 'ended';

/**
 * History first: REST reads run one after the other, and live frames that arrive while any read is
 * pending wait until none is, so a step from the history is never emitted after a later live one.
 */
class HistoryFirstGate {
	private queue: Promise<void> = Promise.resolve();
	private pending = 0;
	private readonly held: unknown[] = [];

	constructor(private readonly release: (frame: unknown) => void) {}

	/** Runs `read` after the reads before it; frames held meanwhile go on once no read is pending. */
	run(read: () => Promise<void>): Promise<void> {
		this.pending += 1;
		const running = this.queue.then(read);
		this.queue = running.catch(() => undefined);
		return running.finally(() => {
			this.pending -= 1;
			while (this.pending === 0 && this.held.length > 0) this.release(this.held.shift());
		});
	}

	/** A live frame: handled at once, or held while a read is pending. */
	offer(frame: unknown): void {
		if (this.pending > 0) this.held.push(frame);
		else this.release(frame);
	}

	clear(): void {
		this.held.length = 0;
	}
}

/**
 * Follows one Allfeat ATS transaction until `completed` or `failed`: the id-following core
 * (nodes/shared/IdFollowingStream.ts) on the transaction's own WebSocket (its URL names the id), with
 * Allfeat's protocol. After every (re)connect it reads the REST resource, whose `steps` history has
 * every step with its timestamp, emits the steps not yet emitted in history order, and only then the
 * live frames that arrived meanwhile. When the WebSocket cannot be had it polls the REST resource
 * instead. At the final step (or for an id the service does not know) it lets its socket go itself,
 * so the server's close is never taken for a drop.
 */
export class AllfeatTransactionStream extends IdFollowingStream<StepEvent, undefined, AllfeatTransaction> {
	private state: FollowState = 'following';
	private readonly steps: ReadonlySet<string>;
	private readonly polling: PollingOptions;
	private readonly gate = new HistoryFirstGate((frame) => this.handleFrame(frame));
	private transactionType: string | null = null;
	private pollTimer: NodeJS.Timeout | null = null;
	private pollingSince = 0;
	/** Offered again at the first read (see reofferHandedSteps); emptied then. */
	private handedToOffer: ReadonlyArray<[string, IdCheckpoint]>;

	constructor(private readonly options: AllfeatTransactionStreamOptions) {
		super(options, { name: 'Allfeat ATS', noun: 'transaction', redact: options.client.redact, restBudget: options.client.restBudget }, { maxIds: 1 });
		this.steps = new Set(options.steps ?? []);
		this.polling = { ...DEFAULT_POLLING, ...options.polling };
		this.followsOnly = [options.transactionId];
		this.handedToOffer = options.handedBeforeStop ?? [];
		const keepAlive = { ...KEEP_ALIVE, ...options.keepAlive };
		const socketOptions: ReconnectingSocketOptions = {
			url: options.client.transactionSocketUrl(options.transactionId),
			redact: options.client.redact,
			logger: socketFailuresAsWarnings(options.logger),
			keepAlive,
			backoff: options.backoff,
			isReadyFrame: isConnectedFrame,
			connectTimeoutMs: CONNECT_TIMEOUT_MS,
			// No auth on this socket: no close code means "credentials refused".
			authRefusalCloseCodes: [],
		};
		// The URL names the transaction: triggers following the same one share its socket.
		const poolKey = `allfeat ${socketOptions.url as string} ${JSON.stringify([keepAlive, options.backoff ?? null])}`;
		this.attach(sharedSockets.lease(poolKey, () => ({ options: socketOptions, shared: undefined }), { logger: options.logger }));
	}

	private get label(): string {
		return `Allfeat ATS transaction ${this.options.transactionId}`;
	}

	/**
	 * Resolves once the transaction is followed (live or by polling) or already over. Without a
	 * WebSocket it rejects when the REST resource cannot be reached either, or refuses access.
	 */
	async start(): Promise<void> {
		try {
			await this.socket?.start();
			return;
		} catch (error) {
			if (this.state === 'ended') return;
			this.options.logger?.warn(`${this.label}: no WebSocket (${redactedMessage(error, this.options.client.redact)}); polling the REST resource instead`);
		}
		this.state = 'polling';
		this.pollingSince = Date.now();
		await this.poll(true);
	}

	protected override beforeClose(): void {
		this.end();
	}

	protected override beforeLetGo(): void {
		this.end();
	}

	// ---- WebSocket ----------------------------------------------------------------------------

	/**
	 * Not awaited by the socket: when the transaction is already over, the server may close right
	 * after `connected`, and that must read as the end of this connection, not as a failed start.
	 * Live frames are held until the history is applied.
	 */
	protected override async onReady(): Promise<void> {
		void this.readHistory(0);
		if (this.state !== 'ended') this.scheduleSweep();
		await Promise.resolve();
	}

	/** The history read is the whole handshake (the channel takes no client frames). */
	protected override async onConnected(): Promise<void> {
		await Promise.resolve();
	}

	private async readHistory(failedAttempts: number): Promise<void> {
		try {
			await this.reconcileNow();
		} catch (error) {
			if (isRefusedAccess(error)) {
				this.fail(error);
				return;
			}
			const delayMs = Math.min(this.polling.maxIntervalMs, this.polling.intervalMs * 2 ** failedAttempts);
			this.options.logger?.warn(`${this.label}: could not read the step history (${redactedMessage(error, this.options.client.redact)}); retrying in ${delayMs} ms`);
			this.socket?.scheduleOnConnection(delayMs, () => void this.readHistory(failedAttempts + 1));
		}
	}

	protected override onServiceFrame(raw: unknown): void {
		if (this.state !== 'ended') this.gate.offer(raw);
	}

	private handleFrame(raw: unknown): void {
		if (this.state === 'ended') return;
		const parsed = parseServerFrame(raw);
		if (!parsed.ok) {
			this.options.logger?.warn(`${this.label}: skipped a ${parsed.reason}`);
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
			void this.reconcileNow(event).catch((error: unknown) => this.logFailedRead(error));
			return;
		}
		this.handle(event, 'websocket');
	}

	private onErrorFrame(frame: AllfeatErrorFrame): void {
		const { code, message } = describeErrorFrame(frame);
		if (isNotFoundError(code, message)) {
			this.endUnknown(this.options.client.redact(`${code ?? 'error'}: ${message}`));
			return;
		}
		this.options.logger?.warn(this.options.client.redact(`${this.label}: the service reported an error${code ? ` (${code})` : ''}: ${message}`));
		void this.reconcileQuietly();
	}

	/** Also after a reconnect attempt that failed: REST may say the transaction is over (the socket would never tell). */
	protected override onDrop(): void {
		if (this.state !== 'ended') void this.reconcileQuietly();
	}

	/** The WebSocket stopped for good (after it had started): polling takes over. */
	protected override onSocketFatal(error: Error): void {
		if (this.state !== 'following') return;
		this.options.logger?.warn(`${this.label}: the WebSocket stopped (${error.message}); polling the REST resource instead`);
		this.state = 'polling';
		this.pollingSince = Date.now();
		void this.socket?.close();
		void this.poll(false);
	}

	// ---- REST ---------------------------------------------------------------------------------

	/** The core's reconcile and REST check, through the history-first gate (one id, one read at a time). */
	protected override async reconcile(): Promise<void> {
		await this.reconcileQuietly();
	}

	protected override async readRecord(transactionId: string, signal: AbortSignal): Promise<AllfeatTransaction> {
		return await this.options.client.getTransaction(transactionId, signal);
	}

	/**
	 * Reads the resource and emits every history step not yet emitted. `finalFrame` (a terminal frame
	 * without its outcome) is applied after the history if REST does not know the final step yet, or
	 * cannot be read.
	 */
	private reconcileNow(finalFrame?: StepEvent): Promise<void> {
		return this.gate.run(async () => await this.readAndApply(finalFrame));
	}

	private async readAndApply(finalFrame?: StepEvent): Promise<void> {
		if (this.state === 'ended') return;
		let transaction: AllfeatTransaction;
		const budget = this.options.client.restBudget;
		try {
			await budget.take(this.requests.signal);
			transaction = await this.readRecord(this.options.transactionId, this.requests.signal);
		} catch (error) {
			// Too many requests: every read of this host waits; this one is tried again by whoever asked.
			noteFailedRead(budget, error);
			if (error instanceof TransactionNotFoundError) {
				this.endUnknown('HTTP 404');
				return;
			}
			if (finalFrame) {
				this.options.logger?.warn(`${this.label}: could not read the outcome of step ${finalFrame.step} (${redactedMessage(error, this.options.client.redact)}); emitting it as the frame gave it`);
				this.handle(finalFrame, 'websocket');
			}
			throw error;
		}
		this.reofferHandedSteps(transaction);
		this.applyRead(transaction, 'rest');
		if (finalFrame) this.handle(finalFrame, 'websocket');
	}

	/**
	 * The first read after n8n started: the step last handed to n8n before it stopped is offered again
	 * with its own sequence and key (see the core's `reofferHanded`; n8n 2.x refuses it where its
	 * execution exists). The history keeps every step, so it is offered even if the transaction moved on.
	 */
	private reofferHandedSteps(transaction: AllfeatTransaction): void {
		const handed = this.handedToOffer;
		this.handedToOffer = [];
		for (const [id, checkpoint] of handed) {
			if (id !== this.options.transactionId) continue;
			const event = stepEventsOf(transaction).find((step) => step.step === checkpoint.key);
			if (event === undefined) continue;
			this.transactionType = transaction.transaction_type ?? this.transactionType;
			const item = this.normalize(event);
			if (this.emits(item)) this.deliver(item, checkpoint);
		}
	}

	private async reconcileQuietly(): Promise<void> {
		await this.reconcileNow().catch((error: unknown) => this.logFailedRead(error));
	}

	/** Every step of the history not emitted yet, in history order. */
	protected override applyRead(transaction: AllfeatTransaction, via: string): void {
		this.transactionType = transaction.transaction_type ?? this.transactionType;
		for (const event of stepEventsOf(transaction)) this.handle(event, via);
		// `is_complete` with a final step this table does not know: stop following all the same.
		if (transaction.is_complete === true && this.state !== 'ended') {
			this.options.logger?.warn(`${this.label} is complete at step "${transaction.current_step}"; no more steps will follow`);
			this.letGo();
		}
	}

	// ---- polling ------------------------------------------------------------------------------

	/** One REST read, then the next one is scheduled. On the first read, an unreachable service is an error. */
	private async poll(firstRead: boolean): Promise<void> {
		this.pollTimer = null;
		let delayMs = this.nextPollDelay();
		try {
			await this.reconcileNow();
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
			this.options.logger?.warn(`${this.label}: polling failed (${redactedMessage(error, this.options.client.redact)}); next read in ${delayMs} ms`);
		}
		if (this.state === 'polling') this.pollTimer = setTimeout(() => void this.poll(false), delayMs);
	}

	private nextPollDelay(): number {
		const pollingForMs = Date.now() - this.pollingSince;
		if (pollingForMs < this.polling.backoffAfterMs) return this.polling.intervalMs;
		const doublings = Math.floor((pollingForMs - this.polling.backoffAfterMs) / this.polling.backoffAfterMs) + 1;
		return Math.min(this.polling.maxIntervalMs, this.polling.intervalMs * 2 ** doublings);
	}

	// ---- transitions --------------------------------------------------------------------------

	protected override transitionOf(event: StepEvent): Transition | null {
		if (this.state === 'ended') return null;
		return { id: this.options.transactionId, transitionKey: event.step, rank: allfeatStepRank(event.step), isFinal: isFinalStep(event.step) };
	}

	protected override normalize(event: StepEvent): NormalizedItem {
		return normalizeStep({ transactionId: this.options.transactionId, transactionType: this.transactionType }, event, isoNow());
	}

	protected override emits(item: NormalizedItem): boolean {
		return this.steps.size === 0 || this.steps.has(item.status);
	}

	/** Unknown id: that id stops, with one item a workflow can route; the other ids are not affected. */
	private endUnknown(reason: string): void {
		if (this.state === 'ended') return;
		this.letGo();
		const item = notFoundItem(this.options.transactionId, new Date().toISOString(), reason);
		this.options.logger?.error(`${item.error} (${reason})`);
		this.deliver(item);
	}

	/** The host refused access (401/403): no retry helps, so this id stops with one error. */
	private fail(error: Error): void {
		if (this.state === 'ended') return;
		this.letGo();
		this.options.onFatal(error);
	}

	/** Nothing more will come: stop reads, held frames and the poll timer (the socket goes with letGo or close). */
	private end(): void {
		this.state = 'ended';
		this.requests.abort();
		this.gate.clear();
		if (this.pollTimer !== null) clearTimeout(this.pollTimer);
		this.pollTimer = null;
	}

	/** The socket may be gone while polling goes on: only the end ends this stream. */
	protected override isClosed(): boolean {
		return this.state === 'ended';
	}

	private logFailedRead(error: unknown): void {
		if (this.state !== 'ended') this.options.logger?.warn(`${this.label}: could not read the step history: ${redactedMessage(error, this.options.client.redact)}`);
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
