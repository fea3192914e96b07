import type { NormalizedItem } from '../shared/NormalizedItem';
import { isoNow } from '../shared/NormalizedItem';
import { logsDebug } from '../shared/logging';
import type { ConnectionHandle, KeepAliveOptions, BackoffOptions, SocketLogger, SocketState } from '../shared/ReconnectingSocket';
import { SocketFatalError } from '../shared/ReconnectingSocket';
import type { PooledSocketSpec, SocketLease } from '../shared/SocketPool';
import { sharedSockets } from '../shared/SocketPool';
import type { CheckpointStore, IdCheckpoint } from '../shared/checkpoints';
import { TransitionTracker } from '../shared/TransitionTracker';
import { redactedMessage } from '../shared/redact';
import { noteFailedRead, scheduleRestChecks } from '../shared/restBudget';
import type { KurierApiClient } from './KurierApiClient';
import { KurierRestFollower } from './KurierRestFollower';
import { KurierSocketShare } from './KurierSocketShare';
import type { KurierShareMember } from './KurierSocketShare';
import type { RestFollowerOptions } from './KurierRestFollower';
import type { KurierClientFrame, KurierJobStatus, KurierSubmissionMode } from './protocol';
import {
	clientFrames,
	isKurierFinal,
	isKurierKeyRefusal,
	isKurierLifetimeClose,
	kurierStatusRank,
	needsRestFollowUp,
	normalizeKurierJob,
	parseServerFrame,
} from './protocol';
import { isConnectedFrame, isFirstSkipOf } from '../shared/frames';

export type KurierStreamTarget = { kind: 'job'; jobId: string } | { kind: 'allJobs' };

export interface KurierJobStreamOptions {
	client: KurierApiClient;
	target: KurierStreamTarget;
	/** Only these statuses are emitted (empty: all). Filtered transitions are still tracked. */
	statuses?: readonly string[];
	/**
	 * `accepted`: the checkpoint the tracker wrote for the item's transition (its sequence, and the
	 * key n8n deduplicates the execution by); absent for an item that is no transition of the id.
	 */
	onItem(item: NormalizedItem, accepted?: IdCheckpoint): void;
	/** Progress kept across activations (see nodes/shared/checkpoints.ts); absent: this activation only. */
	checkpoints?: CheckpointStore;
	/** How often, while connected, jobs not final yet are read over REST (jittered); 0: never. Default 5 min. */
	sweepIntervalMs?: number;
	/** Something a retry cannot fix, after the stream started (e.g. the key was revoked). */
	onFatal(error: Error): void;
	logger?: SocketLogger;
	keepAlive?: KeepAliveOptions;
	backoff?: Partial<BackoffOptions>;
	/** One job: how it was submitted, when known (a `direct` job ends at Finalized even with a chainId). */
	submissionMode?: KurierSubmissionMode;
	/** Timing of the REST follow-up after Finalized (defaults in KurierRestFollower). */
	restFollow?: Omit<RestFollowerOptions, 'poll' | 'onGiveUp'>;
}

const MAX_REMEMBERED_CHAIN_IDS = 10_000;
const SUBSCRIBE_CONFIRMATION_WAIT_MS = 3_000;
/** A rate-limited subscribe is retried no sooner than this, whatever `retryAfterSeconds` says. */
const RATE_LIMIT_MIN_RETRY_MS = 250;
/** REST reads in flight at once during a reconcile: quick for many jobs, gentle on the rate limit. */
const RECONCILE_CONCURRENCY = 4;
/** `GET /jobs` after a reconnect: jobs created since a little before the drop (clock skew), a bounded number of pages. */
const LISTING_MARGIN_MS = 60_000;
const LISTING_PAGE_SIZE = 100;
const LISTING_MAX_PAGES = 20;

/** Documented advice: a ping every 30 s. A pong (or any frame) must follow within 10 s. */
const DEFAULT_KEEP_ALIVE: KeepAliveOptions = { intervalMs: 30_000, timeoutMs: 10_000, pingFrame: clientFrames.ping() };

/**
 * Follows one Kurier job, or every job of the API key, over the shared reconnecting socket and
 * turns its frames into normalized items: each status transition once, in order, also across
 * reconnects. After a reconnect it asks the REST job-status endpoint for every job seen but not
 * final and emits what was missed. (REST only knows the current status, so intermediate statuses
 * passed while disconnected cannot be recovered; the latest one is emitted.) All Jobs also reads
 * `GET /jobs` for jobs created since the drop, where the service offers that listing. A job that
 * goes on to aggregation is followed over REST from Finalized on (the socket may drop its
 * subscription there).
 */
