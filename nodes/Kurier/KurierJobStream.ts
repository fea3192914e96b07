import type { NormalizedItem } from '../shared/NormalizedItem';
import { isoNow } from '../shared/NormalizedItem';
import type { ConnectionHandle, KeepAliveOptions } from '../shared/ReconnectingSocket';
import { SocketFatalError } from '../shared/ReconnectingSocket';
import type { PooledSocketSpec } from '../shared/SocketPool';
import { sharedSockets } from '../shared/SocketPool';
import type { IdCheckpoint } from '../shared/checkpoints';
import { IdFollowingStream } from '../shared/IdFollowingStream';
import type { FollowingStreamOptions } from '../shared/IdFollowingStream';
import type { Transition } from '../shared/TransitionTracker';
import { redactedMessage } from '../shared/redact';
import { isTooManyRequests, noteFailedRead } from '../shared/restBudget';
import type { KurierApiClient } from './KurierApiClient';
import { KurierRestFollower } from './KurierRestFollower';
import type { RestFollowerOptions } from './KurierRestFollower';
import { KurierSocketShare } from './KurierSocketShare';
import { KurierSubscription } from './KurierSubscription';
import type { KurierStreamTarget } from './KurierSubscription';
import type { KurierJobStatus, KurierSubmissionMode } from './protocol';
import { clientFrames, isKurierFinal, isKurierKeyRefusal, isKurierLifetimeClose, kurierQuietChecks, kurierStatusRank, needsRestFollowUp, normalizeKurierJob, parseServerFrame } from './protocol';
import { isConnectedFrame, isFirstSkipOf } from '../shared/frames';

export type { KurierStreamTarget } from './KurierSubscription';

export interface KurierJobStreamOptions extends FollowingStreamOptions {
	client: KurierApiClient;
	target: KurierStreamTarget;
	/** Only these statuses are emitted (empty: all). Filtered transitions are still tracked. */
	statuses?: readonly string[];
	keepAlive?: KeepAliveOptions;
	/** One job: how it was submitted, when known (a `direct` job ends at Finalized even with a chainId). */
	submissionMode?: KurierSubmissionMode;
	/** Timing of the REST follow-up after Finalized (defaults in KurierRestFollower). */
	restFollow?: Omit<RestFollowerOptions, 'poll' | 'onGiveUp'>;
}

const MAX_REMEMBERED_CHAIN_IDS = 10_000;
/**
 * `GET /jobs` at a catch-up: jobs updated since a little before the drop or the stop (clock skew),
 * newest update first, a bounded number of pages (20,000 jobs). After a stop, at most a day back:
 * a workflow switched off for a month does not replay the month.
 */
const LISTING_MARGIN_MS = 60_000;
const LISTING_PAGE_SIZE = 100;
const LISTING_MAX_PAGES = 200;
const LISTING_MAX_AGE_MS = 24 * 60 * 60_000;

/** Documented advice: a ping every 30 s. A pong (or any frame) must follow within 10 s. */
const DEFAULT_KEEP_ALIVE: KeepAliveOptions = { intervalMs: 30_000, timeoutMs: 10_000, pingFrame: clientFrames.ping() };

/**
 * Follows one Kurier job, or every job of the API key, on the shared socket (the id-following core
 * in nodes/shared/IdFollowingStream.ts), with Kurier's protocol: its subscription (KurierSubscription),
 * its frames, its REST job status. One job: its status is read over REST on every connection, so a
 * job that moved before the trigger listened still produces its item. All Jobs also reads `GET /jobs`
 * for jobs created since a drop, where the service offers that listing. A job that goes on to
 * aggregation is followed over REST from Finalized on (the socket may drop its subscription there).
 */
export class KurierJobStream extends IdFollowingStream<KurierJobStatus, KurierSocketShare> {
	private readonly subscription: KurierSubscription;
	private readonly statuses: ReadonlySet<string>;
	// Update frames may omit chainId; it decides whether Finalized is final, so remember it per job.
	private readonly chainIds = new Map<string, number | null>();
	// Jobs whose frames said how they were submitted (`submissionMode`, where the service gives it).
	private readonly submissionModes = new Map<string, string>();
	// What the job being handled right now said, or an earlier frame of it said (set by transitionOf,
	// read by afterAccept and normalize in the same call): two fields, not an object per frame.
	private currentChainId: number | null = null;
	private currentSubmissionMode: string | null = null;
	private lastServerError: string | null = null;
	private disconnectedAt: number | null = null;
	/** This trigger's onReady (subscribe, read its job) has run on some connection. */
	private readied = false;
	private listing: 'unknown' | 'available' | 'unavailable' = 'unknown';
	private readonly follower: KurierRestFollower;

