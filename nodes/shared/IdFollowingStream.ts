import type { NormalizedItem } from './NormalizedItem';
import { logsDebug } from './logging';
import type { BackoffOptions, ConnectionHandle, SocketLogger, SocketStats } from './ReconnectingSocket';
import type { SocketLease } from './SocketPool';
import type { CheckpointStore, IdCheckpoint } from './checkpoints';
import type { RestBudget } from './restBudget';
import { DEFAULT_REST_CHECK_INTERVAL_MS, isTooManyRequests, noteFailedRead, scheduleRestChecks } from './restBudget';
import { QuietIdSchedule } from './quietIds';
import type { Transition } from './TransitionTracker';
import { TransitionTracker } from './TransitionTracker';
import type { TransitionTrackerOptions } from './TransitionTracker';
import type { Redactor } from './redact';
import { redactedMessage } from './redact';

/** What every stream of this package is given by the trigger glue (see StreamHandlers in n8n.ts), and its timings. */
export interface FollowingStreamOptions {
	/**
	 * `accepted`: the checkpoint the tracker wrote for the item's transition (its sequence, and the
	 * key n8n deduplicates the execution by); absent for an item that is no transition of the id.
	 */
	onItem(item: NormalizedItem, accepted?: IdCheckpoint): void;
	/** Progress kept across activations (see checkpoints.ts); absent: this activation only. */
	checkpoints?: CheckpointStore;
	/**
	 * How often, while connected, the REST check looks for ids quiet longer than their phase
	 * normally takes (see quietIds.ts; jittered); 0: never. Default 5 min.
	 */
	sweepIntervalMs?: number;
	/** Something a retry cannot fix, after the stream started (e.g. the key was revoked). */
	onFatal(error: Error): void;
	logger?: SocketLogger;
	backoff?: Partial<BackoffOptions>;
	/** The last transitions handed to n8n before it stopped, offered again at the first connection (see `reofferHanded`). */
	handedBeforeStop?: ReadonlyArray<[string, IdCheckpoint]>;
	/** When an earlier activation last heard from the service (epoch ms, kept with the checkpoints); null: never. */
	lastHeardBeforeStop?: number | null;
}

/** Who the stream talks to, for its REST reads and its log lines. */
export interface FollowedService {
	/** e.g. `Kurier`; starts every log line. */
	name: string;
	/** What an id names, e.g. `job`, `transaction`. */
	noun: string;
	redact: Redactor;
	/** The REST reads of this key, paced together (see restBudget.ts). */
	restBudget: RestBudget;
}

/** Why ids are read over REST, for the warning when a read fails. */
export type ReconcileReason = 'reconnect' | 'follow' | 'sweep';
const REASON_WORDS: Record<ReconcileReason, string> = { reconnect: 'after reconnecting', follow: 'while following it over REST', sweep: 'in the periodic REST check' };

/** REST reads in flight at once during a reconcile: a few for a few ids; more for a catch-up of many, paced by the budget. */
const RECONCILE_CONCURRENCY = 4;
const CATCH_UP_CONCURRENCY = 16;
const CATCH_UP_FROM_IDS = 50;

/**
 * The core every socket-following stream shares: ids followed on one (pooled) socket, each status
 * transition emitted once and in order, also across reconnects. After every (re)connection it reads
 * over REST the ids not final yet (the REST resource knows only the current state, so statuses
 * passed entirely while disconnected collapse into the latest one), and while connected it reads
 * those that stayed quiet longer than their phase normally takes (a frame that never came is still
 * delivered; see quietIds.ts).
 *
 * A service supplies its protocol: how to connect and subscribe (`lease`, `onConnected`), its frames
 * (`onServiceFrame`, which hands records to `handle`), the REST read of one id (`readRecord`), and
 * what a record means (`transitionOf`, `normalize`). `emits` filters what reaches the workflow;
 * filtered transitions are still tracked, so dedupe and reconcile stay right.
 */
export abstract class IdFollowingStream<Record, Shared = undefined, Read = Record> {
	protected readonly tracker: TransitionTracker;
	/** Cancels REST reads in flight on close, so nothing outlives the trigger. */
	protected readonly requests = new AbortController();
	/** This trigger's share of the socket (null until leased). */
	protected socket: SocketLease<Shared> | null = null;
	private closed = false;
	/**
	 * The ids this trigger follows, when it follows a fixed set (one job): once every one is final
	 * it lets the socket go (it counts against the key's connections). Null: the whole account.
	 */
	protected followsOnly: readonly string[] | null = null;
	// Ids whose REST read is in flight; true once the socket spoke for the id meanwhile.
	private readonly reconciling = new Map<string, boolean>();
	// The catch-ups started so far, one after the other (see catchUpInBackground).
	private catchingUp: Promise<void> = Promise.resolve();
	/** Which open ids the REST check reads, and when (null: the check is off, nothing to keep). */
	private readonly quiet: QuietIdSchedule | null;