export class KurierJobStream {
	/** This trigger's share of the one socket per Kurier URL and key in the process. */
	private readonly socket: SocketLease<KurierSocketShare>;
	/** This trigger as the other Kurier triggers on the socket see it (its topic, and their unsubscribe-all). */
	private readonly member: KurierShareMember;
	private readonly tracker: TransitionTracker;
	private readonly statuses: ReadonlySet<string>;
	// Update frames may omit chainId; it decides whether Finalized is final, so remember it per job.
	private readonly chainIds = new Map<string, number | null>();
	// Jobs whose frames said how they were submitted (`submissionMode`, where the service gives it).
	private readonly submissionModes = new Map<string, string>();
	/**
	 * Subscribes of this trigger waiting for the server's answer. Two can overlap (a reconnect's and
	 * one after another trigger's unsubscribe-all): an answer, a drop or close ends them all.
	 */
	private readonly subscribesWaiting = new Set<() => void>();
	private lastServerError: string | null = null;
	/** A rate-limited subscribe is being retried (one retry at a time). */
	private resubscribeScheduled = false;
	private disconnectedAt: number | null = null;
	/** This trigger's onReady (subscribe, read its job) has run on some connection. */
	private readied = false;
	private listing: 'unknown' | 'available' | 'unavailable' = 'unknown';
	private readonly follower: KurierRestFollower;
	// Cancels REST reads in flight on close, so nothing outlives the trigger.
	private readonly requests = new AbortController();

