/**
 * Follows jobs over REST that the WebSocket may no longer report on. Kurier's blog says a
 * subscription is cleaned up at Finalized, Aggregated or Failed, so a job with a destination chain
 * can go quiet on the socket after Finalized while it still has Aggregated to come. Each followed
 * job is read after 1 s, then at doubling intervals up to `maxDelayMs`, until the caller `forget`s
 * it (final) or `maxFollowMs` has passed. One timer for all jobs; no n8n types.
 */
export interface RestFollowerOptions {
	/** Reads these jobs now (the caller handles results and errors). */
	poll(jobIds: string[]): Promise<void>;
	initialDelayMs?: number;
	maxDelayMs?: number;
	/** A job still not final after this long is given up (reported through `onGiveUp`). */
	maxFollowMs?: number;
	/** At most this many jobs followed at once; the oldest is dropped. */
	maxJobs?: number;
	onGiveUp?(jobId: string): void;
}

interface Followed {
	since: number;
	delayMs: number;
	dueAt: number;
}

export const REST_FOLLOW_DEFAULTS: { initialDelayMs: number; maxDelayMs: number; maxFollowMs: number; maxJobs: number } = {
	initialDelayMs: 1_000,
	maxDelayMs: 60_000,
	// Aggregation takes minutes on most chains today, and took hours on some before.
	maxFollowMs: 3 * 60 * 60 * 1000,
	maxJobs: 1_000,
};

/** At most this much early, a job due soon is read with the ones due now. */
const BATCH_WINDOW_MS = 100;

export class KurierRestFollower {
	private readonly jobs = new Map<string, Followed>();
	private readonly settings: Required<Omit<RestFollowerOptions, 'poll' | 'onGiveUp'>>;
	private timer: NodeJS.Timeout | null = null;
	private polling = false;
	private closed = false;

	constructor(private readonly options: RestFollowerOptions) {
		this.settings = { ...REST_FOLLOW_DEFAULTS, ...definedOnly(options) };
	}

	get size(): number {
		return this.jobs.size;
	}

	follow(jobId: string): void {
		if (this.closed || this.jobs.has(jobId)) return;
		const now = Date.now();
		this.jobs.set(jobId, { since: now, delayMs: this.settings.initialDelayMs, dueAt: now + this.settings.initialDelayMs });
		if (this.jobs.size > this.settings.maxJobs) this.jobs.delete(this.jobs.keys().next().value as string);
		this.schedule();
	}

	forget(jobId: string): void {
		this.jobs.delete(jobId);
		if (this.jobs.size === 0) this.clearTimer();
	}

	close(): void {
		this.closed = true;
		this.jobs.clear();
		this.clearTimer();
	}

	private schedule(): void {
		this.clearTimer();
		if (this.closed || this.polling || this.jobs.size === 0) return;
		let next = Number.POSITIVE_INFINITY;
		for (const job of this.jobs.values()) next = Math.min(next, job.dueAt);
		this.timer = setTimeout(() => void this.run(), Math.max(0, next - Date.now()));
	}

	private async run(): Promise<void> {
		this.timer = null;
		const now = Date.now();
		// Jobs falling due a moment later ride along: one read round instead of two a millisecond
		// apart (jobs followed in one go rarely get the very same timestamp).
		const batchUntil = now + Math.min(BATCH_WINDOW_MS, this.settings.initialDelayMs / 2);
		const due: string[] = [];
		for (const [jobId, job] of this.jobs) {
			if (job.dueAt > batchUntil) continue;
			if (now - job.since >= this.settings.maxFollowMs) {
				this.jobs.delete(jobId);
				this.options.onGiveUp?.(jobId);
				continue;
			}
			job.delayMs = Math.min(job.delayMs * 2, this.settings.maxDelayMs);
			job.dueAt = now + job.delayMs;
			due.push(jobId);
		}
		this.polling = true;
		try {
			if (due.length > 0) await this.options.poll(due);
		} finally {
			this.polling = false;
			this.schedule();
		}
	}

	private clearTimer(): void {
		if (this.timer !== null) clearTimeout(this.timer);
		this.timer = null;
	}
}

function definedOnly(options: RestFollowerOptions): Partial<typeof REST_FOLLOW_DEFAULTS> {
	const picked: Partial<Record<keyof typeof REST_FOLLOW_DEFAULTS, number>> = {};
	for (const key of Object.keys(REST_FOLLOW_DEFAULTS) as (keyof typeof REST_FOLLOW_DEFAULTS)[]) {
		const value = options[key];
		if (typeof value === 'number') picked[key] = value;
	}
	return picked as Partial<typeof REST_FOLLOW_DEFAULTS>;
}