	protected constructor(
		protected readonly base: FollowingStreamOptions,
		protected readonly service: FollowedService,
		trackerOptions: Omit<TransitionTrackerOptions, 'checkpoints'> = {},
	) {
		this.tracker = new TransitionTracker({ ...trackerOptions, checkpoints: base.checkpoints });
		this.quiet = base.sweepIntervalMs === 0 ? null : new QuietIdSchedule(base.sweepIntervalMs ?? DEFAULT_REST_CHECK_INTERVAL_MS);
	}

	/** The socket's counters (connections, reconnects), for tests and diagnostics; null before start. */
	get socketStats(): SocketStats | null {
		return this.socket?.stats ?? null;
	}

	/** Resolves once connected and this trigger's onReady ran (see `onReady`); a service that resolves its socket later overrides it. */
	async start(): Promise<void> {
		await this.socket?.start();
	}

	/** Stops everything at once. Idempotent; never throws. */
	async close(): Promise<void> {
		this.closed = true;
		this.requests.abort();
		this.beforeClose();
		await this.releaseSocket();
	}

	/** Gives the socket back (the last trigger out closes it). */
	protected async releaseSocket(): Promise<void> {
		await this.socket?.close();
	}

	// ---- what a service supplies ----------------------------------------------------------------

	/** After every (re)connection, before the reconcile: subscribe, wait for a greeting… */
	protected abstract onConnected(connection: ConnectionHandle): Promise<void>;
	/** Every frame of the socket (other triggers' too, on a shared socket): parse, then `handle` what is a record. */
	protected abstract onServiceFrame(raw: unknown): void;
	protected abstract readRecord(id: string, signal: AbortSignal): Promise<Read>;

	/** What a REST read says: by default one record; a service whose resource holds a history handles each entry. */
	protected applyRead(read: Read, via: string): void {
		this.handle(read as unknown as Record, via);
	}
	/** The record's transition, or null when it is none of this trigger's business. */
	protected abstract transitionOf(record: Record): Transition | null;
	protected abstract normalize(record: Record, transition: Transition): NormalizedItem;

	/**
	 * How many REST checks an id normally stays at `transitionKey` (its phase's usual time): the
	 * check reads it only once it has been quiet that long. Default 1 (5 minutes at the default interval).
	 */
	protected quietChecksOf(_transitionKey: string): number {
		return 1;
	}

	/** Whether the workflow gets this item (its filters); default: every one. */
	protected emits(_item: NormalizedItem): boolean {
		return true;
	}

	/** After the tracker saw a transition (`accepted` null: not new); e.g. follow it over REST. */
	protected afterAccept(_record: Record, _transition: Transition, _accepted: IdCheckpoint | null): void {}

	/**
	 * The ids a reconcile reads: the followed ones not final yet, where the trigger follows a fixed
	 * set (also those no frame has named yet); else every id seen and not final.
	 */
	protected idsToReconcile(): string[] {
		if (this.followsOnly !== null) return this.followsOnly.filter((id) => !this.tracker.isFinal(id));
		return this.tracker.unfinishedIds();
	}

	/** At a drop of the connection (a reconnect follows). */
	protected onDrop(): void {}

	/** Something no retry fixes ended this trigger's socket: by default the glue is told (one error, no retry). */
	protected onSocketFatal(error: Error): void {
		this.base.onFatal(error);
	}

	/** Closing: settle what waits on the connection before the lease goes. */
	protected beforeClose(): void {}

	// ---- the core ---------------------------------------------------------------------------------

	/** Takes `lease` as this trigger's socket and wires it to the core. */
	protected attach(lease: SocketLease<Shared>): SocketLease<Shared> {
		this.socket = lease;
		lease.addListener({
			onReady: async (connection) => await this.onReady(connection),
			onFrame: (frame) => this.onServiceFrame(frame),
			onDisconnect: () => this.onDrop(),
			onFatal: (error) => this.onSocketFatal(error),
		});
		return lease;
	}

