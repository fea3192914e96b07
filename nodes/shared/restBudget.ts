import { createHash } from 'node:crypto';

import { ServiceApiError } from './http';

/**
 * How fast the reconciles and REST checks of one API key may read a service's REST API, shared by
 * every trigger of that key in this n8n process: a token bucket (a burst, then a steady rate) whose
 * rate adapts. Services do not publish their limits (Kurier raises them on request), so it starts
 * at a rate every key allows and, while reads wait for it and no 429 came, raises itself by half
 * every second up to `maxRatePerSecond`; a 429 halves it and pauses every read for the Retry-After.
 * A known limit (the credential's) is both the start and the ceiling. Live WebSocket traffic never
 * waits for it.
 */
export interface RestBudgetOptions {
	/** Reads per second at first. */
	ratePerSecond: number;
	burst: number;
	/** How far the rate may raise itself while no 429 comes; default: it stays at `ratePerSecond`. */
	maxRatePerSecond?: number;
	now?: () => number;
}

/** What every key allows, as far as we know (the rate before this package learnt to adapt). */
const STARTING_RATE_PER_SECOND = 5;
/** How far an unknown limit is probed: 10,000 ids read in about a minute and a half. */
const LEARNING_CEILING_PER_SECOND = 120;
const DEFAULT_BURST = 10;
/** A change of the rate is followed by this long at the new rate before it may rise again. */
const ADAPT_EVERY_MS = 1_000;
const RAISE_FACTOR = 1.5;
/** After a 429, the rate does not rise again for this long past its Retry-After. */
const CALM_AFTER_LIMIT_MS = 10_000;
const MIN_RATE_PER_SECOND = 0.5;

export class RestBudget {
	private tokens: number;
	private refilledAt: number;
	private pausedUntil = 0;
	private rate: number;
	private maxRate: number;
	private changedAt: number;
	private calmUntil = 0;
	private readonly now: () => number;

	constructor(private readonly options: RestBudgetOptions = { ratePerSecond: STARTING_RATE_PER_SECOND, burst: DEFAULT_BURST }) {
		this.now = options.now ?? Date.now;
		this.tokens = options.burst;
		this.refilledAt = this.now();
		this.changedAt = this.refilledAt;
		this.rate = options.ratePerSecond;
		this.maxRate = options.maxRatePerSecond ?? options.ratePerSecond;
	}

	/** Reads per second allowed now. */
	get ratePerSecond(): number {
		return this.rate;
	}

	/** A new ceiling (the credential's known limit changed): the rate never goes above it from now on. */
	limitTo(maxRatePerSecond: number, startRatePerSecond: number): void {
		if (maxRatePerSecond === this.maxRate) return;
		this.maxRate = maxRatePerSecond;
		this.rate = Math.min(startRatePerSecond, maxRatePerSecond);
		this.changedAt = this.now();
	}

	/** Resolves when a read may go (its token taken), or as soon as `signal` aborts (nothing taken). */
	async take(signal: AbortSignal): Promise<void> {
		for (;;) {
			if (signal.aborted) return;
			let waitMs = this.waitMs();
			if (waitMs > 0 && this.raiseIfCalm()) waitMs = this.waitMs();
			if (waitMs === 0) {
				this.tokens -= 1;
				return;
			}
			await sleepUnlessAborted(waitMs, signal);
		}
	}

	/** The service said "too many requests": the rate halves, and nothing of this key goes before `ms` has passed. */
	tooManyRequests(ms: number): void {
		const now = this.now();
		this.pausedUntil = Math.max(this.pausedUntil, now + ms);
		this.calmUntil = this.pausedUntil + CALM_AFTER_LIMIT_MS;
		// Reads in flight at once come back limited together: one halving for all of them.
		if (now - this.changedAt < ADAPT_EVERY_MS && this.rate < this.maxRate) return;
		this.rate = Math.max(MIN_RATE_PER_SECOND, this.rate / 2);
		this.changedAt = now;
		this.tokens = Math.min(this.tokens, 1);
	}