	constructor(private readonly options: KurierJobStreamOptions) {
		super(options, { name: 'Kurier', noun: 'job', redact: options.client.redact, restBudget: options.client.restBudget });
		this.statuses = new Set(options.statuses ?? []);
		const keepAlive = options.keepAlive ?? DEFAULT_KEEP_ALIVE;
		const url = options.client.webSocketUrl;
		// The URL carries the key; the timings are part of the key so a test's short ones never mix with the defaults.
		const poolKey = `kurier ${url} ${JSON.stringify([keepAlive, options.backoff ?? null])}`;
		const lease = this.attach(sharedSockets.lease(poolKey, () => kurierSocketSpec(url, options, keepAlive), { logger: options.logger }));
		const target = options.target;
		if (target.kind === 'job') this.followsOnly = [target.jobId];
		this.subscription = new KurierSubscription(lease, target, {
			renewed: async () => await this.reconcile(target.kind === 'job' ? [target.jobId] : this.tracker.unfinishedIds(), 'reconnect'),
			isDone: () => target.kind === 'job' && this.tracker.isFinal(target.jobId),
			logger: options.logger,
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
			await super.start();
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
		if (target.kind !== 'job' || this.readied || this.isClosed()) return;
		try {
			await this.readNow(target.jobId);
		} catch (error) {
			// Deactivated meanwhile: nothing to report.
			if (this.isClosed()) return;
			throw error;
		}
	}

	protected override beforeClose(): void {
		this.follower.close();
		this.subscription.leave();
	}

	/** The job is final: the service dropped its subscription itself, so leave without unsubscribing. */
	protected override beforeLetGo(): void {
		this.follower.close();
		this.subscription.leave(false);
	}

	protected override onSocketFatal(error: Error): void {
		this.follower.close();
		this.subscription.leave();
		super.onSocketFatal(error);
	}

	protected override onDrop(): void {
		this.disconnectedAt ??= Date.now();
		this.subscription.onDrop();
	}

	protected override async onConnected(connection: ConnectionHandle): Promise<void> {
		await this.subscription.subscribe(connection);
	}

	/**
	 * The core's: one job is read at every connection (its unknown id or a refused key fails the
	 * activation, with the service's message); all jobs are reconciled. Then, for all jobs after a
	 * drop, the listing of jobs created meanwhile.
	 */
	protected override async onReady(connection: ConnectionHandle): Promise<void> {
		this.readied = true;
		await super.onReady(connection);
	}

	/**
	 * All Jobs after a drop or a stop: first `GET /jobs` for the jobs updated since then, where the
	 * service offers it. That brings the jobs created meanwhile (the socket never showed them, and no
	 * per-id read can know them) and, in a few pages, every open job that moved. When the listing is
	 * complete, an open job it does not show has not moved, and is not read; otherwise (no listing,
	 * a failed page, too many pages) the core reads each open job left over.
	 */
	protected override async catchUp(openIds: string[], reconnected: boolean): Promise<void> {
		const since = reconnected ? this.disconnectedAt : this.options.lastHeardBeforeStop;
		if (this.options.target.kind !== 'allJobs' || since == null || this.listing === 'unavailable') {
			await super.catchUp(openIds, reconnected);
			return;
		}
		const listed = await this.listJobsUpdatedSince(Math.max(since, Date.now() - LISTING_MAX_AGE_MS));
		if (listed === null) {
			await super.catchUp(openIds, reconnected);
			return;
		}
		if (reconnected) this.disconnectedAt = null;
		// Oldest update first, as the socket would have told them.
		listed.jobs.sort((a, b) => (Date.parse(a.updatedAt ?? '') || 0) - (Date.parse(b.updatedAt ?? '') || 0));
		for (const job of listed.jobs) this.handle(job, 'rest');
		const shown = new Set(listed.jobs.map((job) => job.jobId));
		const notShown = openIds.filter((id) => !shown.has(id));
		if (listed.complete) this.heardOf(notShown);
		else await super.catchUp(notShown, reconnected);
	}

	/**
	 * The key's jobs updated after `since` (less a margin), newest update first, page by page through
	 * the REST budget (a 429 waits and asks again). `complete`: every job updated since is among them
	 * (the last page came, or the service sorts by update and a page reached older ones). Null: no
	 * listing for this key (404/401: not asked again) or it failed.
	 */
	private async listJobsUpdatedSince(since: number): Promise<{ jobs: KurierJobStatus[]; complete: boolean } | null> {
		const query = { updatedAfter: new Date(since - LISTING_MARGIN_MS).toISOString(), sortBy: 'updatedAt' as const, sortOrder: 'desc' as const, pageSize: LISTING_PAGE_SIZE };
		const cutoff = since - LISTING_MARGIN_MS;
		const budget = this.options.client.restBudget;
		const jobs: KurierJobStatus[] = [];
		// Whether the answers so far are sorted by update, newest first (the docs name the parameters, not their effect).
		let newestFirst = true;
		let previousUpdate = Number.POSITIVE_INFINITY;
		for (let page = 1; page <= LISTING_MAX_PAGES; ) {
			await budget.take(this.requests.signal);
			if (this.isClosed()) return null;
			let answer: Awaited<ReturnType<KurierApiClient['listJobs']>>;
			try {
				answer = await this.options.client.listJobs({ ...query, page }, this.requests.signal);
			} catch (error) {
				if (this.requests.signal.aborted) return null;
				noteFailedRead(budget, error);
				if (isTooManyRequests(error)) continue;
				this.options.logger?.warn(`Kurier: could not list the jobs updated while no socket listened: ${redactedMessage(error, this.options.client.redact)}`);
				return null;
			}
			if (answer === 'unavailable') {
				this.listing = 'unavailable';
				this.options.logger?.info('Kurier: GET /jobs is not available to this key; jobs created while disconnected show up with their next update');
				return null;
			}
			this.listing = 'available';
			let reachedOlder = false;
			for (const job of answer.jobs) {
				const updated = Date.parse(job.updatedAt ?? '');
				if (Number.isNaN(updated) || updated > previousUpdate) newestFirst = false;
				else previousUpdate = updated;
				if (!Number.isNaN(updated) && updated <= cutoff) reachedOlder = true;
				else jobs.push(job);
			}
			if (!answer.hasMore || answer.jobs.length === 0 || (newestFirst && reachedOlder)) return { jobs, complete: true };
			page += 1;
		}
		return { jobs, complete: false };
	}

	protected override quietChecksOf(status: string): number {
		return kurierQuietChecks(status);
	}

	protected override async readRecord(jobId: string, signal: AbortSignal): Promise<KurierJobStatus> {
		return await this.options.client.getJobStatus(jobId, signal);
	}

	protected override onServiceFrame(raw: unknown): void {
		const parsed = parseServerFrame(raw);
		if (!parsed.ok) {
			if (isFirstSkipOf(raw)) this.options.logger?.warn(this.options.client.redact(`Kurier: skipped a ${parsed.reason}`));
			return;
		}
		const frame = parsed.frame;
		switch (frame.type) {
			case 'job-status-update':
				this.handle(frame.data, 'websocket');
				return;
			case 'error': {
				// An error about another trigger's job (same socket) is that trigger's business.
				if (frame.jobId !== undefined && !this.subscription.concerns(frame.jobId)) return;
				// Whether this trigger's own subscribe was waiting for its answer (an error without a job
				// id answers whichever subscribe on the shared socket was waiting).
				const wasAwaitingAnswer = this.subscription.awaitingAnswer;
				this.subscription.answer();
				this.onErrorFrame(frame.message, frame.code, frame.retryAfterSeconds, frame.jobId, wasAwaitingAnswer);
				return;
			}
			case 'subscribed':
			case 'subscribed-all':
				this.subscription.onConfirmation(frame.type === 'subscribed-all', frame.jobId);
				return;
			default:
				// connected, pong…: nothing to do beyond proving the link is alive.
				return;
		}
	}

	private onErrorFrame(message = 'no message', code?: string, retryAfterSeconds?: number, jobId?: string, wasAwaitingAnswer = false): void {
		const text = this.options.client.redact(`Kurier reported an error${code ? ` (${code})` : ''}: ${message}`);
		this.lastServerError = text;
		const target = this.options.target;
		if (retryAfterSeconds !== undefined) {
			this.subscription.onRateLimited(retryAfterSeconds, jobId, wasAwaitingAnswer, text);
			return;
		}
		if (target.kind === 'job' && jobId === target.jobId && (code === 'JOB_NOT_FOUND' || code === 'INVALID_JOB_ID')) {
			this.socket?.fail(new SocketFatalError(`${text} (job ${target.jobId})`, 'refused'));
			return;
		}
		this.options.logger?.warn(text);
	}

	protected override transitionOf(job: KurierJobStatus): Transition | null {
		const target = this.options.target;
		if (target.kind === 'job' && job.jobId !== target.jobId) return null;
		const chainId = (this.currentChainId = this.rememberChainId(job));
		const submissionMode = (this.currentSubmissionMode = this.rememberSubmissionMode(job));
		return { id: job.jobId, transitionKey: job.status, rank: kurierStatusRank(job.status), isFinal: isKurierFinal(job.status, chainId, submissionMode) };
	}

	protected override afterAccept(job: KurierJobStatus, transition: Transition, accepted: IdCheckpoint | null): void {
		if (transition.isFinal) this.follower.forget(job.jobId);
		if (accepted === null) return;
		if (transition.isFinal) {
			this.chainIds.delete(job.jobId);
			this.submissionModes.delete(job.jobId);
		} else if (needsRestFollowUp(job.status, this.currentChainId, this.currentSubmissionMode)) {
			this.follower.follow(job.jobId);
		}
	}

	protected override emits(item: NormalizedItem): boolean {
		return this.statuses.size === 0 || this.statuses.has(item.status);
	}

	protected override normalize(job: KurierJobStatus): NormalizedItem {
		const submissionMode = this.currentSubmissionMode;
		const known = submissionMode === 'direct' || submissionMode === 'attestation' ? submissionMode : undefined;
		return normalizeKurierJob(job, isoNow(), known, this.currentChainId);
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