	/**
	 * Subscribe (the service's part), then read over REST what moved while no socket listened.
	 * Following a fixed set of ids: each one not final, at every connection, so an id that moved (or
	 * finished) before the trigger listened still produces its item; at the first connection a
	 * failed read fails the start (an unknown id, a refused key), with the service's message. The
	 * whole account: after a drop, and at activation for the ids an earlier activation left
	 * unfinished (checkpoints).
	 */
	protected async onReady(connection: ConnectionHandle): Promise<void> {
		await this.onConnected(connection);
		if (!connection.reconnected) await this.reofferHanded();
		if (this.followsOnly !== null) {
			if (connection.reconnected) await this.reconcile(this.idsToReconcile(), 'reconnect');
			else for (const id of this.idsToReconcile()) await this.readNow(id);
		} else if (connection.reconnected || this.tracker.unfinishedIds().length > 0 || this.base.lastHeardBeforeStop != null) {
			this.catchUpInBackground(connection.reconnected);
		}
		this.scheduleSweep();
	}

	/**
	 * The whole account's catch-up runs beside the socket, not in the start: with thousands of open
	 * ids it takes a minute or more, and n8n waits for a trigger's activation (2.x holds its workflow
	 * publication lock meanwhile). Live frames flow at once; the socket-word-wins guard keeps a REST
	 * answer from going back past them. A catch-up after another drop waits for the one running, so no
	 * id is read twice at once; the sweep's first check comes a whole interval later, and an id not read
	 * yet by then only starts its quiet clock.
	 */
	private catchUpInBackground(reconnected: boolean): void {
		// Newest first: the ids most recently added are the likeliest to have moved meanwhile.
		const run = async () => {
			if (!this.isClosed()) await this.catchUp(this.idsToReconcile().reverse(), reconnected);
		};
		this.catchingUp = this.catchingUp.then(run, run).catch((error: unknown) => {
			this.base.logger?.warn(`${this.service.name}: the catch-up over REST stopped: ${redactedMessage(error, this.service.redact)}`);
		});
	}

	/**
	 * The whole account, after a drop or at activation: what moved while no socket listened. By
	 * default one REST read per open id (`openIds`, in that order); a service with a listing of many
	 * records per request overrides it.
	 */
	protected async catchUp(openIds: string[], _reconnected: boolean): Promise<void> {
		await this.reconcile(openIds, 'reconnect');
	}

	/** Ids a catch-up learnt are unchanged without reading them (a complete listing of what moved): their quiet clock starts now. */
	protected heardOf(ids: readonly string[]): void {
		for (const id of ids) this.quiet?.heard(id);
	}

	/**
	 * n8n saves a trigger's static data and stores the execution side by side at each emit, so a kill
	 * between the two leaves a transition counted but never executed. At the first connection after
	 * n8n started, the last transitions handed before the stop are read again; each the service still
	 * shows is offered again with its own sequence and key: n8n 2.x refuses the ones whose execution
	 * exists (finished or crashed), and runs one that a kill lost. What moved on since is left to the
	 * reads below, as any status that moved while n8n was down.
	 */
	private async reofferHanded(): Promise<void> {
		const handed = this.base.handedBeforeStop ?? [];
		for (const [id, checkpoint] of handed) {
			if (this.isClosed()) return;
			let record: Read;
			try {
				await this.service.restBudget.take(this.requests.signal);
				record = await this.readRecord(id, this.requests.signal);
			} catch (error) {
				if (this.requests.signal.aborted) return;
				noteFailedRead(this.service.restBudget, error);
				this.base.logger?.warn(`${this.service.name}: could not read ${this.service.noun} ${id} again after n8n's start: ${redactedMessage(error, this.service.redact)}`);
				continue;
			}
			const current = this.transitionOf(record as unknown as Record);
			if (current === null || current.transitionKey !== checkpoint.key) continue;
			const item = this.normalize(record as unknown as Record, current);
			if (this.emits(item)) this.deliver(item, checkpoint);
		}
	}

	/**
	 * While connected, at every check (the interval, jittered), read over REST the open ids that have
	 * been quiet longer than their phase normally takes (see quietIds.ts). A drop cancels the timer;
	 * the next ready connection starts it again (and its reconcile reads every open id).
	 */
	protected scheduleSweep(): void {
		const quiet = this.quiet;
		if (this.socket === null || quiet === null) return;
		scheduleRestChecks(this.socket, this.base.sweepIntervalMs, async () => {
			const due = quiet.due(this.idsToReconcile(), (id) => this.quietChecksOf(this.tracker.lastKeyOf(id) ?? ''));
			if (due.length > 0) await this.reconcile(due, 'sweep');
		});
	}