	/** Reads are waiting for the budget, not for the service: try a higher rate, unless a 429 came lately. */
	private raiseIfCalm(): boolean {
		const now = this.now();
		if (this.rate >= this.maxRate || now < this.calmUntil || now - this.changedAt < ADAPT_EVERY_MS) return false;
		this.rate = Math.min(this.maxRate, this.rate * RAISE_FACTOR);
		this.changedAt = now;
		return true;
	}

	private waitMs(): number {
		const now = this.now();
		if (now < this.pausedUntil) return this.pausedUntil - now;
		const burst = Math.max(this.options.burst, this.rate / 4);
		this.tokens = Math.min(burst, this.tokens + ((now - this.refilledAt) / 1000) * this.rate);
		this.refilledAt = now;
		if (this.tokens >= 1) return 0;
		return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
	}
}

const budgets = new Map<string, RestBudget>();

/**
 * The budget of one service key in this process (keyed by a hash: the key itself is not kept).
 * `knownLimit`: the key's requests per second where the user knows it (credential); 0 or absent:
 * learnt, starting at what every key allows.
 */
export function restBudgetFor(service: string, key: string, knownLimit = 0): RestBudget {
	const id = `${service}:${createHash('sha256').update(key).digest('hex')}`;
	const start = knownLimit > 0 ? knownLimit : STARTING_RATE_PER_SECOND;
	const ceiling = knownLimit > 0 ? knownLimit : LEARNING_CEILING_PER_SECOND;
	let budget = budgets.get(id);
	if (!budget) {
		budget = new RestBudget({ ratePerSecond: start, burst: DEFAULT_BURST, maxRatePerSecond: ceiling });
		budgets.set(id, budget);
	} else {
		budget.limitTo(ceiling, start);
	}
	return budget;
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
	return new Promise((resolve) => {
		const done = () => {
			clearTimeout(timer);
			signal.removeEventListener('abort', done);
			resolve();
		};
		const timer = setTimeout(done, ms);
		signal.addEventListener('abort', done, { once: true });
	});
}

/** The next sweep's delay: the interval, give or take a fifth, so triggers of one key spread out. */
export function jitteredIntervalMs(intervalMs: number, random: () => number = Math.random): number {
	return Math.round(intervalMs * (0.8 + 0.4 * random()));
}

/** How often a stream trigger reads its ids not final yet over REST while connected, unless told otherwise. */
export const DEFAULT_REST_CHECK_INTERVAL_MS = 5 * 60_000;
/** A 429 without Retry-After: how long the budget's reads wait. */
const RATE_LIMIT_PAUSE_MS = 30_000;

/** After a REST read failed: "too many requests" pauses every read of the budget (for its Retry-After). */
export function noteFailedRead(budget: RestBudget, error: unknown): void {
	if (isTooManyRequests(error)) budget.tooManyRequests(error.retryAfterMs ?? RATE_LIMIT_PAUSE_MS);
}

export function isTooManyRequests(error: unknown): error is ServiceApiError {
	return error instanceof ServiceApiError && error.httpStatus === 429;
}

/**
 * Runs `check` every `intervalMs` (jittered; default 5 min; 0: never) for as long as the socket's
 * current connection lasts: a drop or a close cancels it, and the next ready connection starts it again.
 */
export function scheduleRestChecks(socket: { scheduleOnConnection(delayMs: number, callback: () => void): void }, intervalMs: number | undefined, check: () => Promise<void>): void {
	const every = intervalMs ?? DEFAULT_REST_CHECK_INTERVAL_MS;
	if (every <= 0) return;
	socket.scheduleOnConnection(jitteredIntervalMs(every), () => {
		void check().then(() => scheduleRestChecks(socket, intervalMs, check));
	});
}
