/** Capped exponential steps: `initialMs`, then times `factor` per failed attempt, never above `maxMs`. */
export interface BackoffSteps {
	initialMs: number;
	maxMs: number;
	factor: number;
}

/**
 * The wait before the next attempt after `failedAttempts` failures, with "equal jitter": never less
 * than half the step, so a herd of triggers spreads out without hammering the service.
 */
export function backoffDelayMs(steps: BackoffSteps, failedAttempts: number, random: () => number = Math.random): number {
	const exponential = Math.min(steps.maxMs, steps.initialMs * steps.factor ** failedAttempts);
	return Math.round(exponential / 2 + (random() * exponential) / 2);
}