	/**
	 * Reads the current state of each id, in the order given; one failure does not stop the others.
	 * A read the service refused with 429 goes back in the queue: the budget waits out the
	 * Retry-After (and slows down), so no id is skipped and none is read twice for it.
	 */
	protected async reconcile(ids: readonly string[], why: ReconcileReason): Promise<void> {
		const queue = [...ids];
		const worker = async () => {
			for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
				if (this.isClosed()) return;
				if ((await this.reconcileOne(id, why)) === 'limited') queue.push(id);
			}
		};
		const concurrency = queue.length >= CATCH_UP_FROM_IDS ? CATCH_UP_CONCURRENCY : RECONCILE_CONCURRENCY;
		await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
	}

	private async reconcileOne(id: string, why: ReconcileReason): Promise<'read' | 'failed' | 'limited'> {
		const budget = this.service.restBudget;
		await budget.take(this.requests.signal);
		if (this.isClosed()) return 'failed';
		this.reconciling.set(id, false);
		const sequenceBefore = this.tracker.sequenceOf(id);
		try {
			const record = await this.readRecord(id, this.requests.signal);
			// The socket spoke for this id while REST was answering: its word is at least as new, and
			// anything after it comes over the socket too. An older REST state would be out of order.
			if (this.reconciling.get(id) === false) this.applyRead(record, 'rest');
			if (this.quiet !== null && !this.tracker.isFinal(id)) {
				// A check that found the id as it was reads it later next time; any other read starts its quiet clock.
				if (why === 'sweep' && this.tracker.sequenceOf(id) === sequenceBefore) this.quiet.unchanged(id);
				else this.quiet.heard(id);
			}
			return 'read';
		} catch (error) {
			// Closed meanwhile: the read was cancelled, not failed.
			if (this.requests.signal.aborted) return 'failed';
			noteFailedRead(budget, error);
			if (isTooManyRequests(error)) return 'limited';
			// The id stays unfinished, so the next check reads it again.
			this.base.logger?.warn(`${this.service.name}: could not reconcile ${this.service.noun} ${id} ${REASON_WORDS[why]}: ${redactedMessage(error, this.service.redact)}`);
			return 'failed';
		} finally {
			this.reconciling.delete(id);
		}
	}

	/** Reads one id over REST now and handles what it says; failures are the caller's. */
	protected async readNow(id: string): Promise<void> {
		this.applyRead(await this.readRecord(id, this.requests.signal), 'rest');
	}

	/**
	 * A record from the socket or REST: accept → filter → emit. `via` (`rest`, or what the socket
	 * said it in) only names the path in the debug line.
	 */
	protected handle(record: Record, via: string): void {
		// Deactivated while a REST answer was on its way: emit nothing more.
		if (this.isClosed()) return;
		const transition = this.transitionOf(record);
		if (transition === null) return;
		if (via !== 'rest' && this.reconciling.has(transition.id)) this.reconciling.set(transition.id, true);
		const accepted = this.tracker.accept(transition);
		// A frame (even a repeated one) shows the socket follows the id; REST counts where it moved it.
		if (transition.isFinal) this.quiet?.forget(transition.id);
		else if (via !== 'rest' || accepted !== null) this.quiet?.heard(transition.id);
		this.afterAccept(record, transition, accepted);
		if (accepted === null) return;
		// Normalized once per new transition (the filters read the item).
		const item = this.normalize(record, transition);
		if (this.emits(item)) {
			const logger = this.base.logger;
			if (logsDebug(logger)) logger?.debug(`${this.service.name} ${this.service.noun} ${transition.id} is ${transition.transitionKey} (via ${via})`);
			this.deliver(item, accepted);
		}
		if (transition.isFinal && this.followsOnly?.every((id) => this.tracker.isFinal(id))) this.letGo();
	}

	/** Hands an item to the glue; `accepted` absent for an item that is no transition (e.g. an unknown id). */
	protected deliver(item: NormalizedItem, accepted?: IdCheckpoint): void {
		try {
			this.base.onItem(item, accepted);
		} catch (error) {
			this.base.logger?.error(`${this.service.name}: emitting an item failed: ${redactedMessage(error, this.service.redact)}`);
		}
	}

	/** Nothing more will come for what this trigger follows: free the connection. */
	protected letGo(): void {
		this.beforeLetGo();
		void this.releaseSocket();
	}

	/** Letting go: stop what would still read its ids. */
	protected beforeLetGo(): void {}

	protected isClosed(): boolean {
		return this.closed || this.socket?.state === 'closed';
	}
}