	constructor(private readonly options: KurierJobStreamOptions) {
		this.tracker = new TransitionTracker({ checkpoints: options.checkpoints });
		this.statuses = new Set(options.statuses ?? []);
		const keepAlive = options.keepAlive ?? DEFAULT_KEEP_ALIVE;
		const url = options.client.webSocketUrl;
		// The URL carries the key; the timings are part of the key so a test's short ones never mix with the defaults.
		const poolKey = `kurier ${url} ${JSON.stringify([keepAlive, options.backoff ?? null])}`;
		this.socket = sharedSockets.lease(poolKey, () => kurierSocketSpec(url, options, keepAlive), { logger: options.logger });
		this.member = {
			topic: options.target.kind === 'job' ? `job:${options.target.jobId}` : 'all',
			onSubscriptionsDropped: () => {
				// Kurier drops a job's subscription itself at its final status: nothing to renew then.
				// Between connections, the next one's onReady subscribes and reads the job anyway.
				const target = this.options.target;
				if (target.kind === 'job' && !this.tracker.isFinal(target.jobId) && this.socket.state === 'open') void this.subscribeAgainAndReconcile();
			},
		};
		this.socket.shared.join(this.member);
		this.socket.addListener({
			onReady: async (connection) => await this.onReady(connection),
			onFrame: (frame) => this.onFrame(frame),
			onDisconnect: () => {
				this.disconnectedAt ??= Date.now();
				// The drop cancelled a pending resubscribe; the next connection subscribes anyway.
				this.resubscribeScheduled = false;
				// A drop cancels the confirmation timer: stop waiting for a confirmation that cannot come.
				this.answerSubscribes();
			},
			onFatal: (error) => {
				this.follower.close();
				this.socket.shared.leave(this.member);
				options.onFatal(error);
			},
		});
		this.follower = new KurierRestFollower({
			...options.restFollow,
			poll: async (jobIds) => await this.reconcile(jobIds, 'follow'),
			onGiveUp: (jobId) => this.options.logger?.warn(`Kurier: job ${jobId} was not final after following it over REST for hours; no longer asking`),
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
		await this.readJobIfNotReadied();
	}

	/**
	 * A trigger that joined a shared socket between two connections (another trigger's, reconnecting)
	 * subscribes on the next one; its job is read now, over REST, as on a socket of its own: an
	 * unknown job fails this activation with the service's message instead of a warning at the next
	 * connection, and the job's current status is not held back by the socket's outage. A failure
	 * fails the start, as the read in onReady would; the trigger's start policy decides what follows.
	 */
	private async readJobIfNotReadied(): Promise<void> {
		const target = this.options.target;
		if (target.kind !== 'job' || this.readied || this.socket.state === 'closed') return;
		try {
			await this.readJob(target.jobId);
		} catch (error) {
			// Deactivated meanwhile (state moves while the read awaits): nothing to report.
			if ((this.socket.state as SocketState) === 'closed') return;
			throw error;
		}
	}

	async close(): Promise<void> {
		// Let a subscribe that is waiting for its confirmation finish (its timer is about to go).
		this.answerSubscribes();
		this.follower.close();
		this.requests.abort();
		this.unsubscribe();
		await this.leaveSocket();
	}

	/** Gives the lease back, and leaves the triggers that share the socket (its topic no longer counts). */
	private async leaveSocket(): Promise<void> {
		this.socket.shared.leave(this.member);
		await this.socket.close();
	}

	/**
	 * Other triggers still use the socket: stop what only this one followed (alone, the socket just
	 * closes). A job that reached its final status needs nothing: the service drops that subscription.
	 */
	private unsubscribe(): void {
		if (this.socket.state === 'closed') return;
		const { othersRemain, lastOnTopic } = this.socket.shared.leave(this.member);
		if (!othersRemain || !lastOnTopic) return;
		const target = this.options.target;
		if (target.kind === 'job') {
			this.socket.send(clientFrames.unsubscribe(target.jobId));
			return;
		}
		// unsubscribe-all stops the per-job subscriptions too ("stop all"): the triggers following one
		// job on this socket subscribe again, and read their job over REST (it may have moved between).
		this.socket.send(clientFrames.unsubscribeAll());
		this.socket.shared.subscriptionsDroppedBy(this.member);
	}

	private async onReady(connection: ConnectionHandle): Promise<void> {
		this.readied = true;
		await this.subscribe(connection);
		// One job: always read its current status, so a job that moved (or finished) before we
		// listened still produces its item. All jobs: only those seen before the drop.
		const target = this.options.target;
		if (target.kind === 'job') {
			// An unknown job or a refused key fails the activation here, with the service's message.
			await this.readJob(target.jobId);
			return;
		}
		// After a drop, and at activation for the jobs an earlier activation left unfinished
		// (checkpoints): what moved meanwhile comes from REST.
		const unfinished = this.tracker.unfinishedIds();
		if (connection.reconnected || unfinished.length > 0) await this.reconcile(unfinished, 'reconnect');
		if (connection.reconnected) await this.recoverFromListing();
		this.scheduleSweep();
	}

	/**
	 * While connected, every few minutes (jittered), read over REST every job not final yet: a status
	 * whose frame never came (a dropped subscription, a frame lost on the way) is still delivered.
	 * A drop cancels the timer; the next ready connection starts it again.
	 */
	private scheduleSweep(): void {
		scheduleRestChecks(this.socket, this.options.sweepIntervalMs, async () => await this.reconcile(this.tracker.unfinishedIds(), 'sweep'));
	}

	/**
	 * All Jobs after a reconnect: jobs created since the drop, which the socket never showed and the
	 * reconcile cannot know, from `GET /jobs` where the service offers it. Where it answers 404 or
	 * 401 the stream stops asking and goes on without it.
	 */
	private async recoverFromListing(): Promise<void> {
		if (this.listing === 'unavailable' || this.disconnectedAt === null) return;
		const createdAfter = new Date(this.disconnectedAt - LISTING_MARGIN_MS).toISOString();
		const found: KurierJobStatus[] = [];
		try {
			for (let page = 1; page <= LISTING_MAX_PAGES; page++) {
				const answer = await this.options.client.listJobs({ createdAfter, page, pageSize: LISTING_PAGE_SIZE }, this.requests.signal);
				if (answer === 'unavailable') {
					this.listing = 'unavailable';
					this.options.logger?.info('Kurier: GET /jobs is not available to this key; jobs created while disconnected show up with their next update');
					return;
				}
				this.listing = 'available';
				found.push(...answer.jobs);
				if (!answer.hasMore || answer.jobs.length === 0) break;
			}
		} catch (error) {
			if (!this.requests.signal.aborted) this.options.logger?.warn(`Kurier: could not list the jobs created while disconnected: ${redactedMessage(error, this.options.client.redact)}`);
			return;
		}
		this.disconnectedAt = null;
		found.sort((a, b) => (Date.parse(a.createdAt ?? '') || 0) - (Date.parse(b.createdAt ?? '') || 0));
		for (const job of found) this.handleJob(job, 'rest');
	}

	/** Reads one job's current status over REST and handles it as any status (cancelled on close). */
	private async readJob(jobId: string): Promise<void> {
		this.handleJob(await this.options.client.getJobStatus(jobId, this.requests.signal), 'rest');
	}

	/** Reads the current status of each job; one failure does not stop the others. */
	private async reconcile(jobIds: string[], why: 'reconnect' | 'follow' | 'sweep'): Promise<void> {
		const queue = [...jobIds];
		const budget = this.options.client.restBudget;
		const worker = async () => {
			for (let jobId = queue.shift(); jobId !== undefined; jobId = queue.shift()) {
				await budget.take(this.requests.signal);
				if (this.socket.state === 'closed') return;
				try {
					await this.readJob(jobId);
				} catch (error) {
					// Closed meanwhile: the read was cancelled, not failed.
					if (this.requests.signal.aborted) return;
					// Too many requests: the whole key waits. The job stays unfinished, so the next sweep reads it again.
					noteFailedRead(budget, error);
					const when = { reconnect: 'after reconnecting', follow: 'while following it over REST', sweep: 'in the periodic REST check' }[why];
					this.options.logger?.warn(`Kurier: could not reconcile job ${jobId} ${when}: ${redactedMessage(error, this.options.client.redact)}`);
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
			const done = () => {
				this.subscribesWaiting.delete(done);
				resolve();
			};
			this.subscribesWaiting.add(done);
			this.socket.scheduleOnConnection(SUBSCRIBE_CONFIRMATION_WAIT_MS, done);
			connection.send(this.subscribeFrame());
		});
	}

	private answerSubscribes(): void {
		for (const done of [...this.subscribesWaiting]) done();
	}

	private onFrame(raw: unknown): void {
		const parsed = parseServerFrame(raw);
		if (!parsed.ok) {
			if (isFirstSkipOf(raw)) this.options.logger?.warn(this.options.client.redact(`Kurier: skipped a ${parsed.reason}`));
			return;
		}
		const frame = parsed.frame;
		switch (frame.type) {
			case 'job-status-update':
				this.handleJob(frame.data, 'websocket');
				return;
			case 'error': {
				// An error about another trigger's job (same socket) is that trigger's business.
				if (frame.jobId !== undefined && !this.follows(frame.jobId)) return;
				// Whether this trigger's own subscribe was waiting for its answer (an error without a job
				// id answers whichever subscribe on the shared socket was waiting).
				const waitingForAnswer = this.subscribesWaiting.size > 0;
				this.answerSubscribes();
				this.onErrorFrame(frame.message, frame.code, frame.retryAfterSeconds, frame.jobId, waitingForAnswer);
				return;
			}
			case 'subscribed':
			case 'subscribed-all':
				// On a shared socket the confirmation may be another trigger's: wait for this one's own.
				if ((frame.type === 'subscribed-all') === (this.options.target.kind === 'allJobs') && (frame.jobId === undefined || this.follows(frame.jobId))) {
					this.answerSubscribes();
				}
				return;
			default:
				// connected, pong…: nothing to do beyond proving the link is alive.
				return;
		}
	}

	private onErrorFrame(message = 'no message', code?: string, retryAfterSeconds?: number, jobId?: string, waitingForAnswer = false): void {
		const text = this.options.client.redact(`Kurier reported an error${code ? ` (${code})` : ''}: ${message}`);
		this.lastServerError = text;
		const target = this.options.target;
		if (retryAfterSeconds !== undefined) {
			// Rate limited: the subscription was not applied. Only the trigger whose subscribe it answers
			// tries again (on a shared socket every other trigger also sees it), once however many such
			// frames come, and never sooner than a floor (a server saying 0 must not make a loop).
			if ((!waitingForAnswer && jobId === undefined) || this.resubscribeScheduled) return;
			const delayMs = Math.max(RATE_LIMIT_MIN_RETRY_MS, Math.ceil(retryAfterSeconds * 1000));
			this.options.logger?.warn(`${text}; subscribing again in ${delayMs} ms`);
			this.socket.retryAfter(delayMs);
			this.resubscribeScheduled = true;
			this.socket.scheduleOnConnection(delayMs, () => {
				this.resubscribeScheduled = false;
				void this.subscribeAgainAndReconcile();
			});
			return;
		}
		if (target.kind === 'job' && jobId === target.jobId && (code === 'JOB_NOT_FOUND' || code === 'INVALID_JOB_ID')) {
			this.socket.fail(new SocketFatalError(`${text} (job ${target.jobId})`, 'refused'));
			return;
		}
		this.options.logger?.warn(text);
	}

	/**
	 * After a rate-limited subscribe: subscribe again, then read over REST what is not final, since
	 * whatever moved between the refusal and the new subscription (the reconcile after a reconnect ran
	 * before it) came on no socket; without this it would wait for the next periodic check.
	 */
	private async subscribeAgainAndReconcile(): Promise<void> {
		await this.subscribe({ reconnected: true, send: (frame) => this.socket.send(frame) });
		if (this.socket.state === 'closed') return;
		const target = this.options.target;
		await this.reconcile(target.kind === 'job' ? [target.jobId] : this.tracker.unfinishedIds(), 'reconnect');
	}

	private handleJob(job: KurierJobStatus, via: 'websocket' | 'rest'): void {
		const target = this.options.target;
		// Deactivated while a REST answer was on its way: emit nothing more.
		if (this.socket.state === 'closed') return;
		if (target.kind === 'job' && job.jobId !== target.jobId) return;
		const chainId = this.rememberChainId(job);
		const submissionMode = this.rememberSubmissionMode(job);
		const isFinal = isKurierFinal(job.status, chainId, submissionMode);
		const accepted = this.tracker.accept({ id: job.jobId, transitionKey: job.status, rank: kurierStatusRank(job.status), isFinal });
		if (isFinal) this.follower.forget(job.jobId);
		if (accepted === null) return;
		if (isFinal) {
			this.chainIds.delete(job.jobId);
			this.submissionModes.delete(job.jobId);
		} else if (needsRestFollowUp(job.status, chainId, submissionMode)) {
			this.follower.follow(job.jobId);
		}

		if (this.statuses.size === 0 || this.statuses.has(job.status)) {
			// Normalized once per new transition, and only when it is emitted.
			const known = submissionMode === 'direct' || submissionMode === 'attestation' ? submissionMode : undefined;
			const item = normalizeKurierJob(job, isoNow(), known, chainId);
			if (logsDebug(this.options.logger)) this.options.logger?.debug(`Kurier job ${job.jobId} is ${job.status} (via ${via})`);
			try {
				this.options.onItem(item, accepted);
			} catch (error) {
				this.options.logger?.error(`Kurier: emitting an item failed: ${redactedMessage(error, this.options.client.redact)}`);
			}
		}
		if (target.kind === 'job' && isFinal) {
			// Nothing more will come for this job: free the connection (it counts against the key's limit).
			this.follower.close();
			void this.leaveSocket();
		}
	}

	private rememberChainId(job: KurierJobStatus): number | null {
		if (job.chainId !== undefined) {
			const chainId = job.chainId ?? null;
			// Only a chain id is kept (a missing one reads as null anyway), and only when it changed:
			// most jobs name no chain, and their frames then cost this map nothing.
			if (chainId === null) this.chainIds.delete(job.jobId);
			else if (this.chainIds.get(job.jobId) !== chainId) {
				this.chainIds.set(job.jobId, chainId);
				// Jobs that never finish must not grow this map without end: drop the oldest.
				if (this.chainIds.size > MAX_REMEMBERED_CHAIN_IDS) this.chainIds.delete(this.chainIds.keys().next().value as string);
			}
			return chainId;
		}
		return this.chainIds.get(job.jobId) ?? null;
	}

	private rememberSubmissionMode(job: KurierJobStatus): string | null {
		const target = this.options.target;
		const known = target.kind === 'job' ? this.options.submissionMode : undefined;
		if (typeof job.submissionMode === 'string' && job.submissionMode) {
			this.submissionModes.set(job.jobId, job.submissionMode);
			if (this.submissionModes.size > MAX_REMEMBERED_CHAIN_IDS) this.submissionModes.delete(this.submissionModes.keys().next().value as string);
		}
		return this.submissionModes.get(job.jobId) || known || null;
	}

	/** Whether a frame about `jobId` concerns this trigger's own subscription. */
	private follows(jobId: string): boolean {
		const target = this.options.target;
		return target.kind === 'job' && target.jobId === jobId;
	}

	private subscribeFrame(): KurierClientFrame {
		const target = this.options.target;
		return target.kind === 'job' ? clientFrames.subscribe(target.jobId) : clientFrames.subscribeAll();
	}
}

/**
 * The socket every Kurier trigger with this URL and key shares, with what they keep together (see
 * KurierSocketShare): what the service said before a close tells a refused key from a limit (1008)
 * and a retired connection from a fault.
 */
function kurierSocketSpec(url: string, options: KurierJobStreamOptions, keepAlive: KeepAliveOptions): PooledSocketSpec<KurierSocketShare> {
	const shared = new KurierSocketShare();
	return {
		options: {
			url,
			redact: options.client.redact,
			logger: options.logger,
			keepAlive,
			backoff: options.backoff,
			isReadyFrame: isConnectedFrame,
			isFatalClose: (code, reason) => isKurierKeyRefusal(code, reason, shared.lastErrorFrame, shared.connected),
			isPlannedClose: (code, reason) => isKurierLifetimeClose(code, reason, shared.lastErrorFrame),
		},
		shared,
		socketListener: shared.socketListener,
	};
}
