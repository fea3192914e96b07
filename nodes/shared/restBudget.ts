import { createHash } from 'node:crypto';

import { ServiceApiError } from './http';

/**
 * How fast the reconciles and sweeps of one API key may read a service's REST API, shared by every
 * trigger of that key in this n8n process: a token bucket (a burst, then a steady rate), paused as a
 * whole when the service answers 429 with a Retry-After. Live WebSocket traffic never waits for it.
 */
export interface RestBudgetOptions {
	ratePerSecond: number;
	burst: number;
	now?: () => number;
}

const DEFAULT_OPTIONS: RestBudgetOptions = { ratePerSecond: 5, burst: 10 };

export class RestBudget {
	private tokens: number;
	private refilledAt: number;
	private pausedUntil = 0;
	private readonly now: () => number;

	constructor(private readonly options: RestBudgetOptions = DEFAULT_OPTIONS) {
		this.now = options.now ?? Date.now;
		this.tokens = options.burst;
		this.refilledAt = this.now();
	}

	/** Resolves when a read may go (its token taken), or as soon as `signal` aborts (nothing taken). */
	async take(signal: AbortSignal): Promise<void> {
		for (;;) {
			if (signal.aborted) return;
			const waitMs = this.waitMs();
			if (waitMs === 0) {
				this.tokens -= 1;
				return;
			}
			await sleepUnlessAborted(waitMs, signal);
		}
	}

	/** The service said "too many requests": nothing of this key's budget goes before `ms` has passed. */
	pause(ms: number): void {
		this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
	}

	private waitMs(): number {
		const now = this.now();
		if (now < this.pausedUntil) return this.pausedUntil - now;
		this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.options.ratePerSecond);
		this.refilledAt = now;
		if (this.tokens >= 1) return 0;
		return Math.ceil(((1 - this.tokens) / this.options.ratePerSecond) * 1000);
	}
}

const budgets = new Map<string, RestBudget>();

/** The budget of one service key in this process (keyed by a hash: the key itself is not kept). */
export function restBudgetFor(service: string, key: string): RestBudget {
	const id = `${service}:${createHash('sha256').update(key).digest('hex')}`;
	let budget = budgets.get(id);
	if (!budget) {
		budget = new RestBudget();
		budgets.set(id, budget);
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
	if (error instanceof ServiceApiError && error.httpStatus === 429) budget.pause(error.retryAfterMs ?? RATE_LIMIT_PAUSE_MS);
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
